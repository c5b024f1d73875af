import { StringDecoder } from 'node:string_decoder';
import { CocoonError, errorMessage } from '../errors.ts';
import { ChunkStreamParser } from './chunk-stream.ts';
import { createEngineClient, type EngineResponse } from './engine-client.ts';
import type { ChatCompletionChunk, ChatCompletionRequest } from './openai-types.ts';

/**
 * What a worker talks to: any OpenAI-compatible engine (vLLM, SGLang, llama.cpp's llama-server,
 * Ollama's /v1, node-llama-cpp's server, or the built-in test engine). Streaming is always used
 * towards the engine, so the worker can relay the first token at once and stop the engine when
 * the client goes away.
 */
export interface InferenceBackend {
  readonly baseUrl: string;
  listModels(signal?: AbortSignal): Promise<string[]>;
  /** Yields the engine's chunks; the last one carries usage (include_usage is forced on). */
  streamChat(request: ChatCompletionRequest, signal?: AbortSignal): AsyncIterable<ChatCompletionChunk>;
  /**
   * The same stream as raw `data:` payloads (JSON text), for relays that forward chunks without
   * re-serializing them — the worker's hot path. Payloads that arrived together come as one
   * batch, so a fast engine's burst travels as one message.
   */
  streamChatRaw(request: ChatCompletionRequest, signal?: AbortSignal): AsyncIterable<string[]>;
  /**
   * POSTs a JSON body to an engine path (`/v1/completions`, `/v1/embeddings`…) and resolves with
   * the engine's response whatever its status, for relays that pass the HTTP exchange on as is.
   */
  post(path: string, body: string, signal?: AbortSignal): Promise<EngineResponse>;
}

export type { EngineResponse } from './engine-client.ts';

export interface OpenAiBackendOptions {
  /** Engine root, with or without a trailing /v1 (Ollama: http://127.0.0.1:11434). */
  baseUrl: string;
  apiKey?: string;
  /** Time to the response headers; generation itself may take longer. */
  timeoutMs?: number;
}

export function createOpenAiCompatibleBackend(opts: OpenAiBackendOptions): InferenceBackend {
  let root: URL;
  try {
    root = new URL(opts.baseUrl);
  } catch {
    throw new CocoonError('bad_backend_url', `backend URL "${opts.baseUrl}" is not a valid URL`, { hint: 'pass e.g. --backend http://127.0.0.1:8000 (vLLM) or http://127.0.0.1:11434 (Ollama)' });
  }
  if (root.protocol !== 'http:' && root.protocol !== 'https:') {
    throw new CocoonError('bad_backend_url', `backend URL must be http(s), got ${root.protocol}`);
  }
  const base = root.href.replace(/\/+$/, '').replace(/\/v1$/, '');
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (opts.apiKey) headers.authorization = `Bearer ${opts.apiKey}`;
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const engine = createEngineClient({ base, headers, timeoutMs });

  async function call(path: string, init: RequestInit, signal?: AbortSignal): Promise<Response> {
    const timeout = AbortSignal.timeout(timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    let res: Response;
    try {
      res = await fetch(`${base}${path}`, { ...init, headers, signal: combined });
    } catch (err) {
      if (signal?.aborted) throw new CocoonError('cancelled', 'request cancelled', { cause: err });
      if (timeout.aborted) throw new CocoonError('engine_timeout', `inference engine at ${base} did not answer within ${timeoutMs} ms`, { cause: err });
      throw new CocoonError('engine_unreachable', `inference engine at ${base} is unreachable: ${errorMessage((err as Error).cause ?? err)}`, {
        hint: 'start the engine (vLLM, SGLang, llama-server, Ollama) or check the --backend URL',
        cause: err,
      });
    }
    if (!res.ok) {
      const text = await res.text().catch(() => '');
      let message = text.slice(0, 500);
      try {
        message = (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? message;
      } catch {
        // not JSON: keep the raw text
      }
      throw new CocoonError(res.status === 404 ? 'engine_not_found' : 'engine_error', `inference engine answered ${res.status}: ${message}`);
    }
    return res;
  }

  return {
    baseUrl: base,
    async listModels(signal) {
      const res = await call('/v1/models', { method: 'GET' }, signal);
      const body = (await res.json()) as { data?: Array<{ id?: unknown }> };
      if (!Array.isArray(body.data)) throw new CocoonError('engine_error', `inference engine at ${base} returned no model list`);
      return body.data.map((m) => String(m.id));
    },
    async *streamChat(request, signal) {
      for await (const batch of this.streamChatRaw(request, signal)) for (const data of batch) yield parseChunk(data);
    },
    streamChatRaw(request, signal) {
      return streamRaw(engine.post('/v1/chat/completions', JSON.stringify({ ...request, stream: true, stream_options: { include_usage: true } }), signal), signal);
    },
    post(path, body, signal) {
      return engine.post(path, body, signal);
    },
  };
}

function parseChunk(data: string): ChatCompletionChunk {
  let chunk: ChatCompletionChunk & { error?: { message?: string } };
  try {
    chunk = JSON.parse(data);
  } catch {
    throw new CocoonError('engine_error', `inference engine sent a malformed stream event: ${data.slice(0, 200)}`);
  }
  if (chunk.error) throw new CocoonError('engine_error', `inference engine failed mid-stream: ${chunk.error.message ?? 'unknown error'}`);
  return chunk;
}

/** Streams chunk payloads (SSE `data:` or JSON lines) from a POST. */
async function* streamRaw(response: Promise<EngineResponse>, signal?: AbortSignal): AsyncIterable<string[]> {
  yield* engineChunks(await response, signal);
}

/** The whole body, up to `limit` bytes (beyond: the exchange is dropped and this throws). */
export async function readAll(res: EngineResponse, limit: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let size = 0;
  for (let got = await res.read(); got !== null; got = await res.read()) {
    for (const c of got) size += c.length;
    if (size > limit) {
      res.destroy();
      throw new CocoonError('engine_error', `inference engine answer is larger than ${limit} bytes`);
    }
    parts.push(...got);
  }
  return Buffer.concat(parts);
}

/** The chunk payloads of an engine's streamed answer; a non-200 status or an error event throws. */
export async function* engineChunks(res: EngineResponse, signal?: AbortSignal): AsyncIterable<string[]> {
  if (res.status !== 200) {
    const text = (await readAll(res, 64 * 1024).catch(() => Buffer.alloc(0))).toString('utf8');
    let message = text.slice(0, 500);
    try { message = (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? message; } catch { /* not JSON */ }
    throw new CocoonError(res.status === 404 ? 'engine_not_found' : 'engine_error', `inference engine answered ${res.status}: ${message}`);
  }
  // SSE or JSON lines, whichever this engine answers with (chunk-stream.ts).
  const parser = new ChunkStreamParser();
  const text = new StringDecoder('utf8');
  const checked = (batch: string[]) => {
    for (const data of batch) if (data.startsWith('{"error"')) parseChunk(data); // throws with the engine's message
    return batch;
  };
  let ended = false;
  try {
    // Everything that arrived since the last read is one batch: a fast engine's burst is one answer part.
    for (let parts = await res.read(); parts !== null; parts = await res.read()) {
      const batch = checked(parser.push(text.write(parts.length === 1 ? parts[0]! : Buffer.concat(parts))));
      if (batch.length) yield batch;
      // After [DONE] the response is read to its end rather than abandoned: leaving early would
      // close the engine connection and cost a new one per request.
    }
    ended = true;
    const last = checked([...parser.push(text.end()), ...parser.end()]);
    if (last.length) yield last;
  } catch (err) {
    if (err instanceof CocoonError) throw err;
    if (signal?.aborted) throw new CocoonError('cancelled', 'request cancelled', { cause: err });
    throw new CocoonError('engine_error', `inference engine stream broke: ${errorMessage(err)}`, { cause: err });
  } finally {
    if (!ended || !parser.complete) res.destroy();
  }
  if (!parser.complete) throw new CocoonError('engine_error', parser.format === 'json-lines' ? 'inference engine ended the stream mid-line' : 'inference engine closed the stream before [DONE]');
}

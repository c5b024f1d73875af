import { CocoonError } from '../errors.ts';
import { engineChunks, readAll, type InferenceBackend } from '../inference/backend.ts';
import { chatCompletionRequestSchema, embeddingRequestSchema, textCompletionRequestSchema, type Usage } from '../inference/openai-types.ts';
import { tokenCountsFromUsage } from '../payments/pricing.ts';
import { decodeHttpRequest } from '../protocol/http-payload.ts';
import { ZERO_TOKENS } from '../protocol/messages.ts';
import type { TokenCounts } from '../payments/pricing.ts';
import type { AnswerWriter } from './answer-writer.ts';

/**
 * One query replayed against the worker's engine, as the reference worker does with the
 * `http.request` it receives: the path and JSON body go to the engine unchanged, except that
 * chat and text completions are always streamed with usage (the worker relays the first token
 * at once and bills from the engine's own count). The engine's answer comes back whole: its
 * chunks, its non-streamed body (embeddings), or its refusal — a 4xx is the engine judging the
 * request, relayed with its status and message rather than reported as a worker failure.
 */
export type EngineEndpoint = 'chat' | 'completions' | 'embeddings';

const ENDPOINTS: Record<string, { kind: EngineEndpoint; schema: { parse(v: unknown): unknown } }> = {
  '/v1/chat/completions': { kind: 'chat', schema: chatCompletionRequestSchema },
  '/v1/completions': { kind: 'completions', schema: textCompletionRequestSchema },
  '/v1/embeddings': { kind: 'embeddings', schema: embeddingRequestSchema },
};

export interface EngineQuery {
  kind: EngineEndpoint;
  path: string;
  body: Record<string, unknown>;
  /** What the requester asked for (the engine is always asked to stream chat and completions). */
  stream: boolean;
  includeUsage: boolean;
}

/** Refusals beyond this are cut: an error body is a message, not a payload. */
const REFUSAL_BYTES = 64 * 1024;
/** Embeddings of many long inputs: bounded, and split into frame-sized parts by the writer. */
const WHOLE_BODY_BYTES = 64 * 1024 * 1024;

/** Decodes a query's http.request; throws (→ a bad-request answer) when it is not one we serve. */
export function parseEngineQuery(bytes: Buffer): EngineQuery {
  const http = decodeHttpRequest(bytes);
  const path = http.url.split('?')[0]!;
  const endpoint = ENDPOINTS[path];
  if (http.method !== 'POST' || !endpoint) throw new Error(`${http.method} ${http.url} is not served; this worker serves POST ${Object.keys(ENDPOINTS).join(', ')}`);
  const body = endpoint.schema.parse(JSON.parse(http.body.toString('utf8'))) as Record<string, unknown>;
  const options = body.stream_options as { include_usage?: boolean } | null | undefined;
  return { kind: endpoint.kind, path, body, stream: body.stream === true && endpoint.kind !== 'embeddings', includeUsage: options?.include_usage === true };
}

/** Runs the query on the engine and writes the whole answer; `refused` when the engine said 4xx. */
/** Runs one query on the engine; returns how it ended and the tokens it counted (for the worker's stats). */
export async function runOnEngine(backend: InferenceBackend, q: EngineQuery, writer: AnswerWriter, signal: AbortSignal): Promise<{ outcome: 'completed' | 'refused'; counts: TokenCounts }> {
  // Running usage in every chunk (vLLM's and SGLang's continuous_usage_stats): an answer stopped
  // or cut midway is charged for exactly what was produced, by the engine's own count.
  const engineBody = q.kind === 'embeddings' ? q.body : { ...q.body, stream: true, stream_options: { include_usage: true, continuous_usage_stats: true } };
  const res = await backend.post(q.path, JSON.stringify(engineBody), signal);
  const status = res.status;
  const contentType = res.contentType ?? 'application/json';
  if (status !== 200) {
    const bytes = await readAll(res, REFUSAL_BYTES);
    if (status >= 400 && status < 500) {
      writer.whole(status, res.statusText, contentType, bytes, ZERO_TOKENS);
      return { outcome: 'refused', counts: ZERO_TOKENS };
    }
    // 5xx: this engine is in trouble; the proxy may retry on another worker.
    throw new CocoonError('engine_error', `inference engine answered ${status}: ${engineMessage(bytes)}`);
  }
  if (q.kind === 'embeddings') {
    const bytes = await readAll(res, WHOLE_BODY_BYTES);
    let usage: Partial<Usage> | undefined;
    try {
      usage = (JSON.parse(bytes.toString('utf8')) as { usage?: Partial<Usage> }).usage;
    } catch {
      throw new CocoonError('engine_error', 'inference engine answered embeddings that are not JSON');
    }
    if (typeof usage?.prompt_tokens !== 'number') throw new CocoonError('engine_no_usage', 'the inference engine reported no token usage for the embeddings');
    const tokens = tokenCountsFromUsage({ prompt_tokens: usage.prompt_tokens, completion_tokens: 0, ...(usage.prompt_tokens_details && { prompt_tokens_details: usage.prompt_tokens_details }) });
    writer.whole(200, 'OK', 'application/json', bytes, tokens);
    return { outcome: 'completed', counts: tokens };
  }
  // Chunks are relayed as the engine wrote them, those that arrived together in one answer part;
  // only the usage chunk is parsed (and, for a non-stream request, the assembly).
  for await (const batch of engineChunks(res, signal)) writer.chunks(batch);
  const usage = writer.usageSoFar();
  if (!usage) throw new CocoonError('engine_no_usage', 'the inference engine reported no token usage; enable usage reporting (stream_options.include_usage)');
  const counts = tokenCountsFromUsage(usage);
  writer.finish(counts);
  return { outcome: 'completed', counts };
}

function engineMessage(bytes: Buffer): string {
  const text = bytes.toString('utf8');
  try {
    return (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? text.slice(0, 500);
  } catch {
    return text.slice(0, 500);
  }
}

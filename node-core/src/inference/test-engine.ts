import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger, type Logger } from '../log.ts';
import { DeterministicGenerator } from './generator.ts';
import { hardenServer, HttpError, jsonDepth, MAX_JSON_DEPTH, readBody, requestTarget, safeHandler } from '../http/safe-http.ts';
import { renderOpenAiError, sendError, sendJson, startSse, writeSse } from './http-util.ts';
import { chatCompletionBody, chatStreamRounds, planChat, renderPrompt, usageOf } from './engine-chat.ts';
import { completionBody, completionStreamRounds, completionUsage, parseCompletionRequest, planCompletion } from './engine-completions.ts';
import { Embedder, parseEmbeddingRequest } from './engine-embeddings.ts';
import { parseEngineChatRequest } from './engine-request.ts';
import type { ParseResult, Usage } from './openai-types.ts';
import { PrefixCache } from './prefix-cache.ts';
import { encodeFairly, loadQwen3Tokenizer } from './tokenizer.ts';

/**
 * The embedded default inference engine: an OpenAI-compatible server with real Qwen3
 * tokenization and deterministic output. It stands in for vLLM/SGLang where there is no GPU
 * (tests, `cocoon up` without --backend); the worker talks to it exactly as to a real engine.
 */
export interface TestEngineOptions {
  host?: string;
  port?: number;
  model?: string;
  /** Delay before each output token, to emulate a real engine's decode speed. */
  tokenDelayMs?: number;
  /**
   * How streamed answers are written: SSE (default, what OpenAI-compatible servers send) or JSON
   * lines (one chunk object per line, no [DONE]), to test workers against both kinds of engine.
   */
  streamFormat?: 'sse' | 'json-lines';
  log?: Logger;
  /**
   * Endpoints beyond chat, both on by default. Turn one off to stand in for an engine that does
   * not serve it (a chat-only vLLM model has no embeddings): its path then answers 404.
   */
  serve?: { completions?: boolean; embeddings?: boolean };
}

export interface TestEngineStats {
  requests: number;
  completed: number;
  cancelled: number;
  active: number;
}

export interface TestEngine {
  url: string;
  model: string;
  stats(): TestEngineStats;
  stop(): Promise<void>;
}

export const DEFAULT_MODEL = 'Qwen/Qwen3-0.6B';
const BODY_LIMIT = 4 * 1024 * 1024;

export async function startTestEngine(opts: TestEngineOptions = {}): Promise<TestEngine> {
  const model = opts.model ?? DEFAULT_MODEL;
  const tokenDelayMs = opts.tokenDelayMs ?? 0;
  const log = opts.log ?? createLogger('test-engine');
  const tokenizer = await loadQwen3Tokenizer();
  const generator = new DeterministicGenerator(tokenizer);
  const prefixCache = new PrefixCache();
  const alternatives = generator.vocabulary.map((w) => ` ${w}`);
  const sendModelNotFound = (res: ServerResponse, id: string) =>
    sendError(res, 404, `model "${id}" is not served here; this engine serves "${model}"`, 'invalid_request_error', 'model', 'model_not_found');
  const embedder = new Embedder(tokenizer);
  const serve = { completions: opts.serve?.completions ?? true, embeddings: opts.serve?.embeddings ?? true };
  const stats: TestEngineStats = { requests: 0, completed: 0, cancelled: 0, active: 0 };
  const created = Math.floor(Date.now() / 1000);
  let nextId = 0;

  /**
   * Paces and writes a prepared answer: one delay per round that carries tokens, stopping when the
   * client goes away. Non-streaming answers wait for the longest choice, then go out whole.
   */
  async function deliver(res: ServerResponse, id: string, answer: {
    stream: boolean; body: () => unknown; rounds: () => Array<Array<{ chunk: unknown; token: boolean }>>; longest: number; usageChunk: unknown;
    /** vLLM's `stream_options.continuous_usage_stats`: every chunk carries the usage so far (the final usage here). */
    runningUsage?: Usage | null;
  }): Promise<void> {
    stats.requests++;
    stats.active++;
    let cancelled = false;
    res.on('close', () => {
      if (!res.writableFinished) cancelled = true;
    });
    try {
      if (!answer.stream) {
        if (tokenDelayMs > 0) await sleep(tokenDelayMs * answer.longest);
        if (cancelled) return void stats.cancelled++;
        sendJson(res, 200, answer.body());
        stats.completed++;
        return;
      }
      const jsonLines = opts.streamFormat === 'json-lines';
      // JSON-lines engines write one chunk object per line and no [DONE] (workers accept both).
      const writeEvent = (data: unknown) => {
        if (!jsonLines) return writeSse(res, data);
        if (data !== '[DONE]') res.write(`${JSON.stringify(data)}\n`);
      };
      if (jsonLines) res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-cache' });
      else startSse(res);
      // At zero delay the whole answer exists at once: one socket write instead of one per token,
      // as a real engine's HTTP layer coalesces what is ready. With a delay, tokens leave one by one.
      if (tokenDelayMs === 0) res.cork();
      const emitted = new RunningUsage();
      for (const round of answer.rounds()) {
        if (tokenDelayMs > 0 && round.some((e) => e.token)) await sleep(tokenDelayMs);
        if (cancelled) {
          stats.cancelled++;
          log.info({ id }, 'generation cancelled: client went away');
          return;
        }
        for (const event of round) {
          if (event.token) emitted.count(event.chunk);
          writeEvent(answer.runningUsage ? { ...(event.chunk as object), usage: emitted.usage(answer.runningUsage) } : event.chunk);
        }
      }
      if (answer.usageChunk) writeEvent(answer.usageChunk);
      writeEvent('[DONE]');
      res.end();
      if (tokenDelayMs === 0) res.uncork();
      stats.completed++;
    } finally {
      stats.active--;
    }
  }

  async function readRequest<T extends { model: string }>(req: IncomingMessage, res: ServerResponse, parse: (raw: string) => ParseResult<T>): Promise<T | null> {
    // Size and nesting are checked before parsing (safe-http throws 413/400 as HttpError).
    const raw = (await readBody(req, BODY_LIMIT)).toString('utf8');
    const depth = jsonDepth(raw);
    if (depth > MAX_JSON_DEPTH) throw new HttpError(400, `request body is JSON nested ${depth} levels deep; at most ${MAX_JSON_DEPTH} are accepted`, 'json_too_deep');
    const parsed = parse(raw);
    if (!parsed.ok) return void sendJson(res, parsed.status, parsed.body), null;
    if (parsed.value.model !== model) return void sendModelNotFound(res, parsed.value.model), null;
    return parsed.value;
  }

  async function chat(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const request = await readRequest(req, res, parseEngineChatRequest);
    if (!request) return;
    const promptText = renderPrompt(request);
    const promptIds = await encodeFairly(tokenizer, promptText);
    const cachedTokens = prefixCache.lookupAndInsert(promptIds);
    const plan = planChat(generator, request, promptText);
    const usage = usageOf(plan, promptIds.length, cachedTokens);
    const meta = { id: `chatcmpl-test-${++nextId}`, created, model, request, alternatives };
    await deliver(res, meta.id, {
      stream: request.stream === true,
      body: () => chatCompletionBody(plan, usage, meta),
      rounds: () => chatStreamRounds(plan, meta, (text) => generator.tokenPieces(text).map((p) => p.text)),
      longest: Math.max(...plan.choices.map((c) => c.completionTokens)),
      usageChunk: request.stream_options?.include_usage ? { id: meta.id, object: 'chat.completion.chunk', created, model, choices: [], usage } : null,
      runningUsage: continuousUsage(request) ? usage : null,
    });
  }

  async function completions(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const request = await readRequest(req, res, parseCompletionRequest);
    if (!request) return;
    const plan = planCompletion(generator, tokenizer, request);
    const cachedTokens = plan.prompts.reduce((s, p) => s + prefixCache.lookupAndInsert(p.ids), 0);
    const usage = completionUsage(plan, cachedTokens);
    const meta = { id: `cmpl-test-${++nextId}`, created, model, request, alternatives };
    await deliver(res, meta.id, {
      stream: request.stream === true,
      body: () => completionBody(plan, usage, meta),
      rounds: () => completionStreamRounds(plan, meta),
      longest: Math.max(...plan.choices.map((c) => c.pieces.length)),
      usageChunk: request.stream_options?.include_usage ? { id: meta.id, object: 'text_completion', created, model, choices: [], usage } : null,
      runningUsage: continuousUsage(request) ? usage : null,
    });
  }

  async function embeddings(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const request = await readRequest(req, res, parseEmbeddingRequest);
    if (!request) return;
    const result = embedder.embed(request, model);
    if (!result.ok) return sendJson(res, result.status, result.body);
    stats.requests++;
    stats.completed++;
    sendJson(res, 200, result.value);
  }

  const modelCard = { id: model, object: 'model', created, owned_by: 'cocoon-test-engine' };
  type Handler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;
  const routes: Record<string, Partial<Record<'GET' | 'POST', Handler>>> = {
    '/health': { GET: (_q, res) => sendJson(res, 200, { status: 'ok' }) },
    '/stats': { GET: (_q, res) => sendJson(res, 200, stats) },
    '/v1/models': { GET: (_q, res) => sendJson(res, 200, { object: 'list', data: [modelCard] }) },
    '/v1/chat/completions': { POST: chat },
    ...(serve.completions && { '/v1/completions': { POST: completions } }),
    ...(serve.embeddings && { '/v1/embeddings': { POST: embeddings } }),
  };

  // No Host header required: the reference worker's HTTP client sends none (vLLM accepts that;
  // Node answers such a request 400 by default).
  const server = hardenServer(createServer({ requireHostHeader: false }, safeHandler(async (req, res) => {
    const { path } = requestTarget(req);
    let route = routes[path];
    // GET /v1/models/{id}: ids hold slashes ("Qwen/Qwen3-0.6B"), sent raw or percent-encoded.
    if (!route && path.startsWith('/v1/models/')) {
      let id: string;
      try {
        id = decodeURIComponent(path.slice('/v1/models/'.length));
      } catch {
        id = path.slice('/v1/models/'.length);
      }
      route = { GET: (_q, r) => (id === model ? sendJson(r, 200, modelCard) : sendModelNotFound(r, id)) };
    }
    if (!route) return sendError(res, 404, `no route ${req.method} ${path}`, 'invalid_request_error', null, 'not_found');
    const handler = route[req.method as 'GET' | 'POST'];
    if (!handler) {
      res.setHeader('allow', Object.keys(route).join(', '));
      return sendError(res, 405, `method ${req.method} is not allowed on ${path}; use ${Object.keys(route).join(' or ')}`, 'invalid_request_error', null, 'method_not_allowed');
    }
    await handler(req, res);
  }, { log, render: renderOpenAiError })), { log, requestTimeoutMs: 300_000 });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${opts.host ?? '127.0.0.1'}:${port}`;
  log.info({ url, model, tokenDelayMs }, 'test engine listening');
  return {
    url,
    model,
    stats: () => ({ ...stats }),
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function continuousUsage(request: { stream_options?: unknown }): boolean {
  const o = request.stream_options as { include_usage?: boolean; continuous_usage_stats?: boolean } | null | undefined;
  return o?.include_usage === true && o.continuous_usage_stats === true;
}

/**
 * The usage so far of a streamed answer, as vLLM reports it with `continuous_usage_stats`: the
 * whole prompt, and the tokens generated up to this chunk (capped at the final counts, which the
 * last chunks and the usage chunk carry exactly).
 */
class RunningUsage {
  private completion = 0;
  private reasoning = 0;

  count(chunk: unknown): void {
    this.completion++;
    const delta = (chunk as { choices?: Array<{ delta?: { reasoning_content?: unknown } }> }).choices?.[0]?.delta;
    if (delta?.reasoning_content !== undefined) this.reasoning++;
  }

  usage(final: Usage): Usage {
    const completion = Math.min(this.completion, final.completion_tokens);
    const reasoning = Math.min(this.reasoning, final.completion_tokens_details?.reasoning_tokens ?? 0, completion);
    return {
      prompt_tokens: final.prompt_tokens, completion_tokens: completion, total_tokens: final.prompt_tokens + completion,
      ...(final.prompt_tokens_details && { prompt_tokens_details: final.prompt_tokens_details }),
      completion_tokens_details: { reasoning_tokens: reasoning },
    };
  }
}

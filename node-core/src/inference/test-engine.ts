import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger, type Logger } from '../log.ts';
import { DeterministicGenerator } from './generator.ts';
import { hardenServer, HttpError, requestTarget, safeHandler } from '../http/safe-http.ts';
import { readChatRequest, renderOpenAiError, sendError, sendJson, startSse, writeSse } from './http-util.ts';
import {
  maxTokensOf, thinkingEnabled,
  type ChatCompletion, type ChatCompletionChunk, type ChatCompletionRequest, type Usage,
} from './openai-types.ts';
import { PrefixCache } from './prefix-cache.ts';
import { loadQwen3Tokenizer, renderChatMl } from './tokenizer.ts';

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
  const stats: TestEngineStats = { requests: 0, completed: 0, cancelled: 0, active: 0 };
  const created = Math.floor(Date.now() / 1000);
  let nextId = 0;

  async function chat(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const parsed = await readChatRequest(req, BODY_LIMIT);
    if (!parsed.ok) return sendJson(res, parsed.status, parsed.body);
    const request: ChatCompletionRequest = parsed.value;
    if (request.model !== model) {
      return sendError(res, 404, `model "${request.model}" is not served here; this engine serves "${model}"`, 'invalid_request_error', 'model', 'model_not_found');
    }
    stats.requests++;
    stats.active++;
    const thinking = thinkingEnabled(request);
    const promptText = renderChatMl(request.messages, thinking);
    const promptIds = tokenizer.encode(promptText);
    const cachedTokens = prefixCache.lookupAndInsert(promptIds);
    const stop = request.stop == null ? undefined : Array.isArray(request.stop) ? request.stop : [request.stop];
    const maxTokens = maxTokensOf(request);
    const gen = generator.generate({ promptKey: promptText, seed: request.seed, thinking, ...(maxTokens !== undefined && { maxTokens }), ...(stop && { stop }) });
    const usage: Usage = {
      prompt_tokens: promptIds.length,
      completion_tokens: gen.completionTokens,
      total_tokens: promptIds.length + gen.completionTokens,
      prompt_tokens_details: { cached_tokens: cachedTokens },
      completion_tokens_details: { reasoning_tokens: gen.reasoningTokens },
    };
    const id = `chatcmpl-test-${++nextId}`;
    let cancelled = false;
    res.on('close', () => {
      if (!res.writableFinished) cancelled = true;
    });
    try {
      if (!request.stream) {
        if (tokenDelayMs > 0) await sleep(tokenDelayMs * gen.pieces.length);
        if (cancelled) return void stats.cancelled++;
        const content = gen.pieces.filter((p) => p.kind === 'content').map((p) => p.text).join('');
        const reasoning = gen.pieces.filter((p) => p.kind === 'reasoning').map((p) => p.text).join('');
        const body: ChatCompletion = {
          id, object: 'chat.completion', created, model,
          choices: [{ index: 0, message: { role: 'assistant', content, ...(reasoning && { reasoning_content: reasoning }) }, finish_reason: gen.finishReason }],
          usage,
        };
        sendJson(res, 200, body);
        stats.completed++;
        return;
      }
      const jsonLines = opts.streamFormat === 'json-lines';
      const writeEvent = (data: object | '[DONE]') => {
        if (!jsonLines) return writeSse(res, data);
        if (data !== '[DONE]') res.write(`${JSON.stringify(data)}\n`);
      };
      if (jsonLines) res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-cache' });
      else startSse(res);
      const chunk = (delta: ChatCompletionChunk['choices'][0]['delta'], finish: 'stop' | 'length' | null = null): ChatCompletionChunk => ({
        id, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta, finish_reason: finish }],
      });
      // At zero delay the whole answer exists at once: one socket write instead of one per token,
      // as a real engine's HTTP layer coalesces what is ready. With a delay, tokens leave one by one.
      if (tokenDelayMs === 0) res.cork();
      writeEvent(chunk({ role: 'assistant', content: '' }));
      for (const piece of gen.pieces) {
        if (tokenDelayMs > 0) await sleep(tokenDelayMs);
        if (cancelled) {
          stats.cancelled++;
          log.info({ id }, 'generation cancelled: client went away');
          return;
        }
        writeEvent(chunk(piece.kind === 'content' ? { content: piece.text } : { reasoning_content: piece.text }));
      }
      writeEvent(chunk({}, gen.finishReason));
      if (request.stream_options?.include_usage) {
        writeEvent({ id, object: 'chat.completion.chunk', created, model, choices: [], usage });
      }
      writeEvent('[DONE]');
      res.end();
      if (tokenDelayMs === 0) res.uncork();
      stats.completed++;
    } finally {
      stats.active--;
    }
  }

  const server = hardenServer(createServer(safeHandler(async (req, res) => {
    const { path } = requestTarget(req);
    if (req.method === 'GET' && path === '/health') return sendJson(res, 200, { status: 'ok' });
    if (req.method === 'GET' && path === '/v1/models') {
      return sendJson(res, 200, { object: 'list', data: [{ id: model, object: 'model', created, owned_by: 'cocoon-test-engine' }] });
    }
    if (req.method === 'GET' && path === '/stats') return sendJson(res, 200, stats);
    if (req.method === 'POST' && path === '/v1/chat/completions') return chat(req, res);
    throw new HttpError(404, `no route ${req.method} ${path}`, 'not_found');
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

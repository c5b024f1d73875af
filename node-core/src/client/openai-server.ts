import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { errorMessage } from '../errors.ts';
import { hardenServer, HttpError, requestTarget, safeHandler } from '../http/safe-http.ts';
import { readChatRequest, renderOpenAiError, sendError, sendJson } from '../inference/http-util.ts';
import { maxTokensOf, type ChatCompletionChunk, type Usage } from '../inference/openai-types.ts';
import type { Logger } from '../log.ts';
import { computeCost, type CostBreakdown, type PricingParams, type TokenCounts } from '../payments/pricing.ts';
import { ErrorCode, httpStatusOf } from '../protocol/messages.ts';
import { CapacityQueue, type CapacityQueueOptions } from './capacity-queue.ts';
import { createClientGate, type ClientGateOptions } from './http-gate.ts';
import type { ProxyLink, RunningQuery } from './proxy-link.ts';
import type { ClientStatus } from './status.ts';

/**
 * The developer-facing API on 127.0.0.1: OpenAI-compatible chat completions (SSE and not) and
 * model listing, plus `GET /v1/cocoon/status`. Every response carries `usage` in OpenAI's shape
 * and `cost`, the per-kind price breakdown from payments/pricing.ts.
 */
export interface OpenAiServerOptions {
  link: ProxyLink;
  pricing: () => PricingParams;
  status: () => ClientStatus;
  /** Models the network lists (root contract); unknown → 404, known but no worker → 503. */
  knownModels: () => string[];
  maxCoefficient: number;
  defaultTimeoutSeconds: number;
  /** Host allowlist, CORS origins and API key (see http-gate.ts). */
  gate: ClientGateOptions;
  queue?: CapacityQueueOptions;
  log: Logger;
}

const BODY_LIMIT = 4 * 1024 * 1024;
const DEFAULT_MAX_TOKENS = 4096;

export function usageOf(t: TokenCounts): Usage {
  const prompt = t.prompt + t.cached;
  const completion = t.completion + t.reasoning;
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: t.cached },
    completion_tokens_details: { reasoning_tokens: t.reasoning },
  };
}

export function createOpenAiServer(opts: OpenAiServerOptions): Server {
  const created = () => Math.floor(Date.now() / 1000);

  async function models(res: ServerResponse): Promise<void> {
    const types = await opts.link.workerTypes();
    const now = created();
    sendJson(res, 200, { object: 'list', data: types.map((t) => ({ id: t.name, object: 'model', created: now, owned_by: 'cocoon', workers: t.workers })) });
  }

  async function chat(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const parsed = await readChatRequest(req, BODY_LIMIT);
    if (!parsed.ok) return sendJson(res, parsed.status, parsed.body);
    const request = parsed.value;
    // A recent model list saves a proxy round trip per request; a miss is re-checked fresh.
    const serving = (types: Array<{ name: string; workers: number }>) => types.some((t) => t.name === request.model && t.workers > 0);
    let types = await opts.link.workerTypes(1000);
    if (!serving(types)) types = await opts.link.workerTypes(0);
    if (!serving(types)) {
      if (opts.knownModels().includes(request.model) || types.some((t) => t.name === request.model)) {
        res.setHeader('retry-after', '5');
        return sendError(res, 503, `no worker is serving model "${request.model}" right now; try again later or pick another model from /v1/models`, 'service_unavailable', 'model', 'no_worker');
      }
      return sendError(res, 404, `model "${request.model}" does not exist on this network; see /v1/models`, 'invalid_request_error', 'model', 'model_not_found');
    }
    const stream = request.stream === true;
    const includeUsage = request.stream_options?.include_usage === true;
    let headersSent = false;
    let finished = false;
    // Non-stream answers are assembled from the same chunks the stream would carry.
    let id = '';
    let content = '';
    let reasoning = '';
    let finishReason: 'stop' | 'length' | null = null;

    // Busy workers: the request waits in the bounded queue and retries, ahead of later arrivals.
    const gone = new AbortController();
    let running: RunningQuery | null = null;
    let probeDone: ((accepted: boolean) => void) | null = null;
    let answered = false;
    const accepted = () => {
      if (!answered) { answered = true; probeDone?.(true); probeDone = null; }
    };
    const fail = (err: unknown) => {
      finished = true;
      if (res.writableEnded || gone.signal.aborted) return;
      const httpErr = err instanceof HttpError ? err : new HttpError(503, errorMessage(err), (err as { code?: string }).code ?? 'proxy_unavailable');
      renderOpenAiError(res, httpErr);
    };
    const attempt = () => {
      answered = false;
      try {
        running = opts.link.runQuery(
          {
            model: request.model,
            // Always streamed through the network (with usage): the client answers either form itself.
            request: Buffer.from(JSON.stringify({ ...request, stream: true, stream_options: { include_usage: true } })),
            maxCoefficient: opts.maxCoefficient,
            maxTokens: maxTokensOf(request) ?? DEFAULT_MAX_TOKENS,
            timeoutSeconds: opts.defaultTimeoutSeconds,
          },
          callbacks,
        );
      } catch (err) {
        probeDone?.(false);
        probeDone = null;
        fail(err);
      }
    };
    const callbacks = {
        onPart(answer: Buffer) {
          accepted();
          if (stream) {
            if (!headersSent) {
              res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
              headersSent = true;
            }
            // Parts that arrive in one tick leave in one write.
            if (!res.writableCorked) {
              res.cork();
              process.nextTick(() => res.uncork());
            }
            // An answer part holds one or more chunks, one JSON text per line.
            res.write(`data: ${answer.toString('utf8').replaceAll('\n', '\n\ndata: ')}\n\n`);
            return;
          }
          for (const line of answer.toString('utf8').split('\n')) {
            let chunk: ChatCompletionChunk;
            try {
              chunk = JSON.parse(line) as ChatCompletionChunk;
            } catch {
              opts.log.warn('proxy sent an answer part that is not JSON; skipped');
              continue;
            }
            id ||= chunk.id;
            const choice = chunk.choices?.[0];
            if (choice?.delta?.content) content += choice.delta.content;
            if (choice?.delta?.reasoning_content) reasoning += choice.delta.reasoning_content;
            if (choice?.finish_reason) finishReason = choice.finish_reason;
          }
        },
        onFinal(tokens: TokenCounts) {
          accepted();
          finished = true;
          queue.released();
          const usage = usageOf(tokens);
          const cost: CostBreakdown = computeCost(tokens, opts.pricing());
          if (stream) {
            if (!headersSent) res.writeHead(200, { 'content-type': 'text/event-stream' });
            if (includeUsage) res.write(`data: ${JSON.stringify({ id: id || 'chatcmpl-cocoon', object: 'chat.completion.chunk', created: created(), model: request.model, choices: [], usage, cost })}\n\n`);
            res.end('data: [DONE]\n\n');
            return;
          }
          sendJson(res, 200, {
            id: id || 'chatcmpl-cocoon', object: 'chat.completion', created: created(), model: request.model,
            choices: [{ index: 0, message: { role: 'assistant', content, ...(reasoning && { reasoning_content: reasoning }) }, finish_reason: finishReason }],
            usage, cost,
          });
        },
        onError(code: number, message: string) {
          if (code === ErrorCode.noWorker && !answered && !headersSent && !gone.signal.aborted) {
            // Every worker is busy: back to the head of the queue until capacity frees up.
            probeDone?.(false);
            probeDone = null;
            running = null;
            queue.wait(gone.signal, true).then((done) => { probeDone = done; attempt(); }, fail);
            return;
          }
          accepted();
          finished = true;
          queue.released();
          const type = code === ErrorCode.noWorker ? 'service_unavailable' : code === ErrorCode.badRequest ? 'invalid_request_error' : 'server_error';
          if (headersSent) {
            // Mid-stream: an SSE error event, which the openai package raises as an APIError.
            res.end(`data: ${JSON.stringify({ error: { message, type, code: String(code), param: null } })}\n\n`);
            return;
          }
          if (code === 402 && !res.writableEnded) {
            // The proxy's admission refusal carries an OpenAI-style error body (payments/admission.ts).
            try {
              return sendJson(res, 402, JSON.parse(message));
            } catch { /* not JSON: fall through to a plain error */ }
          }
          if (!res.writableEnded) sendError(res, httpStatusOf(code), message, type, null, String(code));
        },
    };
    res.on('close', () => {
      if (!finished) {
        opts.log.info('client went away; cancelling query');
        gone.abort();
        running?.cancel();
        probeDone?.(false);
      }
    });
    if (queue.open) attempt();
    else {
      probeDone = await queue.wait(gone.signal);
      attempt();
    }
  }

  const gate = createClientGate(opts.gate);
  const queue = new CapacityQueue(opts.queue);
  const server = hardenServer(createServer(safeHandler(async (req, res) => {
    const { path } = requestTarget(req);
    if (gate(req, res) === 'answered') return;
    try {
      await route(req, res, path);
    } catch (err) {
      // The proxy link being down is the caller's 503, not our 500.
      if ((err as { code?: unknown }).code === 'proxy_unavailable') throw new HttpError(503, errorMessage(err), 'proxy_unavailable', { 'retry-after': '2' });
      throw err;
    }
  }, { log: opts.log, render: renderOpenAiError })), { log: opts.log, requestTimeoutMs: 120_000 });
  return server;

  async function route(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    if (req.method === 'GET' && path === '/v1/models') return models(res);
    if (req.method === 'POST' && path === '/v1/chat/completions') return chat(req, res);
    if (req.method === 'GET' && path === '/v1/cocoon/status') return sendJson(res, 200, opts.status());
    if (req.method === 'GET' && path === '/v1/cocoon/proxy-certificate') {
      if (!opts.link.proxyCertificatePem) return sendError(res, 503, 'not connected to a proxy yet', 'service_unavailable');
      res.writeHead(200, { 'content-type': 'application/x-pem-file' });
      return void res.end(opts.link.proxyCertificatePem);
    }
    if (req.method === 'GET' && path === '/health') return sendJson(res, 200, { status: opts.link.connected ? 'ok' : 'proxy_unavailable' });
    throw new HttpError(404, `no route ${req.method} ${path}`, 'not_found');
  }
}

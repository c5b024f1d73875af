import type { ServerResponse } from 'node:http';
import { errorMessage } from '../errors.ts';
import { HttpError } from '../http/safe-http.ts';
import { renderOpenAiError, sendError, sendJson } from '../inference/http-util.ts';
import { openAiError } from '../inference/openai-types.ts';
import { ChatCompletionAssembler, TextCompletionAssembler } from '../inference/stream-assembly.ts';
import type { Logger } from '../log.ts';
import { computeCost, type PricingParams, type TokenCounts } from '../payments/pricing.ts';
import { ErrorCode, httpStatusOf } from '../protocol/messages.ts';
import type { CapacityQueue } from './capacity-queue.ts';
import type { ProxyLink, QueryCallbacks, RunningQuery } from './proxy-link.ts';
import { usageOf } from './usage.ts';

/**
 * One developer request carried through the network and answered in the form the developer asked
 * for. The network always streams chat and text completions (with usage), so
 * - `stream: true`: the engine's chunks are relayed verbatim, then our usage chunk with `cost`;
 * - otherwise the answer is assembled from those chunks (stream-assembly.ts), every field kept;
 * - embeddings come back whole, with `cost` added;
 * - an engine's 4xx is relayed with its status, message and param (endpoints an engine lacks
 *   become a 404 naming the model and endpoint), never reported as a worker failure.
 * Requests wait in the bounded capacity queue while every worker is busy.
 */
export type Endpoint = 'chat' | 'completions' | 'embeddings';

export const ENDPOINT_PATHS: Record<Endpoint, string> = {
  chat: '/v1/chat/completions',
  completions: '/v1/completions',
  embeddings: '/v1/embeddings',
};

export interface RelayContext {
  link: ProxyLink;
  queue: CapacityQueue;
  pricing: () => PricingParams;
  maxCoefficient: number;
  timeoutSeconds: number;
  /** Called with the request id once a query left (the caps' reservation follows it). */
  onStarted?: (id: string) => void;
  log: Logger;
}

export interface RelayRequest {
  endpoint: Endpoint;
  model: string;
  /** The developer's JSON body, as it goes to the engine (stream fields aside). */
  body: Record<string, unknown>;
  stream: boolean;
  includeUsage: boolean;
  maxTokens: number;
}

const created = () => Math.floor(Date.now() / 1000);
const ID_FIELD = /"id":\s*"([^"\\]{1,200})"/;

export function relayQuery(ctx: RelayContext, res: ServerResponse, r: RelayRequest): void {
  const whole = r.endpoint === 'embeddings';
  const request = whole ? r.body : { ...r.body, stream: true, stream_options: { include_usage: true } };
  const assembler = r.stream || whole ? null : r.endpoint === 'chat' ? new ChatCompletionAssembler() : new TextCompletionAssembler();
  let headersSent = false;
  let finished = false;
  let streamId = '';
  let body: Buffer | null = null;

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
  const ended = () => {
    accepted();
    finished = true;
    ctx.queue.released();
  };

  const uncork = () => res.uncork();
  const callbacks: QueryCallbacks = {
    onPart(chunks) {
      accepted();
      if (assembler) {
        for (const chunk of chunks) {
          try {
            assembler.add(JSON.parse(chunk) as Record<string, unknown>);
          } catch {
            ctx.log.warn('proxy sent an answer part that is not JSON; skipped');
          }
        }
        return;
      }
      streamId ||= ID_FIELD.exec(chunks[0]!)?.[1] ?? '';
      if (!headersSent) {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
        headersSent = true;
      }
      // Parts that arrive in one tick leave in one write.
      if (!res.writableCorked) {
        res.cork();
        process.nextTick(uncork);
      }
      res.write(`data: ${chunks.join('\n\ndata: ')}\n\n`);
    },
    onBody(answer) {
      body = answer;
    },
    onFinal(tokens: TokenCounts, raw: TokenCounts | null) {
      ended();
      // OpenAI's usage is the engine's count; the cost is the adjusted tokens the proxy charges.
      const usage = usageOf(raw ?? tokens);
      const cost = computeCost(tokens, ctx.pricing(), raw ?? undefined);
      if (whole) return sendEmbeddings(res, body, cost, r.model);
      if (assembler) {
        const result = assembler.result({ usage, cost });
        result.id ??= r.endpoint === 'chat' ? 'chatcmpl-cocoon' : 'cmpl-cocoon';
        result.created ??= created();
        result.model ??= r.model;
        return sendJson(res, 200, result);
      }
      if (!headersSent) res.writeHead(200, { 'content-type': 'text/event-stream' });
      if (r.includeUsage) {
        const object = r.endpoint === 'chat' ? 'chat.completion.chunk' : 'text_completion';
        res.write(`data: ${JSON.stringify({ id: streamId || 'chatcmpl-cocoon', object, created: created(), model: r.model, choices: [], usage, cost })}\n\n`);
      }
      res.end('data: [DONE]\n\n');
    },
    onRefused(status, answer) {
      ended();
      if (res.writableEnded) return;
      const refusal = relayedRefusal(status, answer, r);
      sendJson(res, refusal.status, refusal.body);
    },
    onError(code, message, produced, raw) {
      if (code === ErrorCode.noWorker && !answered && !headersSent && !gone.signal.aborted) {
        // Every worker is busy: back to the head of the queue until capacity frees up.
        probeDone?.(false);
        probeDone = null;
        running = null;
        ctx.queue.wait(gone.signal, true).then((done) => { probeDone = done; attempt(); }, fail);
        return;
      }
      ended();
      const type = code === ErrorCode.noWorker ? 'service_unavailable' : code === ErrorCode.badRequest ? 'invalid_request_error' : 'server_error';
      if (headersSent) {
        // Mid-stream: an SSE error event, which the openai package raises as an APIError; it
        // carries what the answer so far was charged (usage and cost), as the final chunk would.
        const charged = produced && produced.prompt + produced.cached + produced.completion + produced.reasoning > 0
          ? { usage: usageOf(raw ?? produced), cost: computeCost(produced, ctx.pricing(), raw ?? undefined) } : {};
        res.end(`data: ${JSON.stringify({ error: { message, type, code: String(code), param: null }, ...charged })}\n\n`);
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

  const attempt = () => {
    answered = false;
    try {
      running = ctx.link.runQuery(
        {
          model: r.model, request: Buffer.from(JSON.stringify(request)), path: ENDPOINT_PATHS[r.endpoint], whole,
          maxCoefficient: ctx.maxCoefficient, maxTokens: r.maxTokens, timeoutSeconds: ctx.timeoutSeconds,
        },
        callbacks,
      );
      // Names the answer's entry in GET /v1/cocoon/answers/{id}: its cost even when stopped.
      if (!res.headersSent) res.setHeader('x-cocoon-request-id', running.id);
      ctx.onStarted?.(running.id);
    } catch (err) {
      probeDone?.(false);
      probeDone = null;
      fail(err);
    }
  };

  res.on('close', () => {
    if (!finished) {
      ctx.log.info('client went away; cancelling query');
      gone.abort();
      running?.cancel();
      probeDone?.(false);
    }
  });
  if (ctx.queue.open) attempt();
  else ctx.queue.wait(gone.signal).then((done) => { probeDone = done; attempt(); }, fail);
}

function sendEmbeddings(res: ServerResponse, body: Buffer | null, cost: unknown, model: string): void {
  let parsed: Record<string, unknown> | null = null;
  try {
    parsed = body ? (JSON.parse(body.toString('utf8')) as Record<string, unknown>) : null;
  } catch {
    parsed = null;
  }
  if (!parsed || typeof parsed !== 'object') return sendError(res, 502, `the engine serving "${model}" answered embeddings that are not JSON`, 'server_error', null, 'bad_engine_answer');
  sendJson(res, 200, { ...parsed, cost });
}

/**
 * The engine's refusal as the developer should see it: its status, message, param and code; a
 * 404/405/501 for completions or embeddings means the engine lacks that endpoint, which is said
 * in those words rather than as a bare "not found".
 */
export function relayedRefusal(status: number, answer: Buffer, r: Pick<RelayRequest, 'endpoint' | 'model'>): { status: number; body: unknown } {
  const text = answer.toString('utf8');
  let error: Record<string, unknown> | null = null;
  try {
    const parsed = JSON.parse(text) as { error?: unknown };
    if (parsed.error && typeof parsed.error === 'object') error = parsed.error as Record<string, unknown>;
    else if (typeof parsed.error === 'string') error = { message: parsed.error };
  } catch {
    error = null;
  }
  const message = typeof error?.message === 'string' ? error.message : text.slice(0, 500) || `status ${status}`;
  if (r.endpoint !== 'chat' && [404, 405, 501].includes(status) && error?.code !== 'model_not_found') {
    return {
      status: 404,
      body: openAiError(
        `model "${r.model}" is served on this network by an engine that does not offer POST ${ENDPOINT_PATHS[r.endpoint]} (the engine answered ${status}: ${message})`,
        'invalid_request_error', 'model', 'endpoint_not_served',
      ),
    };
  }
  const type = typeof error?.type === 'string' ? error.type : 'invalid_request_error';
  const param = typeof error?.param === 'string' ? error.param : null;
  const code = typeof error?.code === 'string' || typeof error?.code === 'number' ? String(error.code) : null;
  return { status, body: openAiError(message, type, param, code) };
}

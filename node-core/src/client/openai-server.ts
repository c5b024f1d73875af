import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { z } from 'zod';
import { errorMessage } from '../errors.ts';
import { decodePath, hardenServer, HttpError, jsonDepth, MAX_JSON_DEPTH, readBody, requestTarget, safeHandler } from '../http/safe-http.ts';
import { renderOpenAiError, sendError, sendJson } from '../inference/http-util.ts';
import { chatCompletionRequestSchema, embeddingRequestSchema, maxTokensOf, openAiError, textCompletionRequestSchema } from '../inference/openai-types.ts';
import type { Logger } from '../log.ts';
import type { PricingParams } from '../payments/pricing.ts';
import { worstCaseNano } from '../payments/admission.ts';
import { checkClientCaps, type ClientSpendLimits } from '../payments/client-limits.ts';
import type { AnswerLog } from './answer-log.ts';
import { CapacityQueue, type CapacityQueueOptions } from './capacity-queue.ts';
import { createClientGate, type ClientGateOptions } from './http-gate.ts';
import type { ProxyLink } from './proxy-link.ts';
import { ENDPOINT_PATHS, relayQuery, type Endpoint, type RelayContext } from './query-relay.ts';
import type { ClientStatus } from './status.ts';

export { usageOf } from './usage.ts';

function boundedInt(raw: string | null, name: string, min: number, max: number, fallback: number): number {
  if (raw === null) return fallback;
  if (!/^\d{1,9}$/.test(raw) || Number(raw) < min || Number(raw) > max) throw new HttpError(400, `${name} must be an integer from ${min} to ${max}, got "${raw.slice(0, 50)}"`, 'invalid_value');
  return Number(raw);
}

/**
 * The developer-facing API on 127.0.0.1: OpenAI-compatible chat completions and legacy
 * completions (SSE and not), embeddings, model listing and lookup, plus `GET /v1/cocoon/status`.
 * Every answer carries `usage` in OpenAI's shape and `cost`, the per-kind price breakdown from
 * payments/pricing.ts. Request fields the client does not itself rely on pass to the engine
 * unchanged (query-relay.ts).
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
  /** What each answer cost (`GET /v1/cocoon/answers`), and the session's spending for the caps. */
  answers?: AnswerLog;
  /** The client's own caps, checked before a request leaves (payments/client-limits.ts). */
  limits?: ClientSpendLimits;
  log: Logger;
}

const BODY_LIMIT = 4 * 1024 * 1024;
const DEFAULT_MAX_TOKENS = 4096;
/** Engines' own default for legacy completions (OpenAI's too). */
const DEFAULT_COMPLETION_TOKENS = 16;

const SCHEMAS: Record<Endpoint, z.ZodType<Record<string, unknown>>> = {
  chat: chatCompletionRequestSchema,
  completions: textCompletionRequestSchema,
  embeddings: embeddingRequestSchema,
};

export function createOpenAiServer(opts: OpenAiServerOptions): Server {
  const created = () => Math.floor(Date.now() / 1000);
  const seenServed = new Set<string>();

  async function models(res: ServerResponse): Promise<void> {
    const types = await opts.link.workerTypes();
    const now = created();
    sendJson(res, 200, { object: 'list', data: types.map((t) => ({ id: t.name, object: 'model', created: now, owned_by: 'cocoon', workers: t.workers })) });
  }

  /** `GET /v1/models/{id}`: the id raw (`Qwen/Qwen3-0.6B`) or percent-encoded, as the SDK sends it. */
  async function model(res: ServerResponse, id: string): Promise<void> {
    const types = await opts.link.workerTypes(1000);
    const found = types.find((t) => t.name === id) ?? (await opts.link.workerTypes(0)).find((t) => t.name === id);
    if (!found) {
      const known = opts.knownModels().includes(id) ? ' (it is listed by the network but no worker serves it right now)' : '';
      return sendError(res, 404, `model "${id}" does not exist on this network${known}; see /v1/models`, 'invalid_request_error', 'model', 'model_not_found');
    }
    sendJson(res, 200, { id: found.name, object: 'model', created: created(), owned_by: 'cocoon', workers: found.workers });
  }

  /** Reads and checks the body, then relays it; 400 naming the field when it does not parse. */
  async function inference(req: IncomingMessage, res: ServerResponse, endpoint: Endpoint): Promise<void> {
    const raw = (await readBody(req, BODY_LIMIT)).toString('utf8');
    const depth = jsonDepth(raw);
    if (depth > MAX_JSON_DEPTH) throw new HttpError(400, `request body is JSON nested ${depth} levels deep; at most ${MAX_JSON_DEPTH} are accepted`, 'json_too_deep');
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch (err) {
      return sendJson(res, 400, openAiError(`request body is not valid JSON: ${(err as Error).message}`, 'invalid_request_error', null, 'invalid_json'));
    }
    const parsed = SCHEMAS[endpoint].safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const param = issue.path.map(String).join('.') || null;
      return sendJson(res, 400, openAiError(`invalid field ${param ?? '(body)'}: ${issue.message}`, 'invalid_request_error', param, 'invalid_value'));
    }
    // The developer's own JSON goes on, not zod's copy of it: nothing is reordered or dropped.
    const body = json as Record<string, unknown>;
    const modelName = body.model as string;
    // A recent model list saves a proxy round trip per request; a miss is re-checked fresh.
    const serving = (types: Array<{ name: string; workers: number }>) => types.some((t) => t.name === modelName && t.workers > 0);
    let types = await opts.link.workerTypes(1000);
    if (!serving(types)) types = await opts.link.workerTypes(0);
    for (const t of types) if (t.workers > 0) seenServed.add(t.name);
    if (!serving(types)) {
      // A model served before (workers reconnecting after a proxy restart) is busy, not unknown.
      if (opts.knownModels().includes(modelName) || seenServed.has(modelName) || types.some((t) => t.name === modelName)) {
        res.setHeader('retry-after', '5');
        return sendError(res, 503, `no worker is serving model "${modelName}" right now; try again later or pick another model from /v1/models`, 'service_unavailable', 'model', 'no_worker');
      }
      return sendError(res, 404, `model "${modelName}" does not exist on this network; see /v1/models`, 'invalid_request_error', 'model', 'model_not_found');
    }
    const n = typeof body.n === 'number' ? body.n : 1;
    const perChoice = endpoint === 'chat'
      ? maxTokensOf(body as { max_tokens?: number | null; max_completion_tokens?: number | null }) ?? DEFAULT_MAX_TOKENS
      : endpoint === 'completions' ? (body.max_tokens as number | null | undefined) ?? DEFAULT_COMPLETION_TOKENS : 0;
    const streamOptions = body.stream_options as { include_usage?: boolean } | null | undefined;
    const maxTokens = Math.max(1, perChoice * n);
    // The client's own caps: the worst case at its maximum coefficient, the prompt bounded by the body's bytes.
    const worst = opts.limits && (opts.limits.maxRequestNano !== null || opts.limits.maxSessionNano !== null)
      ? worstCaseNano(Buffer.byteLength(raw), endpoint === 'embeddings' ? 0 : maxTokens, opts.pricing(), opts.maxCoefficient) : 0n;
    if (opts.limits && worst > 0n) {
      const cap = checkClientCaps({ worstCaseNano: worst, sessionSpentNano: opts.answers?.spentNano() ?? 0n, sessionReservedNano: reserved, limits: opts.limits });
      if (!cap.ok) return sendJson(res, cap.status, cap.body);
      reserved += worst;
      res.once('close', () => { reserved -= worst; });
    }
    relayQuery(relay, res, {
      endpoint, model: modelName, body,
      stream: endpoint !== 'embeddings' && body.stream === true,
      includeUsage: streamOptions?.include_usage === true,
      maxTokens,
    });
  }

  let reserved = 0n;
  const gate = createClientGate(opts.gate);
  const queue = new CapacityQueue(opts.queue);
  const relay: RelayContext = {
    link: opts.link, queue, pricing: opts.pricing, maxCoefficient: opts.maxCoefficient, timeoutSeconds: opts.defaultTimeoutSeconds, log: opts.log,
  };
  const server = hardenServer(createServer(safeHandler(async (req, res) => {
    const { path, query } = requestTarget(req);
    if (gate(req, res) === 'answered') return;
    try {
      await route(req, res, path, query);
    } catch (err) {
      // The proxy link being down is the caller's 503, not our 500.
      if ((err as { code?: unknown }).code === 'proxy_unavailable') throw new HttpError(503, errorMessage(err), 'proxy_unavailable', { 'retry-after': '2' });
      throw err;
    }
  }, { log: opts.log, render: renderOpenAiError })), { log: opts.log, requestTimeoutMs: 120_000 });
  return server;

  async function route(req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams): Promise<void> {
    if (req.method === 'GET' && path === '/v1/models') return models(res);
    if (req.method === 'GET' && path.startsWith('/v1/models/') && path.length > '/v1/models/'.length) return model(res, decodePath(path.slice('/v1/models/'.length)));
    for (const endpoint of ['chat', 'completions', 'embeddings'] as const) {
      if (path !== ENDPOINT_PATHS[endpoint]) continue;
      if (req.method !== 'POST') throw new HttpError(405, `${path} takes POST`, 'method_not_allowed', { allow: 'POST' });
      return inference(req, res, endpoint);
    }
    if (req.method === 'GET' && path === '/v1/cocoon/status') return sendJson(res, 200, opts.status());
    if (req.method === 'GET' && path === '/v1/cocoon/answers') {
      const limit = boundedInt(query.get('limit'), 'limit', 1, 1000, 100);
      return sendJson(res, 200, { object: 'list', data: opts.answers?.list(limit) ?? [] });
    }
    if (req.method === 'GET' && path.startsWith('/v1/cocoon/answers/')) {
      const id = path.slice('/v1/cocoon/answers/'.length);
      if (!/^[0-9a-f]{64}$/.test(id)) throw new HttpError(400, 'an answer id is the 64 hex digits of the x-cocoon-request-id header', 'invalid_answer_id');
      const waitMs = boundedInt(query.get('wait_ms'), 'wait_ms', 0, 30_000, 0);
      const answer = await opts.answers?.wait(id, waitMs);
      if (!answer) return sendError(res, 404, `no answer ${id} in this client's log (it keeps the newest answers since it started)`, 'invalid_request_error', null, 'answer_not_found');
      return sendJson(res, 200, answer);
    }
    if (req.method === 'GET' && path === '/v1/cocoon/proxy-certificate') {
      if (!opts.link.proxyCertificatePem) return sendError(res, 503, 'not connected to a proxy yet', 'service_unavailable');
      res.writeHead(200, { 'content-type': 'application/x-pem-file' });
      return void res.end(opts.link.proxyCertificatePem);
    }
    if (req.method === 'GET' && path === '/health') return sendJson(res, 200, { status: opts.link.connected ? 'ok' : 'proxy_unavailable' });
    throw new HttpError(404, `no route ${req.method} ${path}`, 'not_found');
  }
}

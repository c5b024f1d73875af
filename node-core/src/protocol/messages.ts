import { randomBytes } from 'node:crypto';
import type { TokenCounts } from '../payments/pricing.ts';
import type { TlObject } from './tl-codec.ts';

/**
 * Which reference-schema messages each hop uses, and small builders for them. Queries carry
 * the OpenAI request JSON as `query` bytes; answer parts carry engine chunks (OpenAI
 * chat.completion.chunk JSON) unchanged, so the proxy relays bytes without re-parsing them.
 *
 *   worker → proxy   query  worker.connectToProxy            → worker.connectedToProxy
 *   proxy → worker   packet proxy.runQueryEx, cocoonx.cancelQuery
 *   worker → proxy   packet proxy.queryAnswerPartEx, proxy.queryAnswerEx (final, tokens used),
 *                           proxy.queryAnswerErrorEx
 *   client → proxy   query  client.connectToProxy, client.getWorkerTypesV2
 *                    packet client.runQueryEx, cocoonx.cancelQuery
 *   proxy → client   packet client.queryAnswerPartEx, client.queryAnswerEx, client.queryAnswerErrorEx
 */
export const PROXY_ACCEPTS_FROM_WORKER = new Set(['worker.connectToProxy', 'proxy.queryAnswerPartEx', 'proxy.queryAnswerEx', 'proxy.queryAnswerErrorEx', 'cocoonx.workerLoad']);
export const WORKER_ACCEPTS_FROM_PROXY = new Set(['proxy.runQueryEx', 'cocoonx.cancelQuery']);
export const PROXY_ACCEPTS_FROM_CLIENT = new Set(['client.connectToProxy', 'client.getWorkerTypesV2', 'client.runQueryEx', 'cocoonx.cancelQuery']);
export const CLIENT_ACCEPTS_FROM_PROXY = new Set(['client.queryAnswerPartEx', 'client.queryAnswerEx', 'client.queryAnswerErrorEx']);

/** Error codes carried in *ErrorEx messages (HTTP-like, so the client maps them directly). */
export const ErrorCode = {
  badRequest: 400,
  noWorker: 503,
  workerFailed: 502,
  timeout: 504,
  cancelled: 499,
  engine: 500,
} as const;

// Request ids: a random per-process prefix and a counter — unique per process, unguessable across
// processes, and without a randomBytes call per request (it showed in the relay profile).
const idPrefix = randomBytes(24);
let idCounter = 0n;

export function newRequestId(): Buffer {
  const id = Buffer.allocUnsafe(32);
  idPrefix.copy(id, 0);
  id.writeBigUInt64BE(idCounter++, 24);
  return id;
}

export function tokensUsed(t: TokenCounts): TlObject {
  const total = t.prompt + t.cached + t.completion + t.reasoning;
  return {
    _: 'tokensUsed',
    prompt_tokens_used: BigInt(t.prompt),
    cached_tokens_used: BigInt(t.cached),
    completion_tokens_used: BigInt(t.completion),
    reasoning_tokens_used: BigInt(t.reasoning),
    total_tokens_used: BigInt(total),
  };
}

export function tokenCountsOf(t: TlObject): TokenCounts {
  return {
    prompt: Number(t.prompt_tokens_used),
    cached: Number(t.cached_tokens_used),
    completion: Number(t.completion_tokens_used),
    reasoning: Number(t.reasoning_tokens_used),
  };
}

export const ZERO_TOKENS: TokenCounts = { prompt: 0, cached: 0, completion: 0, reasoning: 0 };

import { randomBytes } from 'node:crypto';
import { CocoonError } from '../errors.ts';
import type { TokenCounts } from '../payments/pricing.ts';
import type { TlObject } from './tl-codec.ts';

/**
 * Which reference-schema messages each hop uses, and small builders for them. Queries carry a
 * serialized http.request, answers an http.response then raw body parts (http-payload.ts), so
 * the proxy relays bytes without re-parsing them. The handshakes are the reference's
 * (README.md in this folder has the full sequence and the compatibility table):
 *
 *   worker → proxy   query  worker.connectToProxy → worker.compareBalanceWithProxy →
 *                           worker.proxyHandshakeComplete; later worker.updatePaymentStatus
 *   proxy → worker   packet proxy.runQueryEx, proxy.workerRequestPayment, cocoonx.cancelQuery
 *   worker → proxy   packet proxy.queryAnswerEx (http.response), proxy.queryAnswerPartEx (body;
 *                           the last has final_info), proxy.queryAnswerErrorEx, cocoonx.workerLoad
 *   client → proxy   query  client.connectToProxy → client.authorizeWithProxyShort|Long,
 *                           client.getWorkerTypesV2, client.updatePaymentStatus
 *                    packet client.runQueryEx, cocoonx.cancelQuery
 *   proxy → client   packet client.queryAnswerEx, client.queryAnswerPartEx, client.queryAnswerErrorEx,
 *                           proxy.clientRequestPayment
 */
export const PROXY_ACCEPTS_FROM_WORKER = new Set([
  'worker.connectToProxy', 'worker.compareBalanceWithProxy', 'worker.extendedCompareBalanceWithProxy', 'worker.proxyHandshakeComplete',
  'worker.updatePaymentStatus', 'worker.enabledDisabled', 'worker.newCoefficient',
  'proxy.queryAnswerPartEx', 'proxy.queryAnswerEx', 'proxy.queryAnswerErrorEx', 'cocoonx.workerLoad',
]);
export const WORKER_ACCEPTS_FROM_PROXY = new Set(['proxy.runQueryEx', 'proxy.workerRequestPayment', 'cocoonx.cancelQuery']);
export const PROXY_ACCEPTS_FROM_CLIENT = new Set([
  'client.connectToProxy', 'client.authorizeWithProxyShort', 'client.authorizeWithProxyLong', 'client.getWorkerTypesV2',
  'client.updatePaymentStatus', 'client.runQueryEx', 'cocoonx.cancelQuery',
]);
export const CLIENT_ACCEPTS_FROM_PROXY = new Set([
  'client.queryAnswerPartEx', 'client.queryAnswerEx', 'client.queryAnswerErrorEx',
  // What the reference proxy also sends: its own failures in the older form, and a payment per request.
  'client.queryAnswerError', 'client.queryAnswerPartError', 'proxy.clientRequestPayment',
]);

/**
 * Error codes on the wire are TON's (common/errorcode.h), as the reference puts them in
 * tcp.queryError and every *ErrorEx: its client turns timeout into HTTP 504, notready into 502,
 * anything else into 500. `cancelled` is the reference's ErrorCode::cancelled (653 in the TON
 * version the reference builds with — confirm with a reference build, see README).
 */
export const TonErrorCode = {
  failure: 601,
  error: 602,
  warning: 603,
  protoviolation: 621,
  notready: 651,
  timeout: 652,
  cancelled: 653,
} as const;

/** What each of our failure kinds sends on the wire. */
export const ErrorCode = {
  /** The request itself is wrong (never retried). */
  badRequest: TonErrorCode.protoviolation,
  /** No worker can take it now. */
  noWorker: TonErrorCode.notready,
  /** The worker failed or went away. */
  workerFailed: TonErrorCode.error,
  timeout: TonErrorCode.timeout,
  cancelled: TonErrorCode.cancelled,
  /** The inference engine failed. */
  engine: TonErrorCode.failure,
  protoviolation: TonErrorCode.protoviolation,
} as const;

/**
 * The HTTP status our client answers for a wire error code. Finer than the reference's
 * (which answers 500 for most): a bad request is 400, no capacity 503, cancelled 499. Codes that
 * are already HTTP statuses (older Cocoon Desktop peers) pass through.
 */
export function httpStatusOf(code: number): number {
  switch (code) {
    case TonErrorCode.protoviolation: return 400;
    case TonErrorCode.notready: return 503;
    case TonErrorCode.error: return 502;
    case TonErrorCode.timeout: return 504;
    case TonErrorCode.cancelled: return 499;
    case TonErrorCode.failure: return 500;
    default: return code >= 400 && code < 600 ? code : 500;
  }
}

/** A refusal that carries the wire code the reference would send for it. */
export class WireError extends CocoonError {
  constructor(readonly wireCode: number, message: string) {
    super('peer_refused', message);
  }
}

/** Code for a tcp.queryError answering a query whose handler failed. */
export function queryErrorCode(err: unknown): number {
  if (err instanceof WireError) return err.wireCode;
  return err instanceof CocoonError ? TonErrorCode.error : TonErrorCode.failure;
}

/** Protocol versions we speak on every hop: 1 and 2 use the *Ex messages (we speak no version 0). */
export const MIN_PROTO_VERSION = 1;
export const MAX_PROTO_VERSION = 2;

/**
 * The version both sides speak, as the reference picks it (the lower of the two maxima), or a
 * protoviolation when the ranges do not meet. A peer without a range (flags bit 1 clear) is 0..0.
 */
export function negotiateProtoVersion(params: TlObject): number {
  const flags = params.flags as number;
  const min = flags & 2 ? (params.min_proto_version as number) : 0;
  const max = flags & 2 ? (params.max_proto_version as number) : 0;
  if (max < MIN_PROTO_VERSION || MAX_PROTO_VERSION < min) {
    throw new WireError(TonErrorCode.protoviolation, 'cannot choose common protocol version');
  }
  return Math.min(max, MAX_PROTO_VERSION);
}

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

/**
 * A worker announces its model as `name@suffix` (the suffix pins the exact weights, e.g. a
 * commit or verity hash; the root allowlists sha256 of the full string); clients ask for the base
 * name, the part before the first '@', which is what the proxy groups workers by.
 */
export function modelBaseName(model: string): string {
  const at = model.indexOf('@');
  return at < 0 ? model : model.slice(0, at);
}

import type { Logger } from '../log.ts';
import { signedPaymentTl, type ProxySettlement } from '../protocol/settlement.ts';
import type { TlObject } from '../protocol/tl-codec.ts';
import type { ProxyPayments } from '../payments/proxy-settlement.ts';
import type { AnswerOutcome } from '../payments/proxy-ledger.ts';
import type { TokenCounts } from '../payments/pricing.ts';
import { adjustedCounts, adjustedTotal, capAdjusted } from '../payments/adjusted-tokens.ts';
import { worstCaseUnits } from '../payments/admission.ts';
import { UNITS_PER_TOKEN } from '../payments/units.ts';
import type { PeerLink, WorkerEntry } from './worker-pool.ts';

/**
 * Where an answer's usage goes once it ends: the ledger (settling proxies) and the signed
 * counters sent to the client and the worker. The request relay (request-relay.ts) decides
 * *when* an answer ended and with which tokens; this module decides what that costs and who is
 * told, so the relay's hot path (parts) never touches payments.
 */

/** What an answer's end needs to know about its request. */
export interface ChargedRequest {
  workerRequestId: Buffer;
  clientRequestId: Buffer;
  client: PeerLink;
  clientOwner: string;
  /** Bytes of the query: the admission's upper bound of its prompt tokens. */
  queryBytes: number;
  maxTokens: number;
}

export class AnswerPayments {
  /** Settling proxies only: the ledger, admission and batched signatures. */
  readonly payments: ProxyPayments | null;
  // Batched signatures (payments/proxy-settlement.ts SigningPolicy): a counter signed after its
  // answers ended goes to the party on the connection of its last answer (request_tokens 0).
  private readonly lastClientPayment = new Map<string, { conn: PeerLink; requestId: Buffer }>();
  private readonly lastWorkerPayment = new Map<string, { worker: WorkerEntry; requestId: Buffer; clientOwner: string }>();

  constructor(
    readonly settlement: ProxySettlement,
    payments: ProxyPayments | null,
    /** Price multipliers for adjusting the running usage of answers that end early. */
    private readonly multipliers: TokenCounts,
    private readonly log: Logger,
  ) {
    this.payments = payments;
    payments?.onSigned((party, owner) => {
      if (party === 'client') {
        const c = this.lastClientPayment.get(owner);
        if (c && !c.conn.closed) this.sendClientPayment(c.conn, owner, c.requestId, 0n);
      } else {
        const w = this.lastWorkerPayment.get(owner);
        if (w && !w.worker.connection.closed) this.sendWorkerPayment(w.worker, w.requestId, w.clientOwner, 0n);
      }
    });
  }

  /** The signed payment a query carries to its worker (proxy.runQueryEx). */
  workerSignedPayment(worker: WorkerEntry): TlObject {
    return signedPaymentTl(this.settlement.workerPayment(worker.owner).signedPayment);
  }

  /**
   * The running usage the client last received (the engine's count), in adjusted tokens at the
   * worker's coefficient — what the worker itself would have reported. Null when it cannot be
   * adjusted (logged: nothing is charged then).
   */
  adjustEarly(req: ChargedRequest, worker: WorkerEntry, raw: TokenCounts): TokenCounts | null {
    try {
      return adjustedCounts(raw, worker.coefficient, this.multipliers);
    } catch (err) {
      this.log.error({ request: req.workerRequestId.toString('hex').slice(0, 16), err: (err as Error).message }, 'cannot adjust the usage of an answer that ended early; nothing charged');
      return null;
    }
  }

  /** Why a worker's final token report cannot be charged at all, or null: its total must be the sum of its kinds. */
  malformedUsage(t: TokenCounts, total: bigint): string | null {
    return total !== BigInt(adjustedTotal(t)) ? `total_tokens_used ${total} is not the sum of its kinds (${adjustedTotal(t)})` : null;
  }

  /**
   * What a settling proxy charges for a worker's report: at most the worst case admission
   * reserved for the request (the prompt's bytes and max_tokens at this worker's coefficient).
   * A report above it is charged (and paid) that worst case, the excess taken off reasoning, then
   * completion, cached, prompt (payments/adjusted-tokens.ts capAdjusted), and logged.
   */
  chargeable(req: ChargedRequest, worker: WorkerEntry, t: TokenCounts): TokenCounts {
    if (!this.payments || req.maxTokens <= 0) return t;
    let worst: number;
    try {
      worst = Number(worstCaseUnits(req.queryBytes, req.maxTokens, this.payments.pricing, Math.max(1, worker.coefficient)) / UNITS_PER_TOKEN);
    } catch {
      return t;
    }
    if (adjustedTotal(t) <= worst) return t;
    this.log.warn({ request: req.workerRequestId.toString('hex').slice(0, 16), worker: worker.owner, reported: adjustedTotal(t), worst }, 'worker reported more adjusted tokens than the worst case of this request; charging the worst case');
    return capAdjusted(t, worst);
  }

  /**
   * Commits an answer's usage to the ledger (settling proxies; grouped, see the ledger's group
   * commits); `committed` runs once it is durable (at once without settlement), so no signed
   * counter ever covers an answer a kill -9 could lose. A ledger failure is logged, never thrown
   * at the peer.
   */
  record(req: ChargedRequest, worker: WorkerEntry, tokens: TokenCounts, outcome: AnswerOutcome, committed?: () => void): void {
    if (!this.payments) return void committed?.();
    try {
      this.payments.answerEnded({ requestId: req.workerRequestId.toString('hex'), clientOwner: req.clientOwner, workerOwner: worker.owner, tokens, coefficient: worker.coefficient, outcome }, committed);
    } catch (err) {
      this.log.error({ request: req.workerRequestId.toString('hex').slice(0, 16), err: (err as Error).message }, 'could not record an answer in the ledger');
    }
  }

  /** After an answer that cost something, as the reference: the latest signed payment to both sides. */
  sendBoth(req: ChargedRequest, worker: WorkerEntry, requestTokens: bigint): void {
    this.lastWorkerPayment.set(worker.owner, { worker, requestId: req.workerRequestId, clientOwner: req.clientOwner });
    this.sendWorkerPayment(worker, req.workerRequestId, req.clientOwner, requestTokens);
    this.lastClientPayment.set(req.clientOwner, { conn: req.client, requestId: req.clientRequestId });
    this.sendClientPayment(req.client, req.clientOwner, req.clientRequestId, requestTokens);
  }

  sendWorkerPayment(worker: WorkerEntry, requestId: Buffer, clientOwner: string, requestTokens: bigint): void {
    const w = this.settlement.workerPayment(worker.owner);
    worker.connection.send({
      _: 'proxy.workerRequestPayment', request_id: requestId, signed_payment: signedPaymentTl(w.signedPayment),
      db_tokens: w.tokensCommittedToDb, max_tokens: w.maxTokens, request_tokens: requestTokens, request_client_owner: clientOwner,
    });
  }

  /**
   * A client connection's payment messages carry the signed charge only when it differs from the
   * last one sent on it (the proxy signs at most every 200 ms; the counters still come every
   * time): the client already holds it. A reference client skips an empty one. Not done for
   * workers: a reference worker closes the connection on a payment message without a signature.
   */
  private readonly signedSent = new WeakMap<PeerLink, Buffer>();
  private newSigned(conn: PeerLink, signed: Buffer | null): Buffer | null {
    if (!signed) return null;
    const last = this.signedSent.get(conn);
    if (last && (last === signed || last.equals(signed))) return null;
    this.signedSent.set(conn, signed);
    return signed;
  }

  private sendClientPayment(conn: PeerLink, clientOwner: string, requestId: Buffer, requestTokens: bigint): void {
    const c = this.settlement.clientPayment(clientOwner);
    conn.send({
      _: 'proxy.clientRequestPayment', request_id: requestId, signed_payment: signedPaymentTl(this.newSigned(conn, c.signedPayment)),
      db_tokens: c.tokensCommittedToDb, max_tokens: c.maxTokens, request_tokens: requestTokens,
    });
  }
}

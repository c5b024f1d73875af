import { ErrorCode } from '../protocol/messages.ts';
import type { Admission, ProxyPayments } from '../payments/proxy-settlement.ts';
import { WorkerPool, type WorkerEntry } from './worker-pool.ts';

/**
 * Which worker gets a query: the pool of connected workers, the admission check that runs
 * before any worker sees a query, and the retry policy (another worker only while the client
 * has seen nothing of the answer). It decides; the request relay (request-relay.ts) acts.
 */
export class Router {
  readonly pool = new WorkerPool();

  /** @param maxAttempts attempts per query (the first worker + retries). */
  constructor(readonly maxAttempts: number) {}

  /** The best worker not yet tried for this query, or why there is none (the client's error text). */
  pick(model: string, maxCoefficient: number, tried: ReadonlySet<number>): WorkerEntry | string {
    const worker = this.pool.pick(model, maxCoefficient, tried);
    if (worker) return worker;
    return tried.size > 0
      ? `all ${tried.size} worker(s) tried for model "${model}" failed before answering`
      : this.pool.hasModel(model)
        ? `no worker for model "${model}" has free capacity at coefficient ≤ ${maxCoefficient}`
        : `no worker serves model "${model}"`;
  }

  /**
   * May a query whose worker failed with `code` go to another worker? Only before its first
   * part reached the client (a second worker's answer would not continue the first's), never
   * for the client's own fault or its cancellation, and within the attempt budget.
   */
  mayRetry(firstPartSent: boolean, code: number, attempts: number): boolean {
    return !firstPartSent && code !== ErrorCode.badRequest && code !== ErrorCode.cancelled && attempts < this.maxAttempts;
  }

  /**
   * Admission: can the client contract pay this query's worst case? Priced at the coefficient of
   * the worker it would go to now (the client's maximum when none is free), so a cheap worker
   * does not need a rich client's reserve.
   */
  admit(payments: ProxyPayments, q: { clientOwner: string; model: string; maxCoefficient: number; queryBytes: number; maxTokens: number; authNonce: bigint }): Promise<Admission> {
    const coefficient = this.pool.pick(q.model, q.maxCoefficient, NOTHING_TRIED)?.coefficient ?? q.maxCoefficient;
    return payments.admit({ clientOwner: q.clientOwner, promptTokens: q.queryBytes, maxTokens: Math.max(0, q.maxTokens), coefficient, authNonce: q.authNonce });
  }
}

const NOTHING_TRIED: ReadonlySet<number> = new Set();

/**
 * The worker's side of payments (one SQLite file per worker data dir): per proxy and worker
 * contract, the best signed payout received, the worker's own count of the units it served, and
 * what the chain confirmed.
 *
 * - `recordServed` when an answer ends, with the usage the worker's engine reported.
 * - `check(report)` for every payment message from the proxy: a counter below one already held
 *   means the proxy lost or rolled back its ledger → a persistent rollback flag; while
 *   `isBlocked(proxy)` the worker takes no work from that proxy and says why (log, status).
 * - Settlement: the worker submits its signed payout when it is worth the fee (scheduler policy).
 */
import type { PricingParams } from './pricing.ts';
import { PartyPaymentStore, type HoldingRow, type OwnUsage, type PartyStoreOptions } from './party-payment-store.ts';

export class WorkerPaymentStore extends PartyPaymentStore {
  protected readonly kind = 'payout' as const;

  static open(path: string, opts: PartyStoreOptions = {}): WorkerPaymentStore {
    return new WorkerPaymentStore(PartyPaymentStore.openDb(path, 'worker payment store', opts), path, opts.now, opts.recentOwn);
  }

  /** Counts an answer this worker served, idempotent by request id; returns its units. */
  recordServed(u: OwnUsage): bigint {
    return this.recordOwn(u);
  }

  /** Adjusted tokens served but not yet covered by a signed payout (shown in status; not a rollback by itself). */
  unsignedTokens(proxy: string, contract: string): bigint {
    const h = this.holding(proxy, contract);
    return h && h.ownCounter > h.signedCounter ? h.ownCounter - h.signedCounter : 0n;
  }

  protected perToken(p: PricingParams): number {
    return p.workerFeePerToken;
  }

  protected refuseSigned(_row: HoldingRow | undefined, _counter: bigint): string | null {
    // A payout above what the worker counted only pays it more; the proxy's word decides.
    return null;
  }
}

/**
 * The client's side of payments (one SQLite file per client data dir): per proxy and client
 * contract, the best signed charge received, the client's own count of the units it received, and
 * what the chain confirmed.
 *
 * - `recordReceived` after every answer, with the usage that answer reported, BEFORE checking the
 *   payment message that came with it.
 * - `check(report)` for every payment message: a charge above what the client received (by its
 *   own count, at the proxy's price) is refused and never submitted; a counter below one already
 *   held flags a rollback.
 * - Settlement rule of the reference design: the client submits the signed charge itself once
 *   the unsettled amount reaches half its stake (`dueReason`), because the proxy stops serving a
 *   client whose unsettled usage reaches its stake.
 */
import type { PricingParams } from './pricing.ts';
import { PartyPaymentStore, type Holding, type HoldingRow, type OwnUsage, type PartyStoreOptions } from './party-payment-store.ts';
import { storable } from './sqlite.ts';
import { nanoToTon } from './pricing.ts';
import { counterOfUnits } from './units.ts';

export class ClientPaymentStore extends PartyPaymentStore {
  protected readonly kind = 'charge' as const;

  /**
   * @param slackUnits how many units a charge may exceed the client's own count (0: none). A
   *   client that cannot count prompt tokens itself may allow a small margin.
   */
  private constructor(db: import('./sqlite.ts').SqliteDb, path: string, private readonly slackUnits: bigint, now?: () => number) {
    super(db, path, now);
  }

  static open(path: string, opts: PartyStoreOptions & { slackUnits?: bigint } = {}): ClientPaymentStore {
    return new ClientPaymentStore(PartyPaymentStore.openDb(path, 'client payment store', opts), path, opts.slackUnits ?? 0n, opts.now);
  }

  /** Counts an answer the client received (its usage), idempotent by request id; returns its units. */
  recordReceived(u: OwnUsage): bigint {
    return this.recordOwn(u);
  }

  /** The client contract's stake as last read from the chain (drives the half-stake rule). */
  recordStake(proxy: string, contract: string, stakeNano: bigint): void {
    proxy = this.key(proxy);
    contract = this.key(contract);
    this.ensure(proxy, contract, 0);
    this.db.prepare('UPDATE holdings SET stake_nano = ? WHERE proxy = ? AND contract = ?').run(storable('stake', stakeNano), proxy, contract);
  }

  protected perToken(p: PricingParams): number {
    return p.pricePerToken;
  }

  protected refuseSigned(row: HoldingRow | undefined, counter: bigint): string | null {
    const own = counterOfUnits((row?.own_counter ?? 0n) + this.slackUnits);
    if (counter <= own) return null;
    const per = Number(row?.per_token ?? 0n);
    const value = (c: bigint) => nanoToTon(c * BigInt(per));
    return `refusing a charge for ${counter} tokens (${value(counter)} TON) from proxy ${row?.proxy ?? '?'}: this client received only ${own} tokens (${value(own)} TON)`;
  }

  protected override dueReason(h: Holding): string | undefined {
    if (h.stakeNano !== null && h.stakeNano > 0n && h.unsettledNano * 2n >= h.stakeNano) {
      return `unsettled ${nanoToTon(h.unsettledNano)} TON reached half the stake (${nanoToTon(h.stakeNano)} TON)`;
    }
    return undefined;
  }
}

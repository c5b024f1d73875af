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
 * - The client's answer log (`client/answer-log.ts`) is kept here too (`loadAnswers`,
 *   `saveAnswers`), within `answerRetention` (the newest N answers, none older than D days).
 */
import type { PricingParams } from './pricing.ts';
import { PartyPaymentStore, type Holding, type HoldingRow, type OwnUsage, type PartyStoreOptions } from './party-payment-store.ts';
import { statement, storable } from './sqlite.ts';
import { CocoonError } from '../errors.ts';
import { randomBytes } from 'node:crypto';
import { nanoToTon } from './pricing.ts';
import { counterOfUnits } from './units.ts';

/** How much of the answer log the client keeps across restarts. */
export interface AnswerRetention {
  maxAnswers: number;
  maxAgeDays: number;
}

export const DEFAULT_ANSWER_RETENTION: AnswerRetention = { maxAnswers: 1000, maxAgeDays: 30 };

const DAY_MS = 86_400_000;

export class ClientPaymentStore extends PartyPaymentStore {
  protected readonly kind = 'charge' as const;

  /**
   * @param slackUnits how many units a charge may exceed the client's own count (0: none). A
   *   client that cannot count prompt tokens itself may allow a small margin.
   */
  private constructor(db: import('./sqlite.ts').SqliteDb, path: string, private readonly slackUnits: bigint, readonly answerRetention: AnswerRetention, now?: () => number, recentOwn?: number) {
    super(db, path, now, recentOwn);
  }

  static open(path: string, opts: PartyStoreOptions & { slackUnits?: bigint; answerRetention?: Partial<AnswerRetention> } = {}): ClientPaymentStore {
    const retention = { ...DEFAULT_ANSWER_RETENTION, ...opts.answerRetention };
    if (!Number.isInteger(retention.maxAnswers) || retention.maxAnswers < 1 || !(retention.maxAgeDays > 0)) {
      throw new CocoonError('bad_retention', `the answer log keeps at least 1 answer for more than 0 days, got ${retention.maxAnswers} answers, ${retention.maxAgeDays} days`);
    }
    return new ClientPaymentStore(PartyPaymentStore.openDb(path, 'client payment store', opts), path, opts.slackUnits ?? 0n, retention, opts.now, opts.recentOwn);
  }

  /**
   * The secret whose SHA-256 this client puts in its client contracts (short authorization: a
   * proxy that reads the hash lets the client prove the secret instead of sending a register
   * transaction per connection). Made once, 32 random bytes, kept in this file.
   */
  authSecret(): Buffer {
    const row = statement(this.db, 'SELECT secret FROM auth_secret WHERE id = 1').get() as { secret: Buffer } | undefined;
    if (row) return row.secret;
    statement(this.db, 'INSERT OR IGNORE INTO auth_secret (id, secret) VALUES (1, ?)').run(randomBytes(32));
    return (statement(this.db, 'SELECT secret FROM auth_secret WHERE id = 1').get() as { secret: Buffer }).secret;
  }

  /** The newest saved answers of the answer log (client/answer-log.ts), oldest first, at most `limit`. */
  loadAnswers(limit: number): { id: string; entry: string }[] {
    const cutoff = this.now() - this.answerRetention.maxAgeDays * DAY_MS;
    const rows = statement(this.db, 'SELECT id, entry FROM answer_log WHERE started_at >= ? ORDER BY started_at DESC, rowid DESC LIMIT ?')
      .all(cutoff, Math.min(limit, this.answerRetention.maxAnswers)) as { id: string; entry: string }[];
    return rows.reverse();
  }

  /**
   * Saves answer log entries (new or changed) in one transaction and drops what falls out of the
   * retention: older than `maxAgeDays`, or beyond the newest `maxAnswers`.
   */
  saveAnswers(rows: { id: string; startedAt: number; entry: string }[]): void {
    if (rows.length === 0 || !this.db.open) return;
    this.db.transaction(() => {
      const put = statement(this.db, 'INSERT INTO answer_log (id, started_at, entry) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET entry = excluded.entry');
      for (const r of rows) put.run(r.id, r.startedAt, r.entry);
      statement(this.db, 'DELETE FROM answer_log WHERE started_at < ?').run(this.now() - this.answerRetention.maxAgeDays * DAY_MS);
      statement(this.db, `DELETE FROM answer_log WHERE rowid IN (SELECT rowid FROM answer_log ORDER BY started_at DESC, rowid DESC LIMIT -1 OFFSET ?)`).run(this.answerRetention.maxAnswers);
    }).immediate();
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

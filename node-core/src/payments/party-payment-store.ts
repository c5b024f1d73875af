/**
 * What a client or a worker holds about its payments at each proxy (one row per proxy contract +
 * own contract): the best signed counter received and its message (what it can submit on chain),
 * the proxy's reported ledger counters, its own count of the units it received (client) or served
 * (worker), what the chain confirmed, and a rollback flag.
 *
 * Rollback detection: the proxy's counters only ever grow. A counter below one already held means
 * the proxy lost or rolled back its ledger; the store then sets a persistent flag with the reason,
 * and `isBlocked(proxy)` stays true — across restarts — until an operator clears it.
 *
 * Signature checking is not done here: the caller verifies the signed message with the contract
 * wrappers first and passes the counter it carries.
 */
import { CocoonError } from '../errors.ts';
import { canonicalAddress } from '../protocol/settlement.ts';
import type { PricingParams, TokenCounts } from './pricing.ts';
import { openStore, statement, storable, type SqliteDb } from './sqlite.ts';
import { counterOfUnits, counterUnits, nanoForCounter, COEFFICIENT_ONE } from './units.ts';
import { RecentIds } from './recent-ids.ts';
import { memoize } from '../memo.ts';
import {
  readSettlementState, writeSettlementState, SETTLEMENT_STATE_SQL,
  type SettlementAccount, type SettlementKind, type SettlementSource, type SettlementState,
} from './settlement-state.ts';

/** What the proxy reported with an answer (the reference's payment status: signed, db and max counters). */
export interface PaymentReport {
  proxy: string;
  contract: string;
  /** A signed counter already verified by the caller, with its message bytes. */
  signed?: { counter: bigint; message: Uint8Array };
  /** The proxy's counter committed to its ledger, and the highest it counted (may include answers in flight). */
  committedCounter?: bigint;
  maxCounter?: bigint;
}

export type CheckResult =
  | { ok: true; improved: boolean }
  | { ok: false; code: 'rollback' | 'charge_above_received' | 'blocked'; reason: string };

export interface Holding {
  proxy: string;
  contract: string;
  perToken: number;
  signedCounter: bigint;
  signedNano: bigint;
  signedMessage: Uint8Array | null;
  committedCounter: bigint;
  maxCounter: bigint;
  /** The party's own count: weight units received (client) or served (worker), and the counter they make. */
  ownUnits: bigint;
  ownCounter: bigint;
  ownNano: bigint;
  ownTokens: TokenCounts;
  onChainCounter: bigint;
  onChainNano: bigint;
  unsettledNano: bigint;
  unsettledSince: number | null;
  stakeNano: bigint | null;
  rollback: { reason: string; at: number } | null;
}

export interface OwnUsage {
  proxy: string;
  contract: string;
  requestId: string;
  tokens: TokenCounts;
  coefficient?: number;
  pricing: PricingParams;
}

const MIGRATIONS = [
  (db: SqliteDb) => db.exec(`
    CREATE TABLE holdings (
      proxy TEXT NOT NULL, contract TEXT NOT NULL,
      per_token INTEGER NOT NULL DEFAULT 0,
      signed_counter INTEGER NOT NULL DEFAULT 0, signed_message BLOB,
      committed_counter INTEGER NOT NULL DEFAULT 0, max_counter INTEGER NOT NULL DEFAULT 0,
      own_counter INTEGER NOT NULL DEFAULT 0, -- weight units (the counter is units / 10000)
      own_prompt INTEGER NOT NULL DEFAULT 0, own_cached INTEGER NOT NULL DEFAULT 0,
      own_completion INTEGER NOT NULL DEFAULT 0, own_reasoning INTEGER NOT NULL DEFAULT 0,
      onchain_counter INTEGER NOT NULL DEFAULT 0, unsettled_since INTEGER,
      stake_nano INTEGER,
      PRIMARY KEY (proxy, contract)
    );
    CREATE TABLE own_usage (request_id TEXT PRIMARY KEY, proxy TEXT NOT NULL, contract TEXT NOT NULL, units INTEGER NOT NULL, at INTEGER NOT NULL);
    CREATE TABLE rollbacks (proxy TEXT PRIMARY KEY, reason TEXT NOT NULL, at INTEGER NOT NULL);
    ${SETTLEMENT_STATE_SQL}`),
  // Keys under one spelling per address (canonicalAddress): rows written under another spelling of
  // an address (a proxy that announced the non-bounceable form) are renamed; a row whose canonical
  // twin exists already is left as it is (still listed and settled, never merged blindly).
  (db: SqliteDb) => {
    for (const [table, cols] of [['holdings', ['proxy', 'contract']], ['own_usage', ['proxy', 'contract']], ['rollbacks', ['proxy']], ['settlement_state', ['contract']]] as const) {
      for (const col of cols) {
        const rows = db.prepare(`SELECT DISTINCT ${col} AS v FROM ${table}`).all() as { v: string }[];
        for (const { v } of rows) {
          const c = canonicalAddress(v);
          if (c === v) continue;
          try {
            db.prepare(`UPDATE ${table} SET ${col} = ? WHERE ${col} = ?`).run(c, v);
          } catch (err) {
            if (!/UNIQUE|PRIMARY KEY/i.test((err as Error).message)) throw err;
          }
        }
      }
    }
  },
  // The client's answer log (client-payment-store.ts); a worker's file keeps it empty.
  (db: SqliteDb) => db.exec(`
    CREATE TABLE answer_log (id TEXT PRIMARY KEY, started_at INTEGER NOT NULL, entry TEXT NOT NULL);
    CREATE INDEX answer_log_started ON answer_log (started_at);`),
  // The client's secret for the short authorization (client-payment-store.ts `authSecret`).
  (db: SqliteDb) => db.exec('CREATE TABLE auth_secret (id INTEGER PRIMARY KEY CHECK (id = 1), secret BLOB NOT NULL)'),
  // Own counts keyed by a sequence instead of the random request id (see recent-ids.ts), same rows in the same order.
  (db: SqliteDb) => db.exec(`
    CREATE TABLE own_usage_by_seq (seq INTEGER PRIMARY KEY, request_id TEXT NOT NULL, proxy TEXT NOT NULL, contract TEXT NOT NULL, units INTEGER NOT NULL, at INTEGER NOT NULL);
    INSERT INTO own_usage_by_seq (request_id, proxy, contract, units, at) SELECT request_id, proxy, contract, units, at FROM own_usage ORDER BY at, rowid;
    DROP TABLE own_usage;
    ALTER TABLE own_usage_by_seq RENAME TO own_usage;`),
];

/** How many of the newest own counts are checked for a repeated request id (~100 bytes of memory each). */
export const DEFAULT_RECENT_OWN = 100_000;

type Row = {
  proxy: string; contract: string; per_token: bigint; signed_counter: bigint; signed_message: Buffer | null; committed_counter: bigint;
  max_counter: bigint; own_counter: bigint; own_prompt: bigint; own_cached: bigint; own_completion: bigint; own_reasoning: bigint;
  onchain_counter: bigint; unsettled_since: bigint | null; stake_nano: bigint | null;
};

export interface PartyStoreOptions {
  readonly?: boolean;
  now?: () => number;
  /** How many of the newest own counts are checked for a repeated request id (default `DEFAULT_RECENT_OWN`). */
  recentOwn?: number;
}

export abstract class PartyPaymentStore implements SettlementSource {
  protected abstract readonly kind: SettlementKind;
  protected readonly now: () => number;

  /**
   * The key of an address in this store (canonicalAddress): callers may pass any spelling (the
   * one the proxy announced, the one configured); remembered, as it is asked for with every answer.
   */
  protected readonly key = memoize(canonicalAddress, 1_000);

  protected constructor(protected readonly db: SqliteDb, readonly path: string, now?: () => number, recentOwn = DEFAULT_RECENT_OWN) {
    this.now = now ?? Date.now;
    this.ownTx = db.transaction((queued: { u: OwnUsage; units: bigint }[]) => {
      this.recordOwnInTx(queued);
      this.writeReports();
    });
    this.recentOwn = new RecentIds(recentOwn);
    if (!db.readonly) {
      this.recentOwn.addNewestFirst(db.prepare('SELECT request_id AS id, units AS value FROM own_usage ORDER BY seq DESC LIMIT ?').all(recentOwn) as { id: string; value: bigint }[]);
    }
  }

  /** The newest own counts' request ids → their units (the "already counted?" check, recent-ids.ts). */
  private readonly recentOwn: RecentIds<bigint>;

  protected static openDb(path: string, what: string, opts: PartyStoreOptions): SqliteDb {
    return openStore(path, { what, migrations: MIGRATIONS, readonly: opts.readonly });
  }

  close(): void {
    clearTimeout(this.reportTimer);
    if (this.db.open && !this.db.readonly) {
      this.flushOwn();
      this.db.transaction(() => this.writeReports()).immediate();
    }
    this.db.close();
  }

  /** Which price applies to this party's counters: the client pays the price, the worker gets the fee. */
  protected abstract perToken(pricing: PricingParams): number;
  /** Extra refusal a party applies to a signed counter (the client's "not above what I received"). */
  protected abstract refuseSigned(row: Row | undefined, counter: bigint): string | null;

  /**
   * Counts one answer the party itself received or served; idempotent by request id. Counts are
   * committed in groups: one transaction per `OWN_FLUSH_MS` (or `OWN_FLUSH_MAX` answers) instead
   * of one per answer, and always before a better signed counter is checked and kept, before
   * anything reads the counts from the file (holdings, settlement, status), and on close. So a
   * signed charge this party holds never exceeds the count on disk; a party killed with `kill -9`
   * may forget the answers of its last few milliseconds (as if it had died before counting them).
   */
  protected recordOwn(u: OwnUsage): bigint {
    u = { ...u, proxy: this.key(u.proxy), contract: this.key(u.contract) };
    const units = counterUnits(u.tokens, u.pricing.multipliers, u.coefficient ?? COEFFICIENT_ONE);
    const queued = this.pendingOwn.get(u.requestId);
    if (queued) return queued.units;
    const seen = this.recentOwn.get(u.requestId);
    if (seen !== undefined) return seen;
    if (!u.proxy || !u.contract) throw new CocoonError('bad_contract', 'a payment needs its proxy and contract addresses');
    storable('own counter', (this.row(u.proxy, u.contract)?.own_counter ?? 0n) + this.pendingUnits(u.proxy, u.contract) + units);
    this.pendingOwn.set(u.requestId, { u, units });
    const key = reportKey(u.proxy, u.contract);
    this.pendingSums.set(key, (this.pendingSums.get(key) ?? 0n) + units);
    if (this.pendingOwn.size >= OWN_FLUSH_MAX) this.flushOwn();
    else if (!this.ownTimer) {
      this.ownTimer = setTimeout(() => {
        this.ownTimer = undefined;
        if (this.db.open) this.flushOwn();
      }, OWN_FLUSH_MS);
      this.ownTimer.unref();
    }
    return units;
  }

  /** Answers counted but not yet committed, by request id. */
  private readonly pendingOwn = new Map<string, { u: OwnUsage; units: bigint }>();
  private ownTimer: NodeJS.Timeout | undefined;

  /** Units counted but not yet committed, per holding (`proxy|contract`). */
  private readonly pendingSums = new Map<string, bigint>();

  private pendingUnits(proxy: string, contract: string): bigint {
    return this.pendingSums.get(reportKey(proxy, contract)) ?? 0n;
  }

  /** Commits the queued own counts (and the reported counters waiting) in one transaction. */
  protected flushOwn(): void {
    clearTimeout(this.ownTimer);
    this.ownTimer = undefined;
    if (this.pendingOwn.size === 0) return;
    const queued = [...this.pendingOwn.values()];
    if (this.db.inTransaction) throw new CocoonError('store_busy', 'own counts are committed in their own transaction, not inside another');
    this.ownTx.immediate(queued);
    for (const { u, units } of queued) this.recentOwn.add(u.requestId, units);
    this.pendingOwn.clear();
    this.pendingSums.clear();
  }

  /** The transaction behind `flushOwn`, built once. */
  private readonly ownTx: import('better-sqlite3').Transaction<(queued: { u: OwnUsage; units: bigint }[]) => void>;

  /**
   * Commits a group of own counts: one row per answer (`recordOwn` already skipped a request id
   * counted before), then one update per holding with the group's sums.
   */
  private recordOwnInTx(queued: { u: OwnUsage; units: bigint }[]): void {
    const at = this.now();
    const sums = new Map<string, { u: OwnUsage; units: bigint; t: TokenCounts }>();
    const insert = statement(this.db, 'INSERT INTO own_usage (request_id, proxy, contract, units, at) VALUES (?, ?, ?, ?, ?)');
    for (const { u, units } of queued) {
      insert.run(u.requestId, u.proxy, u.contract, units, at);
      const key = reportKey(u.proxy, u.contract);
      const sum = sums.get(key);
      if (!sum) {
        sums.set(key, { u, units, t: { ...u.tokens } });
        continue;
      }
      sum.units += units;
      sum.t.prompt += u.tokens.prompt;
      sum.t.cached += u.tokens.cached;
      sum.t.completion += u.tokens.completion;
      sum.t.reasoning += u.tokens.reasoning;
    }
    for (const { u, units, t } of sums.values()) {
      this.ensure(u.proxy, u.contract, this.perToken(u.pricing));
      const cur = statement(this.db, 'SELECT own_counter FROM holdings WHERE proxy = ? AND contract = ?').get(u.proxy, u.contract) as { own_counter: bigint };
      storable('own counter', cur.own_counter + units);
      statement(this.db, `UPDATE holdings SET own_counter = own_counter + ?, own_prompt = own_prompt + ?, own_cached = own_cached + ?,
        own_completion = own_completion + ?, own_reasoning = own_reasoning + ? WHERE proxy = ? AND contract = ?`)
        .run(units, t.prompt, t.cached, t.completion, t.reasoning, u.proxy, u.contract);
    }
  }

  /**
   * Checks what a proxy reported against what this party holds, keeps it when it is better, and
   * flags a rollback when any counter went backwards. Call it for every payment message received.
   *
   * A better signed counter is written at once (it is money this party can claim). The proxy's
   * committed and ledger counters, which move with every answer, are kept in memory and written
   * with the next write of this store, by a timer within `REPORT_FLUSH_MS`, and on close: they
   * only sharpen rollback detection, which the signed counter already carries on disk.
   */
  check(report: PaymentReport): CheckResult {
    report = { ...report, proxy: this.key(report.proxy), contract: this.key(report.contract) };
    const blocked = this.rollbackOf(report.proxy);
    if (blocked) return { ok: false, code: 'blocked', reason: `work from proxy ${report.proxy} is stopped since ${new Date(blocked.at).toISOString()}: ${blocked.reason}` };
    let row = this.row(report.proxy, report.contract);
    if (report.signed && report.signed.counter > (row?.signed_counter ?? 0n) && this.pendingOwn.size > 0) {
      // A better signed counter is judged against (and kept beside) the count on disk.
      this.flushOwn();
      row = this.row(report.proxy, report.contract);
    }
    const key = reportKey(report.proxy, report.contract);
    const mem = this.reported.get(key);
    const held = { signed: row?.signed_counter ?? 0n, committed: maxOf(row?.committed_counter ?? 0n, mem?.committed), max: maxOf(row?.max_counter ?? 0n, mem?.max) };
    const backwards: string[] = [];
    if (report.signed && report.signed.counter < held.signed) backwards.push(`signed counter ${report.signed.counter} < ${held.signed} already held`);
    if (report.committedCounter !== undefined && report.committedCounter < held.committed) backwards.push(`committed counter ${report.committedCounter} < ${held.committed}`);
    if (report.maxCounter !== undefined && report.maxCounter < held.max) backwards.push(`ledger counter ${report.maxCounter} < ${held.max}`);
    if (backwards.length > 0) {
      const reason = `proxy ledger rolled back for contract ${report.contract}: ${backwards.join('; ')} (the proxy lost or restored an older ledger)`;
      this.flags.delete(report.proxy);
      statement(this.db, 'INSERT OR REPLACE INTO rollbacks (proxy, reason, at) VALUES (?, ?, ?)').run(report.proxy, reason, this.now());
      return { ok: false, code: 'rollback', reason };
    }
    if (report.signed) {
      const refusal = this.refuseSigned(row, report.signed.counter);
      if (refusal) return { ok: false, code: 'charge_above_received', reason: refusal };
    }
    const committed = report.committedCounter ?? held.committed;
    const max = report.maxCounter ?? held.max;
    if (committed > held.committed || max > held.max) {
      storable('committed counter', committed);
      storable('ledger counter', max);
      this.reported.set(key, { proxy: report.proxy, contract: report.contract, committed, max });
      this.flushReportsLater();
    }
    if (!row || (report.signed && report.signed.counter > held.signed)) {
      this.db.transaction(() => {
        this.ensure(report.proxy, report.contract, row ? Number(row.per_token) : 0);
        if (report.signed && report.signed.counter > held.signed) {
          storable('signed counter', report.signed.counter);
          // Read inside the write: another process (cocoon settle) may have moved the on-chain counter.
          const cur = this.row(report.proxy, report.contract);
          const onchain = cur?.onchain_counter ?? 0n;
          const since = cur?.unsettled_since ?? (report.signed.counter > onchain ? BigInt(this.now()) : null);
          statement(this.db, 'UPDATE holdings SET signed_counter = ?, signed_message = ?, unsettled_since = ? WHERE proxy = ? AND contract = ?')
            .run(report.signed.counter, Buffer.from(report.signed.message), since, report.proxy, report.contract);
        }
        this.writeReports();
      }).immediate();
      return { ok: true, improved: !!report.signed && report.signed.counter > held.signed };
    }
    return { ok: true, improved: false };
  }

  /** The proxy's reported counters not yet on disk, per `proxy|contract`. */
  private readonly reported = new Map<string, { proxy: string; contract: string; committed: bigint; max: bigint }>();
  private reportTimer: NodeJS.Timeout | undefined;

  private flushReportsLater(): void {
    if (this.reportTimer) return;
    this.reportTimer = setTimeout(() => {
      this.reportTimer = undefined;
      if (this.db.open) this.db.transaction(() => this.writeReports()).immediate();
    }, REPORT_FLUSH_MS);
    this.reportTimer.unref();
  }

  /** Writes the reported counters kept in memory (inside the caller's transaction). */
  protected writeReports(): void {
    if (this.reported.size === 0) return;
    for (const r of this.reported.values()) {
      this.ensure(r.proxy, r.contract, 0);
      statement(this.db, 'UPDATE holdings SET committed_counter = MAX(committed_counter, ?), max_counter = MAX(max_counter, ?) WHERE proxy = ? AND contract = ?')
        .run(r.committed, r.max, r.proxy, r.contract);
    }
    this.reported.clear();
  }

  /** The best signed counter held and the on-chain counter (a read per payment message; no flush of the queued counts). */
  signedCounters(proxy: string, contract: string): { signed: bigint; onChain: bigint } | null {
    const r = this.row(proxy, contract);
    return r ? { signed: r.signed_counter, onChain: r.onchain_counter } : null;
  }

  /** Flags a proxy this party stops dealing with (kept across restarts until `clearRollback`); the first reason stays. */
  flag(proxy: string, reason: string): void {
    proxy = this.key(proxy);
    this.flags.delete(proxy);
    statement(this.db, 'INSERT INTO rollbacks (proxy, reason, at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING').run(proxy, reason, this.now());
  }

  /** True while a rollback of this proxy is flagged: take no work from it. */
  isBlocked(proxy: string): boolean {
    return this.rollbackOf(proxy) !== null;
  }

  /**
   * The rollback flag of a proxy. The answer (flagged or not) is kept in memory: flags are set and
   * cleared through this store; a read-only store (status) reads the file each time.
   */
  rollbackOf(proxy: string): { reason: string; at: number } | null {
    proxy = this.key(proxy);
    const known = this.db.readonly ? undefined : this.flags.get(proxy);
    if (known !== undefined) return known;
    const r = statement(this.db, 'SELECT reason, at FROM rollbacks WHERE proxy = ?').get(proxy) as { reason: string; at: bigint } | undefined;
    const flag = r ? { reason: r.reason, at: Number(r.at) } : null;
    this.flags.set(proxy, flag);
    return flag;
  }

  private readonly flags = new Map<string, { reason: string; at: number } | null>();

  /**
   * Operator action after investigating a rollback. The held counters stay: the proxy must get
   * back above them (or be settled from the held signed message) — clearing does not forget.
   */
  clearRollback(proxy: string): boolean {
    proxy = this.key(proxy);
    this.flags.delete(proxy);
    return statement(this.db, 'DELETE FROM rollbacks WHERE proxy = ?').run(proxy).changes > 0;
  }

  /** Every flagged proxy with its reason (what `cocoon client|worker unblock-proxy` lists and clears). */
  flaggedProxies(): { proxy: string; reason: string; at: number }[] {
    return (statement(this.db, 'SELECT proxy, reason, at FROM rollbacks ORDER BY at').all() as { proxy: string; reason: string; at: bigint }[])
      .map((r) => ({ proxy: r.proxy, reason: r.reason, at: Number(r.at) }));
  }

  holdings(): Holding[] {
    this.flushOwn();
    return (statement(this.db, 'SELECT * FROM holdings ORDER BY proxy, contract').all() as Row[]).map((r) => this.toHolding(r));
  }

  holding(proxy: string, contract: string): Holding | undefined {
    this.flushOwn();
    const r = this.row(proxy, contract);
    return r ? this.toHolding(r) : undefined;
  }

  recordOnChain(_kind: SettlementKind, contract: string, counter: bigint, _at?: number): void {
    contract = this.key(contract);
    this.rows.clear();
    this.db.transaction(() => {
      for (const r of statement(this.db, 'SELECT * FROM holdings WHERE contract = ?').all(contract) as Row[]) {
        if (counter <= r.onchain_counter) continue;
        const settled = counter >= r.signed_counter;
        statement(this.db, 'UPDATE holdings SET onchain_counter = ?, unsettled_since = ? WHERE proxy = ? AND contract = ?')
          .run(storable('on-chain counter', counter), settled ? null : r.unsettled_since, r.proxy, r.contract);
      }
    }).immediate();
  }

  settlementAccounts(): SettlementAccount[] {
    this.flushOwn();
    const rows = statement(this.db, 'SELECT * FROM holdings WHERE signed_counter > onchain_counter AND signed_message IS NOT NULL').all() as Row[];
    // A blocked proxy still gets its last good signed counter settled: that is money already earned or owed.
    return rows.map((r) => {
      const h = this.toHolding(r);
      return {
        kind: this.kind, contract: r.contract, signedCounter: h.signedCounter, signedMessage: h.signedMessage, onChainCounter: h.onChainCounter,
        unsettledNano: h.unsettledNano, unsettledSince: h.unsettledSince, dueReason: this.dueReason(h),
      };
    });
  }

  /** A party's own reason to submit now regardless of the fee threshold. */
  protected dueReason(_h: Holding): string | undefined {
    return undefined;
  }

  settlementState(kind: SettlementKind, contract: string): SettlementState {
    return readSettlementState(this.db, kind, this.key(contract));
  }

  saveSettlementState(kind: SettlementKind, contract: string, state: SettlementState): void {
    writeSettlementState(this.db, kind, this.key(contract), state);
  }

  protected ensure(proxy: string, contract: string, perToken: number): void {
    if (!proxy || !contract) throw new CocoonError('bad_contract', 'a payment needs its proxy and contract addresses');
    proxy = this.key(proxy);
    contract = this.key(contract);
    // Every write to a holding goes through here first: its cached row is no longer current.
    this.rows.delete(reportKey(proxy, contract));
    statement(this.db, 'INSERT INTO holdings (proxy, contract, per_token) VALUES (?, ?, ?) ON CONFLICT DO NOTHING').run(proxy, contract, perToken);
    if (perToken > 0) statement(this.db, 'UPDATE holdings SET per_token = ? WHERE proxy = ? AND contract = ? AND per_token = 0').run(perToken, proxy, contract);
  }

  /**
   * A holding's row. Outside a transaction a row read since this process last wrote that holding
   * is reused (a party reads it several times per answer: its own count, the payment message's
   * check); inside one it is always read from the file. Only this process writes the counters it
   * checks against; another process (`cocoon settle`) only moves the on-chain counter, which the
   * write paths re-read inside their transactions. A read-only store (status) never caches.
   */
  protected row(proxy: string, contract: string): Row | undefined {
    proxy = this.key(proxy);
    contract = this.key(contract);
    const key = reportKey(proxy, contract);
    const cache = !this.db.inTransaction && !this.db.readonly;
    if (cache) {
      const hit = this.rows.get(key);
      if (hit) return hit;
    }
    const r = statement(this.db, 'SELECT * FROM holdings WHERE proxy = ? AND contract = ?').get(proxy, contract) as Row | undefined;
    if (r && cache) {
      if (this.rows.size > 10_000) this.rows.clear();
      this.rows.set(key, r);
    }
    return r;
  }

  private readonly rows = new Map<string, Row>();

  private toHolding(r: Row): Holding {
    const per = Number(r.per_token);
    const v = (c: bigint) => nanoForCounter(c, per);
    return {
      proxy: r.proxy, contract: r.contract, perToken: per,
      signedCounter: r.signed_counter, signedNano: v(r.signed_counter), signedMessage: r.signed_message ? new Uint8Array(r.signed_message) : null,
      committedCounter: maxOf(r.committed_counter, this.reported.get(reportKey(r.proxy, r.contract))?.committed),
      maxCounter: maxOf(r.max_counter, this.reported.get(reportKey(r.proxy, r.contract))?.max),
      ownUnits: r.own_counter, ownCounter: counterOfUnits(r.own_counter), ownNano: v(counterOfUnits(r.own_counter)),
      ownTokens: { prompt: Number(r.own_prompt), cached: Number(r.own_cached), completion: Number(r.own_completion), reasoning: Number(r.own_reasoning) },
      onChainCounter: r.onchain_counter, onChainNano: v(r.onchain_counter),
      unsettledNano: v(r.signed_counter) - v(r.onchain_counter),
      unsettledSince: r.unsettled_since === null ? null : Number(r.unsettled_since),
      stakeNano: r.stake_nano,
      rollback: this.rollbackOf(r.proxy),
    };
  }
}

export type { Row as HoldingRow };

/**
 * How long, and for how many answers, a party's own counts may wait for their commit. They are
 * committed anyway before a better signed counter is kept (every 200 ms per contract from a busy
 * proxy), so this only bounds what a kill -9 forgets between signatures.
 */
const OWN_FLUSH_MS = 100;
const OWN_FLUSH_MAX = 256;

/** How long the proxy's reported counters may stay in memory only. */
const REPORT_FLUSH_MS = 1_000;

const reportKey = (proxy: string, contract: string) => `${proxy}|${contract}`;
const maxOf = (a: bigint, b: bigint | undefined) => (b !== undefined && b > a ? b : a);

/**
 * The proxy's ledger: one SQLite file per proxy contract. For every client contract and worker
 * contract it serves it keeps the cumulative token counts by kind, the cumulative weight units, the
 * counter derived from them (adjusted tokens: what the proxy signs and the contracts hold), the
 * nanoTON that counter is worth, the last counter it signed and the last counter the chain confirmed.
 *
 * An answer is committed once, when it ends (completed, cancelled by the client, or failed after
 * tokens were produced): `recordAnswer` moves the client's and the worker's counters and the
 * proxy's earnings in ONE transaction. A request id recorded again is a no-op; answers are kept
 * in arrival order (a sequence key: appending is cheap, an index on random ids is not) and the
 * newest ids are checked in memory (`RecentIds`, reloaded on open). Streaming chunks never touch
 * the file.
 *
 * Invariant, exact to the nanoTON (`audit()`): Σ clients' nanoTON = Σ workers' nanoTON + the
 * proxy's earnings, Σ client units = Σ worker units = Σ answers' units, and every counter is
 * floor(units / 10000) of its account.
 */
import { CocoonError } from '../errors.ts';
import { TOKEN_KINDS, type PricingParams, type TokenCounts } from './pricing.ts';
import { openStore, statement, storable, type SqliteDb } from './sqlite.ts';
import { adjustedUnits, clientNano, counterOfUnits, pricingKey, workerNano, COEFFICIENT_ONE } from './units.ts';
import { RecentIds } from './recent-ids.ts';
import {
  readSettlementState, writeSettlementState, SETTLEMENT_STATE_SQL,
  type SettlementAccount, type SettlementKind, type SettlementSource, type SettlementState,
} from './settlement-state.ts';

export type Party = 'client' | 'worker';
/** How an answer ended; all three are charged for what was produced. */
export type AnswerOutcome = 'completed' | 'cancelled' | 'failed';

export interface AnswerUsage {
  /**
   * Unique per answer (the proxy's request id for that attempt); a second record with an id among
   * the newest `ProxyLedgerOptions.recentAnswers` is a no-op.
   */
  requestId: string;
  clientContract: string;
  workerContract: string;
  /**
   * Adjusted tokens per kind, as the worker reported them (`tokens_used`, adjusted-tokens.ts: its
   * coefficient and the root's multipliers already applied); the answer moves Σ kinds.
   */
  tokens: TokenCounts;
  /** The serving worker's price coefficient in thousandths (1000 = base price), kept with the answer. */
  coefficient?: number;
  outcome: AnswerOutcome;
}

function checkUsage(usage: AnswerUsage): void {
  if (!usage.requestId) throw new CocoonError('bad_request_id', 'an answer needs a request id to be recorded');
  if (usage.clientContract === '' || usage.workerContract === '') throw new CocoonError('bad_contract', 'an answer needs its client and worker contracts');
}

export interface RecordedAnswer {
  /** True when this request id was already recorded; nothing moved this time. */
  duplicate: boolean;
  units: bigint;
  clientNano: bigint;
  workerNano: bigint;
  proxyNano: bigint;
  /** The client's and worker's cumulative counters after this answer. */
  clientCounter: bigint;
  workerCounter: bigint;
}

export interface LedgerAccount {
  party: Party;
  contract: string;
  tokens: TokenCounts;
  answers: number;
  /** Cumulative weight units (exact; the counter is floor(units / 10000)). */
  units: bigint;
  /** Cumulative counter (adjusted tokens) and its worth: what the ledger says (charged for a client, earned for a worker). */
  counter: bigint;
  nano: bigint;
  signedCounter: bigint;
  signedNano: bigint;
  signedMessage: Uint8Array | null;
  onChainCounter: bigint;
  onChainNano: bigint;
  /** signed − on chain, nanoTON: what submitting the signed message settles now. */
  unsettledNano: bigint;
  /** ledger − on chain, nanoTON: everything not yet on chain. */
  owedNano: bigint;
  unsettledSince: number | null;
}

export interface LedgerAudit {
  ok: boolean;
  problems: string[];
  clientsNano: bigint;
  workersNano: bigint;
  proxyEarnedNano: bigint;
  answers: number;
}

const MIGRATIONS = [
  (db: SqliteDb) => db.exec(`
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE accounts (
      party TEXT NOT NULL CHECK (party IN ('client', 'worker')),
      contract TEXT NOT NULL,
      prompt INTEGER NOT NULL DEFAULT 0, cached INTEGER NOT NULL DEFAULT 0,
      completion INTEGER NOT NULL DEFAULT 0, reasoning INTEGER NOT NULL DEFAULT 0,
      answers INTEGER NOT NULL DEFAULT 0,
      units INTEGER NOT NULL DEFAULT 0,
      counter INTEGER NOT NULL DEFAULT 0,
      nano INTEGER NOT NULL DEFAULT 0,
      signed_counter INTEGER NOT NULL DEFAULT 0,
      signed_message BLOB,
      onchain_counter INTEGER NOT NULL DEFAULT 0,
      unsettled_since INTEGER,
      PRIMARY KEY (party, contract),
      CHECK (signed_counter <= counter AND onchain_counter <= counter)
    );
    CREATE TABLE answers (
      request_id TEXT PRIMARY KEY,
      client TEXT NOT NULL, worker TEXT NOT NULL,
      outcome TEXT NOT NULL CHECK (outcome IN ('completed', 'cancelled', 'failed')),
      prompt INTEGER NOT NULL, cached INTEGER NOT NULL, completion INTEGER NOT NULL, reasoning INTEGER NOT NULL,
      coefficient INTEGER NOT NULL,
      units INTEGER NOT NULL, client_nano INTEGER NOT NULL, worker_nano INTEGER NOT NULL, proxy_nano INTEGER NOT NULL,
      recorded_at INTEGER NOT NULL
    );
    CREATE TABLE proxy_totals (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      earned_nano INTEGER NOT NULL DEFAULT 0,
      answers INTEGER NOT NULL DEFAULT 0,
      onchain_earned_nano INTEGER
    );
    INSERT INTO proxy_totals (id) VALUES (1);
    ${SETTLEMENT_STATE_SQL}`),
  // Answers keyed by a sequence instead of the random request id (see recent-ids.ts), same rows in the same order.
  (db: SqliteDb) => db.exec(`
    CREATE TABLE answers_by_seq (
      seq INTEGER PRIMARY KEY,
      request_id TEXT NOT NULL,
      client TEXT NOT NULL, worker TEXT NOT NULL,
      outcome TEXT NOT NULL CHECK (outcome IN ('completed', 'cancelled', 'failed')),
      prompt INTEGER NOT NULL, cached INTEGER NOT NULL, completion INTEGER NOT NULL, reasoning INTEGER NOT NULL,
      coefficient INTEGER NOT NULL,
      units INTEGER NOT NULL, client_nano INTEGER NOT NULL, worker_nano INTEGER NOT NULL, proxy_nano INTEGER NOT NULL,
      recorded_at INTEGER NOT NULL
    );
    INSERT INTO answers_by_seq (request_id, client, worker, outcome, prompt, cached, completion, reasoning, coefficient, units,
      client_nano, worker_nano, proxy_nano, recorded_at)
      SELECT request_id, client, worker, outcome, prompt, cached, completion, reasoning, coefficient, units,
        client_nano, worker_nano, proxy_nano, recorded_at FROM answers ORDER BY recorded_at, rowid;
    DROP TABLE answers;
    ALTER TABLE answers_by_seq RENAME TO answers;`),
];

/** How many of the newest request ids the ledger checks for a repeat (~100 bytes of memory each). */
export const DEFAULT_RECENT_ANSWERS = 100_000;

type AccountRow = {
  party: Party; contract: string; prompt: bigint; cached: bigint; completion: bigint; reasoning: bigint; answers: bigint;
  units: bigint; counter: bigint; nano: bigint; signed_counter: bigint; signed_message: Buffer | null; onchain_counter: bigint; unsettled_since: bigint | null;
};
type AnswerRow = { client: string; worker: string; units: bigint; client_nano: bigint; worker_nano: bigint; proxy_nano: bigint };

export interface ProxyLedgerOptions {
  /** The proxy contract's pricing; the file remembers it and refuses another (a new price means a new proxy contract). */
  pricing: PricingParams;
  readonly?: boolean;
  synchronous?: 'NORMAL' | 'FULL';
  now?: () => number;
  /** How many of the newest request ids are checked for a repeat (default `DEFAULT_RECENT_ANSWERS`). */
  recentAnswers?: number;
}

export class ProxyLedger implements SettlementSource {
  readonly pricing: PricingParams;
  private readonly now: () => number;
  private readonly stmt;
  private readonly runTx: import('better-sqlite3').Transaction<(fn: () => unknown) => unknown>;
  /** The newest answers' request ids → their `seq`. */
  private readonly recent: RecentIds<bigint>;

  private constructor(private readonly db: SqliteDb, readonly path: string, pricing: PricingParams, now: () => number, recentAnswers = DEFAULT_RECENT_ANSWERS) {
    this.pricing = pricing;
    this.now = now;
    this.recent = new RecentIds(recentAnswers);
    if (!db.readonly) {
      this.recent.addNewestFirst(db.prepare('SELECT request_id AS id, seq AS value FROM answers ORDER BY seq DESC LIMIT ?').all(recentAnswers) as { id: string; value: bigint }[]);
    }
    this.stmt = {
      answer: db.prepare('SELECT client, worker, units, client_nano, worker_nano, proxy_nano FROM answers WHERE seq = ?'),
      account: db.prepare('SELECT * FROM accounts WHERE party = ? AND contract = ?'),
      insertAnswer: db.prepare(`INSERT INTO answers (request_id, client, worker, outcome, prompt, cached, completion, reasoning,
        coefficient, units, client_nano, worker_nano, proxy_nano, recorded_at)
        VALUES (@requestId, @client, @worker, @outcome, @prompt, @cached, @completion, @reasoning, @coefficient, @units,
          @clientNano, @workerNano, @proxyNano, @at)`),
      upsert: db.prepare(`INSERT INTO accounts (party, contract, prompt, cached, completion, reasoning, answers, units, counter, nano)
        VALUES (@party, @contract, @prompt, @cached, @completion, @reasoning, @answers, @units, @counter, @nano)
        ON CONFLICT (party, contract) DO UPDATE SET prompt = prompt + @prompt, cached = cached + @cached,
          completion = completion + @completion, reasoning = reasoning + @reasoning, answers = answers + @answers,
          units = @units, counter = @counter, nano = @nano`),
      earn: db.prepare('UPDATE proxy_totals SET earned_nano = earned_nano + ?, answers = answers + ? WHERE id = 1'),
    };
    this.runTx = db.transaction((fn: () => unknown) => fn());
  }

  /**
   * Runs `fn` in one write transaction (a savepoint when nested): the ledger's own writes inside
   * it (an answer, the signatures it triggers) commit together, with one WAL commit per answer
   * end. Request ids recorded in it join the window of recent ids once the outermost transaction
   * committed, and are dropped if their part rolled back.
   */
  transaction<T>(fn: () => T): T {
    const outermost = !this.db.inTransaction;
    const mark = this.recent.mark();
    try {
      const result = this.runTx.immediate(fn) as T;
      if (outermost) {
        this.recent.publish();
        for (const [key, r] of this.txRows) this.cache(key, r);
        this.txRows.clear();
      }
      return result;
    } catch (err) {
      this.recent.rollbackTo(outermost ? 0 : mark);
      // Rows written in the failed part are unknown now: read them from the file again.
      this.txRows.clear();
      throw err;
    }
  }

  static open(path: string, opts: ProxyLedgerOptions): ProxyLedger {
    if (opts.pricing.workerFeePerToken > opts.pricing.pricePerToken) {
      throw new CocoonError('bad_pricing', `the worker fee (${opts.pricing.workerFeePerToken}) exceeds the price (${opts.pricing.pricePerToken})`);
    }
    const db = openStore(path, { what: 'proxy ledger', migrations: MIGRATIONS, readonly: opts.readonly, synchronous: opts.synchronous });
    try {
      const key = pricingKey(opts.pricing);
      const stored = db.prepare("SELECT value FROM meta WHERE key = 'pricing'").get() as { value: string } | undefined;
      if (stored && stored.value !== key) {
        throw new CocoonError('ledger_pricing_mismatch', `the proxy ledger at ${path} was kept at pricing ${stored.value}, not ${key}`, {
          hint: 'a price change means a new proxy contract, and a new ledger file for it; keep the old file until its contract is settled',
        });
      }
      if (!stored && !opts.readonly) db.prepare("INSERT INTO meta (key, value) VALUES ('pricing', ?)").run(key);
    } catch (err) {
      db.close();
      throw err;
    }
    return new ProxyLedger(db, path, opts.pricing, opts.now ?? Date.now, opts.recentAnswers);
  }

  /** Opens an existing ledger for reading (status), with the pricing it was kept at. */
  static openForReading(path: string): ProxyLedger {
    return ProxyLedger.openExisting(path, true);
  }

  /** Opens an existing ledger with the pricing it was kept at (`cocoon settle`, which only moves on-chain counters). */
  static openExisting(path: string, readonly = false): ProxyLedger {
    const db = openStore(path, { what: 'proxy ledger', migrations: MIGRATIONS, readonly });
    const stored = db.prepare("SELECT value FROM meta WHERE key = 'pricing'").get() as { value: string } | undefined;
    if (!stored) {
      db.close();
      throw new CocoonError('ledger_empty', `the proxy ledger at ${path} has no pricing recorded yet`);
    }
    const p = JSON.parse(stored.value) as { price: number; fee: number; m: [number, number, number, number] };
    const pricing: PricingParams = {
      pricePerToken: p.price, workerFeePerToken: p.fee,
      multipliers: { prompt: p.m[0], cached: p.m[1], completion: p.m[2], reasoning: p.m[3] },
    };
    return new ProxyLedger(db, path, pricing, Date.now);
  }

  close(): void {
    this.db.close();
  }

  /** Commits one answer's usage for its client and worker atomically; idempotent by request id. */
  recordAnswer(usage: AnswerUsage): RecordedAnswer {
    return this.recordAnswers([usage])[0]!;
  }

  /**
   * Commits several answers in one transaction (the proxy's group commit): the same rows and
   * results as `recordAnswer` one after the other, with each account read and written once per
   * group instead of once per answer (an answer costs one duplicate check and one insert). All
   * or nothing: a failing answer rolls the whole group back.
   */
  recordAnswers(usages: AnswerUsage[]): RecordedAnswer[] {
    for (const u of usages) checkUsage(u);
    return this.transaction(() => this.recordManyInTx(usages));
  }

  private recordManyInTx(usages: AnswerUsage[]): RecordedAnswer[] {
    type Acc = { party: Party; contract: string; row: AccountRow | undefined; units: bigint; counter: bigint; tokens: TokenCounts; answers: number };
    const accounts = new Map<string, Acc>();
    const account = (party: Party, contract: string): Acc => {
      const key = `${party}:${contract}`;
      let a = accounts.get(key);
      if (!a) {
        const r = this.row(party, contract);
        a = { party, contract, row: r, units: r?.units ?? 0n, counter: r?.counter ?? 0n, tokens: { prompt: 0, cached: 0, completion: 0, reasoning: 0 }, answers: 0 };
        accounts.set(key, a);
      }
      return a;
    };
    let earned = 0n;
    let answers = 0;
    const out: RecordedAnswer[] = [];
    const at = this.now();
    for (const u of usages) {
      const c = account('client', u.clientContract);
      const w = account('worker', u.workerContract);
      const seq = this.recent.get(u.requestId);
      const seen = seq === undefined ? undefined : this.stmt.answer.get(seq) as AnswerRow | undefined;
      if (seen) {
        if (seen.client !== u.clientContract || seen.worker !== u.workerContract) {
          throw new CocoonError('request_id_reused', `request id ${u.requestId} was already recorded for another client/worker`);
        }
        out.push({ duplicate: true, units: seen.units, clientNano: seen.client_nano, workerNano: seen.worker_nano, proxyNano: seen.proxy_nano, clientCounter: c.counter, workerCounter: w.counter });
        continue;
      }
      const units = adjustedUnits(u.tokens);
      const cu1 = storable('client units', c.units + units);
      const wu1 = storable('worker units', w.units + units);
      const c1 = counterOfUnits(cu1);
      const w1 = counterOfUnits(wu1);
      const clientDelta = clientNano(c1, this.pricing) - clientNano(c.counter, this.pricing);
      const workerDelta = workerNano(w1, this.pricing) - workerNano(w.counter, this.pricing);
      const proxyDelta = clientDelta - workerDelta;
      for (const a of [c, w]) {
        for (const k of TOKEN_KINDS) a.tokens[k] += u.tokens[k];
        a.answers++;
      }
      c.units = cu1; c.counter = c1;
      w.units = wu1; w.counter = w1;
      const { lastInsertRowid } = this.stmt.insertAnswer.run({
        requestId: u.requestId, client: u.clientContract, worker: u.workerContract, outcome: u.outcome, ...u.tokens, coefficient: u.coefficient ?? COEFFICIENT_ONE,
        units, clientNano: clientDelta, workerNano: workerDelta, proxyNano: proxyDelta, at,
      });
      this.recent.stage(u.requestId, BigInt(lastInsertRowid));
      earned += proxyDelta;
      answers++;
      out.push({ duplicate: false, units, clientNano: clientDelta, workerNano: workerDelta, proxyNano: proxyDelta, clientCounter: c1, workerCounter: w1 });
    }
    for (const a of accounts.values()) {
      if (a.answers === 0) continue;
      const nano = a.party === 'client' ? clientNano(a.counter, this.pricing) : workerNano(a.counter, this.pricing);
      this.stmt.upsert.run({ party: a.party, contract: a.contract, ...a.tokens, answers: a.answers, units: a.units, counter: a.counter, nano });
      // The row as the upsert left it (the old row was read in this transaction).
      const r = a.row ?? { party: a.party, contract: a.contract, prompt: 0n, cached: 0n, completion: 0n, reasoning: 0n, answers: 0n, units: 0n, counter: 0n, nano: 0n,
        signed_counter: 0n, signed_message: null, onchain_counter: 0n, unsettled_since: null };
      this.written({
        ...r, prompt: r.prompt + BigInt(a.tokens.prompt), cached: r.cached + BigInt(a.tokens.cached), completion: r.completion + BigInt(a.tokens.completion),
        reasoning: r.reasoning + BigInt(a.tokens.reasoning), answers: r.answers + BigInt(a.answers), units: a.units, counter: a.counter, nano,
      });
    }
    if (answers > 0) this.stmt.earn.run(earned, answers);
    return out;
  }

  /** Whether this request id is anywhere in the ledger (a scan of every answer: for tests and tools, not the hot path). */
  hasAnswer(requestId: string): boolean {
    return statement(this.db, 'SELECT 1 FROM answers WHERE request_id = ? LIMIT 1').get(requestId) !== undefined;
  }

  /**
   * Stores the message the proxy signed for a contract's counter. The counter may not exceed the
   * ledger (the proxy never signs what it did not count) nor go below a counter already signed.
   */
  recordSigned(party: Party, contract: string, counter: bigint, signedMessage: Uint8Array): void {
    this.transaction(() => {
      const row = this.row(party, contract);
      if (!row) throw new CocoonError('unknown_account', `no ${party} contract ${contract} in the ledger`);
      if (counter > row.counter) throw new CocoonError('sign_above_ledger', `refusing to keep a signed counter ${counter} above the ledger's ${row.counter} for ${party} ${contract}`);
      if (counter < row.signed_counter) throw new CocoonError('sign_below_signed', `a signed counter ${counter} is below the one already signed (${row.signed_counter}) for ${party} ${contract}`);
      if (counter === row.signed_counter && row.signed_message) return;
      const since = row.unsettled_since ?? (counter > row.onchain_counter ? BigInt(this.now()) : null);
      const message = Buffer.from(signedMessage);
      statement(this.db, 'UPDATE accounts SET signed_counter = ?, signed_message = ?, unsettled_since = ? WHERE party = ? AND contract = ?')
        .run(counter, message, since, party, contract);
      this.written({ ...row, signed_counter: counter, signed_message: message, unsettled_since: since });
    });
  }

  recordOnChain(kind: SettlementKind, contract: string, counter: bigint, _at?: number): void {
    const party: Party = kind === 'charge' ? 'client' : 'worker';
    this.transaction(() => {
      const row = this.row(party, contract);
      if (!row || counter <= row.onchain_counter) return;
      if (counter > row.counter) {
        // The chain holds more than this ledger ever counted: the ledger was rolled back or replaced.
        throw new CocoonError('ledger_behind_chain', `the chain holds counter ${counter} for ${party} ${contract} but this ledger only counted ${row.counter}`, {
          hint: 'this ledger file is older than what the proxy signed; restore the newest copy before serving again',
        });
      }
      const since = counter >= row.signed_counter ? null : row.unsettled_since;
      statement(this.db, 'UPDATE accounts SET onchain_counter = ?, unsettled_since = ? WHERE party = ? AND contract = ?')
        .run(counter, since, party, contract);
      this.written({ ...row, onchain_counter: counter, unsettled_since: since });
    });
  }

  /** The proxy contract's earnings as last read from the chain. */
  recordProxyOnChain(earnedNano: bigint): void {
    statement(this.db, 'UPDATE proxy_totals SET onchain_earned_nano = ? WHERE id = 1').run(storable('earned', earnedNano));
  }

  account(party: Party, contract: string): LedgerAccount | undefined {
    const row = this.row(party, contract);
    return row ? this.toAccount(row) : undefined;
  }

  /**
   * What the runner sends a party with every answer: the ledger counter, the last signed counter
   * and its message, read from the cached row without copies (the message bytes are shared: do
   * not modify them).
   */
  paymentOf(party: Party, contract: string): { counter: bigint; signedCounter: bigint; signedMessage: Buffer | null } | undefined {
    const r = this.row(party, contract);
    return r ? { counter: r.counter, signedCounter: r.signed_counter, signedMessage: r.signed_message } : undefined;
  }

  accounts(party: Party): LedgerAccount[] {
    return (statement(this.db, 'SELECT * FROM accounts WHERE party = ? ORDER BY contract').all(party) as AccountRow[]).map((r) => this.toAccount(r));
  }

  /**
   * The answers recorded for one client or worker contract since `since` (ms), oldest first, with
   * what each moved for that party (the client's charge or the worker's share, nanoTON): the
   * owner's earnings chart and the app's per-answer views read this.
   */
  answersFor(party: Party, contract: string, since = 0): Array<{ requestId: string; at: number; outcome: AnswerOutcome; tokens: TokenCounts; nano: bigint }> {
    const rows = this.db.prepare(`SELECT request_id, recorded_at, outcome, prompt, cached, completion, reasoning, client_nano, worker_nano FROM answers
      WHERE ${party === 'client' ? 'client' : 'worker'} = ? AND recorded_at >= ? ORDER BY seq`).all(contract, since) as
      Array<{ request_id: string; recorded_at: bigint; outcome: AnswerOutcome; prompt: bigint; cached: bigint; completion: bigint; reasoning: bigint; client_nano: bigint; worker_nano: bigint }>;
    return rows.map((r) => ({
      requestId: r.request_id, at: Number(r.recorded_at), outcome: r.outcome,
      tokens: { prompt: Number(r.prompt), cached: Number(r.cached), completion: Number(r.completion), reasoning: Number(r.reasoning) },
      nano: party === 'client' ? r.client_nano : r.worker_nano,
    }));
  }

  proxyTotals(): { earnedNano: bigint; answers: number; onChainEarnedNano: bigint | null } {
    const r = statement(this.db, 'SELECT earned_nano, answers, onchain_earned_nano FROM proxy_totals WHERE id = 1').get() as
      { earned_nano: bigint; answers: bigint; onchain_earned_nano: bigint | null };
    return { earnedNano: r.earned_nano, answers: Number(r.answers), onChainEarnedNano: r.onchain_earned_nano };
  }

  /** Accounts whose ledger counter is above the last signed one (batched signing left them for later, or a crash did). */
  unsignedAccounts(): { party: Party; contract: string; counter: bigint; signedCounter: bigint }[] {
    return (statement(this.db, 'SELECT party, contract, counter, signed_counter FROM accounts WHERE counter > signed_counter OR signed_message IS NULL ORDER BY party, contract').all() as
      { party: Party; contract: string; counter: bigint; signed_counter: bigint }[])
      .filter((r) => r.counter > 0n)
      .map((r) => ({ party: r.party, contract: r.contract, counter: r.counter, signedCounter: r.signed_counter }));
  }

  settlementAccounts(): SettlementAccount[] {
    const rows = statement(this.db, 'SELECT * FROM accounts WHERE signed_counter > onchain_counter ORDER BY party, contract').all() as AccountRow[];
    return rows.map((r) => {
      const a = this.toAccount(r);
      return {
        kind: r.party === 'client' ? 'charge' : 'payout', contract: r.contract, signedCounter: a.signedCounter, signedMessage: a.signedMessage,
        onChainCounter: a.onChainCounter, unsettledNano: a.unsettledNano, unsettledSince: a.unsettledSince,
      } satisfies SettlementAccount;
    });
  }

  settlementState(kind: SettlementKind, contract: string): SettlementState {
    return readSettlementState(this.db, kind, contract);
  }

  saveSettlementState(kind: SettlementKind, contract: string, state: SettlementState): void {
    writeSettlementState(this.db, kind, contract, state);
  }

  /** Checks the ledger's invariants exactly; used by tests, status and on start. */
  audit(): LedgerAudit {
    const problems: string[] = [];
    const one = <T>(sql: string) => statement(this.db, sql).get() as T;
    const sums = one<{ cn: bigint | null; wn: bigint | null; cc: bigint | null; wc: bigint | null }>(`SELECT
      (SELECT SUM(nano) FROM accounts WHERE party = 'client') AS cn, (SELECT SUM(nano) FROM accounts WHERE party = 'worker') AS wn,
      (SELECT SUM(units) FROM accounts WHERE party = 'client') AS cc, (SELECT SUM(units) FROM accounts WHERE party = 'worker') AS wc`);
    const ans = one<{ n: bigint; u: bigint | null; cn: bigint | null; wn: bigint | null; pn: bigint | null }>(
      'SELECT COUNT(*) AS n, SUM(units) AS u, SUM(client_nano) AS cn, SUM(worker_nano) AS wn, SUM(proxy_nano) AS pn FROM answers');
    const totals = this.proxyTotals();
    const clientsNano = sums.cn ?? 0n;
    const workersNano = sums.wn ?? 0n;
    if (clientsNano !== workersNano + totals.earnedNano) problems.push(`Σ clients ${clientsNano} ≠ Σ workers ${workersNano} + proxy ${totals.earnedNano}`);
    if ((sums.cc ?? 0n) !== (ans.u ?? 0n) || (sums.wc ?? 0n) !== (ans.u ?? 0n)) problems.push(`units: clients ${sums.cc ?? 0n}, workers ${sums.wc ?? 0n}, answers ${ans.u ?? 0n}`);
    if ((ans.cn ?? 0n) !== clientsNano || (ans.wn ?? 0n) !== workersNano || (ans.pn ?? 0n) !== totals.earnedNano) problems.push('answers do not sum to the accounts');
    if (Number(ans.n) !== totals.answers) problems.push(`answers ${ans.n} ≠ proxy total ${totals.answers}`);
    for (const party of ['client', 'worker'] as const) {
      const per = statement(this.db, `SELECT a.contract, a.units, a.counter, a.nano, a.answers, x.u, x.n FROM accounts a LEFT JOIN
        (SELECT ${party} AS c, SUM(units) AS u, COUNT(*) AS n FROM answers GROUP BY ${party}) x ON x.c = a.contract WHERE a.party = ?`).all(party) as
        { contract: string; units: bigint; counter: bigint; nano: bigint; answers: bigint; u: bigint | null; n: bigint | null }[];
      for (const r of per) {
        const expected = party === 'client' ? clientNano(r.counter, this.pricing) : workerNano(r.counter, this.pricing);
        if (r.nano !== expected) problems.push(`${party} ${r.contract}: nano ${r.nano} ≠ value of counter ${expected}`);
        if (r.units !== (r.u ?? 0n) || r.answers !== (r.n ?? 0n)) problems.push(`${party} ${r.contract}: units ${r.units} ≠ its answers' ${r.u ?? 0n}`);
        if (r.counter !== counterOfUnits(r.units)) problems.push(`${party} ${r.contract}: counter ${r.counter} ≠ floor(units ${r.units} / 10000)`);
      }
    }
    return { ok: problems.length === 0, problems, clientsNano, workersNano, proxyEarnedNano: totals.earnedNano, answers: totals.answers };
  }

  /**
   * An account row, read from the file at most once per write of it. Outside a transaction the
   * row as this process last read or committed it is reused (the runner reads an account several
   * times per answer: admission, the payment messages); inside one, a row this transaction wrote is
   * reused and any other is read from the file. Only this process moves the counters and
   * signatures; another process (`cocoon settle`) only moves on-chain counters, which every write
   * path re-reads inside its transaction.
   */
  private row(party: Party, contract: string): AccountRow | undefined {
    const key = `${party}:${contract}`;
    if (this.db.inTransaction) return this.txRows.get(key) ?? this.stmt.account.get(party, contract) as AccountRow | undefined;
    const hit = this.rows.get(key);
    if (hit) return hit;
    const r = this.stmt.account.get(party, contract) as AccountRow | undefined;
    if (r) this.cache(key, r);
    return r;
  }

  /** Rows committed (or read) by this process. */
  private readonly rows = new Map<string, AccountRow>();
  /** Rows written by the running transaction: they join `rows` when it commits (`transaction`). */
  private readonly txRows = new Map<string, AccountRow>();

  private cache(key: string, r: AccountRow): void {
    if (this.rows.size >= 10_000) this.rows.clear();
    this.rows.set(key, r);
  }

  /** A row as a write in the running transaction left it. */
  private written(r: AccountRow): void {
    const key = `${r.party}:${r.contract}`;
    this.rows.delete(key);
    this.txRows.set(key, r);
  }

  private toAccount(r: AccountRow): LedgerAccount {
    const value = (c: bigint) => (r.party === 'client' ? clientNano(c, this.pricing) : workerNano(c, this.pricing));
    return {
      party: r.party, contract: r.contract,
      tokens: { prompt: Number(r.prompt), cached: Number(r.cached), completion: Number(r.completion), reasoning: Number(r.reasoning) },
      answers: Number(r.answers), units: r.units, counter: r.counter, nano: r.nano,
      signedCounter: r.signed_counter, signedNano: value(r.signed_counter), signedMessage: r.signed_message ? new Uint8Array(r.signed_message) : null,
      onChainCounter: r.onchain_counter, onChainNano: value(r.onchain_counter),
      unsettledNano: value(r.signed_counter) - value(r.onchain_counter), owedNano: r.nano - value(r.onchain_counter),
      unsettledSince: r.unsettled_since === null ? null : Number(r.unsettled_since),
    };
  }
}

/**
 * The proxy's state commits (chain/proxy-save-state.ts) on the ledger's side: which commits this
 * ledger made, the start-time check against the newest one on chain, and the timer that makes a
 * new one.
 *
 * The commits live in the ledger file itself (table `proxy_state_commits`, through a connection
 * of its own), so an older copy of the ledger is also an older copy of its commits: that is what
 * makes it detectable. A commit row is written before its message is sent; a proxy whose ledger
 * holds a lower seqno than the newest commit its wallet put on chain, or that seqno with another
 * hash, was started on an older or diverged copy of its ledger and refuses to start.
 *
 * When (as the reference): once when the proxy starts, then every 30–60 s (random) while the
 * ledger moved since the last commit (the reference commits on every period; one that changed
 * nothing proves nothing new), and once more on shutdown. One in flight at a time; a failure backs
 * off `retryBaseMs × 2^(n−1)` up to `retryMaxMs` and never blocks answering.
 */
import Database from 'better-sqlite3';
import type { Address } from '@ton/core';
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import type { Chain, ChainWallet } from '../chain/chain.ts';
import { latestSavedState, sendSavedState, type SavedState } from '../chain/proxy-save-state.ts';
import { CocoonError, errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';

export interface StateCommitPolicy {
  /** A new commit is made this long after the last one (random in [min, max]) when the ledger moved. */
  everyMinMs: number;
  everyMaxMs: number;
  retryBaseMs: number;
  retryMaxMs: number;
  /** How long one commit waits for the chain. */
  timeoutMs: number;
}

/** The reference's period: 30–60 s. */
export const DEFAULT_STATE_COMMIT_POLICY: StateCommitPolicy = { everyMinMs: 30_000, everyMaxMs: 60_000, retryBaseMs: 2_000, retryMaxMs: 300_000, timeoutMs: 60_000 };

export interface CommitRow { seqno: number; uniqueHash: Buffer; answers: number; createdAt: number; confirmedLt: bigint | null; confirmedAt: number | null }

export interface SavedStateStatus {
  /** The newest commit this ledger made (seqno), confirmed or not; null before the first. */
  ledger: number | null;
  /** The newest commit seen on chain (seqno) and when it landed. */
  onChain: number | null;
  at: string | null;
  attempts: number;
  lastError: string | null;
  nextAttemptAt: string | null;
}

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS proxy_state_commits (
    seqno INTEGER PRIMARY KEY,
    unique_hash BLOB NOT NULL,
    answers INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    confirmed_lt INTEGER,
    confirmed_at INTEGER
  );
  CREATE TABLE IF NOT EXISTS proxy_state_commit_attempts (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    attempts INTEGER NOT NULL,
    last_error TEXT,
    next_attempt_at INTEGER
  );`;

type Row = { seqno: bigint; unique_hash: Buffer; answers: bigint; created_at: bigint; confirmed_lt: bigint | null; confirmed_at: bigint | null };
const toRow = (r: Row): CommitRow => ({
  seqno: Number(r.seqno), uniqueHash: Buffer.from(r.unique_hash), answers: Number(r.answers), createdAt: Number(r.created_at),
  confirmedLt: r.confirmed_lt, confirmedAt: r.confirmed_at === null ? null : Number(r.confirmed_at),
});

/** The commits table of one ledger file. */
export class StateCommitLog {
  private constructor(private readonly db: Database.Database, readonly path: string) {}

  static open(ledgerPath: string): StateCommitLog {
    const db = new Database(ledgerPath);
    db.defaultSafeIntegers(true);
    db.pragma('busy_timeout = 5000');
    db.exec(SCHEMA);
    return new StateCommitLog(db, ledgerPath);
  }

  /** Read-only view for `cocoon status`; null when the file has no commits table (an older ledger). */
  static openForReading(ledgerPath: string): StateCommitLog | null {
    if (!existsSync(ledgerPath)) return null;
    const db = new Database(ledgerPath, { readonly: true, fileMustExist: true });
    db.defaultSafeIntegers(true);
    if (!db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'proxy_state_commits'").get()) {
      db.close();
      return null;
    }
    return new StateCommitLog(db, ledgerPath);
  }

  close(): void {
    this.db.close();
  }

  latest(): CommitRow | null {
    const r = this.db.prepare('SELECT * FROM proxy_state_commits ORDER BY seqno DESC LIMIT 1').get() as Row | undefined;
    return r ? toRow(r) : null;
  }

  latestConfirmed(): CommitRow | null {
    const r = this.db.prepare('SELECT * FROM proxy_state_commits WHERE confirmed_lt IS NOT NULL ORDER BY seqno DESC LIMIT 1').get() as Row | undefined;
    return r ? toRow(r) : null;
  }

  get(seqno: number): CommitRow | null {
    const r = this.db.prepare('SELECT * FROM proxy_state_commits WHERE seqno = ?').get(seqno) as Row | undefined;
    return r ? toRow(r) : null;
  }

  /** Writes the next commit (seqno one above the newest) before it is sent. */
  add(uniqueHash: Buffer, answers: number, now = Date.now()): CommitRow {
    const seqno = (this.latest()?.seqno ?? 0) + 1;
    this.db.prepare('INSERT INTO proxy_state_commits (seqno, unique_hash, answers, created_at) VALUES (?, ?, ?, ?)').run(seqno, uniqueHash, answers, now);
    return this.get(seqno)!;
  }

  confirm(seqno: number, lt: bigint, at: number): void {
    this.db.prepare('UPDATE proxy_state_commits SET confirmed_lt = ?, confirmed_at = ? WHERE seqno = ? AND confirmed_lt IS NULL').run(lt, at, seqno);
  }

  attempts(): { attempts: number; lastError: string | null; nextAttemptAt: number | null } {
    const r = this.db.prepare('SELECT * FROM proxy_state_commit_attempts WHERE id = 1').get() as { attempts: bigint; last_error: string | null; next_attempt_at: bigint | null } | undefined;
    return r ? { attempts: Number(r.attempts), lastError: r.last_error, nextAttemptAt: r.next_attempt_at === null ? null : Number(r.next_attempt_at) } : { attempts: 0, lastError: null, nextAttemptAt: null };
  }

  saveAttempts(a: { attempts: number; lastError: string | null; nextAttemptAt: number | null }): void {
    this.db.prepare(`INSERT INTO proxy_state_commit_attempts (id, attempts, last_error, next_attempt_at) VALUES (1, ?, ?, ?)
      ON CONFLICT (id) DO UPDATE SET attempts = excluded.attempts, last_error = excluded.last_error, next_attempt_at = excluded.next_attempt_at`)
      .run(a.attempts, a.lastError, a.nextAttemptAt);
  }

  status(): SavedStateStatus {
    const latest = this.latest();
    const confirmed = this.latestConfirmed();
    const a = this.attempts();
    return {
      ledger: latest?.seqno ?? null, onChain: confirmed?.seqno ?? null,
      at: confirmed?.confirmedAt == null ? null : new Date(confirmed.confirmedAt).toISOString(),
      attempts: a.attempts, lastError: a.lastError, nextAttemptAt: a.nextAttemptAt === null ? null : new Date(a.nextAttemptAt).toISOString(),
    };
  }
}

/**
 * Compares the ledger's commits with the newest commit on chain. Throws `ledger_behind_chain_state`
 * (the chain holds a later commit than this ledger made) or `ledger_diverged` (same seqno, another
 * run's hash); otherwise records the chain's commit as confirmed and returns it (null: none newer
 * than what the ledger already knew).
 */
export function checkAgainstChain(log: StateCommitLog, onChain: SavedState | null): SavedState | null {
  if (!onChain) return null;
  const mine = log.get(onChain.seqno);
  const latest = log.latest();
  const fix = `Restore the newest copy of ${log.path} (with its -wal file) and start again. If it is lost for good, this proxy contract's counters cannot be recovered: close it and deploy a new proxy contract (a new contract starts a new ledger).`;
  if (!mine && (latest?.seqno ?? 0) < onChain.seqno) {
    throw new CocoonError('ledger_behind_chain_state',
      `the proxy ledger ${log.path} is older than the state this proxy committed on chain: the ledger's last commit is seqno ${latest?.seqno ?? 0}, the chain holds seqno ${onChain.seqno} (committed ${new Date(onChain.at).toISOString()}, transaction lt ${onChain.lt}). Starting on it would sign counters below ones already given to clients and workers.`,
      { hint: fix });
  }
  if (!mine || !mine.uniqueHash.equals(onChain.uniqueHash)) {
    throw new CocoonError('ledger_diverged',
      `the proxy ledger ${log.path} is not the one that committed seqno ${onChain.seqno} on chain (committed ${new Date(onChain.at).toISOString()} with hash ${onChain.uniqueHash.toString('hex')}; this ledger ${mine ? `has hash ${mine.uniqueHash.toString('hex')}` : 'has no such commit'}): another copy of it ran on.`,
      { hint: fix });
  }
  log.confirm(onChain.seqno, onChain.lt, onChain.at);
  return onChain;
}

export interface StateCommitterOptions {
  chain: Chain;
  wallet: ChainWallet;
  proxyContract: Address;
  /** Senders trusted as this proxy's own wallet when reading commits (the wallet, the contract's owner). */
  trusted: Address[];
  ledgerPath: string;
  /** How many answers the ledger holds (a commit is made only when it moved). */
  answers(): number;
  policy?: StateCommitPolicy;
  log: Logger;
}

export class ProxyStateCommitter {
  readonly commits: StateCommitLog;
  readonly policy: StateCommitPolicy;
  /** Random per run: the reference's session hash. */
  readonly sessionHash = randomBytes(32);
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | null = null;
  private lastCommitAt = 0;
  private nextDueAt = 0;
  private committedThisRun = false;
  private stopped = false;

  private constructor(private readonly o: StateCommitterOptions) {
    this.commits = StateCommitLog.open(o.ledgerPath);
    this.policy = o.policy ?? DEFAULT_STATE_COMMIT_POLICY;
  }

  /** Checks the ledger against the chain (throws when it is older), then commits on its timer. */
  static async open(o: StateCommitterOptions): Promise<ProxyStateCommitter> {
    const c = new ProxyStateCommitter(o);
    try {
      const known = c.commits.latestConfirmed();
      const onChain = await latestSavedState(o.chain, o.proxyContract, { from: o.trusted, ...(known?.confirmedLt != null && { stopAtLt: known.confirmedLt }) });
      const seen = checkAgainstChain(c.commits, onChain);
      o.log.info({ ledger: c.commits.latest()?.seqno ?? 0, onChain: seen?.seqno ?? known?.seqno ?? null }, 'proxy ledger matches the state committed on chain');
    } catch (err) {
      c.commits.close();
      throw err;
    }
    return c;
  }

  start(): void {
    const tick = Math.max(50, Math.min(1_000, Math.floor(this.policy.everyMinMs / 4)));
    this.timer = setInterval(() => void this.tick(), tick);
    this.timer.unref();
    void this.tick();
  }

  status(): SavedStateStatus {
    return this.commits.status();
  }

  /** Makes a commit now if one is due (first of this run, or the ledger moved and the period passed). */
  async tick(now = Date.now()): Promise<void> {
    if (this.inFlight || this.stopped) return;
    const a = this.commits.attempts();
    if (a.nextAttemptAt !== null && now < a.nextAttemptAt) return;
    const latest = this.commits.latest();
    const moved = !latest || latest.answers !== this.o.answers();
    const due = !this.committedThisRun || (moved && now >= this.nextDueAt);
    if (!due) return;
    this.inFlight = this.commitOnce().finally(() => { this.inFlight = null; });
    await this.inFlight;
  }

  /** Stops the timer and, when the ledger moved since the last commit, commits once more (bounded by the policy's timeout). */
  async stop(opts: { final?: boolean } = {}): Promise<void> {
    clearInterval(this.timer);
    await this.inFlight;
    try {
      const latest = this.commits.latest();
      if (opts.final !== false && this.committedThisRun && latest && latest.answers !== this.o.answers()) await this.commitOnce();
    } finally {
      this.stopped = true;
      this.commits.close();
    }
  }

  private async commitOnce(): Promise<void> {
    // A retry resends this run's unconfirmed commit (same seqno and hash) rather than skipping a number.
    const latest = this.commits.latest();
    const row = latest && latest.confirmedLt === null && latest.uniqueHash.equals(this.sessionHash) && latest.answers === this.o.answers()
      ? latest : this.commits.add(this.sessionHash, this.o.answers());
    try {
      const s = await sendSavedState(this.o.chain, this.o.wallet, this.o.proxyContract, row.seqno, row.uniqueHash, this.policy.timeoutMs);
      this.commits.confirm(s.seqno, s.lt, s.at);
      this.commits.saveAttempts({ attempts: 0, lastError: null, nextAttemptAt: null });
      this.committedThisRun = true;
      this.lastCommitAt = Date.now();
      const p = this.policy;
      this.nextDueAt = this.lastCommitAt + p.everyMinMs + Math.floor(Math.random() * Math.max(0, p.everyMaxMs - p.everyMinMs));
      this.o.log.debug?.({ seqno: s.seqno, lt: s.lt.toString() }, 'proxy state committed on chain');
    } catch (err) {
      const prev = this.commits.attempts();
      const attempts = prev.attempts + 1;
      const delay = Math.min(this.policy.retryMaxMs, this.policy.retryBaseMs * 2 ** (attempts - 1));
      this.commits.saveAttempts({ attempts, lastError: errorMessage(err), nextAttemptAt: Date.now() + delay });
      this.o.log.warn({ seqno: row.seqno, attempts, retryInMs: delay, err: errorMessage(err) }, 'could not commit the proxy state on chain; retrying');
    }
  }
}

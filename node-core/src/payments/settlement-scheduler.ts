/**
 * Decides when signed counters go on chain, and puts them there through a `SettlementSubmitter`.
 *
 * A counter is submitted when
 *   - it is worth the fee: unsettled ≥ threshold (default: fee / 1%, so fees stay ≤ 1% of what is settled),
 *   - or it has waited `maxDelayMs` (small users settle eventually),
 *   - or its store says so (`dueReason`: a client past half its stake),
 *   - or on `settleNow()` (the `cocoon settle` command, and shutdown), whatever the thresholds.
 * Failures back off exponentially per contract (visible as lastError / nextAttemptAt in the
 * store, so `cocoon status` shows them); the signed message stays in the store until the chain
 * holds its counter, so nothing is lost. The scheduler runs on its own timer and only reads the
 * stores: answering never waits for it. One submission at a time, so one wallet's seqno is never
 * raced.
 */
import { errorMessage } from '../errors.ts';
import { nanoToTon } from './pricing.ts';
import type { SettlementAccount, SettlementKind, SettlementSource, SettlementState } from './settlement-state.ts';

export interface SettlementItem {
  kind: SettlementKind;
  contract: string;
  counter: bigint;
  signedMessage: Uint8Array;
}

export type SubmitOutcome =
  | { status: 'confirmed'; onChainCounter: bigint }
  | { status: 'failed'; error: string; retryable: boolean };

/** Sends one signed message to its contract and resolves once the chain applied or refused it. */
export interface SettlementSubmitter {
  submit(item: SettlementItem): Promise<SubmitOutcome>;
}

export interface SettlementPolicy {
  /** Estimated total fee of one submission, nanoTON (contracts/README.md: a charge ≈ 0.0067 TON). */
  feeNano: bigint;
  /** Largest share of a settlement its fee may take, in basis points (100 = 1%). */
  maxFeeBasisPoints: number;
  /** Explicit threshold; overrides fee / ratio when set. */
  thresholdNano?: bigint;
  /** Submit anything unsettled for this long, however small. */
  maxDelayMs: number;
  /** Backoff after a failed submission: base × 2^(attempts−1), at most max. */
  retryBaseMs: number;
  retryMaxMs: number;
  /** How often the timer looks. */
  tickMs: number;
  /**
   * Which kinds this scheduler submits on its own (default both). The app's local network leaves
   * payouts to the worker's owner (claimed from owner mode); `settleNow` still submits everything.
   */
  kinds?: readonly SettlementKind[];
}

export const DEFAULT_SETTLEMENT_POLICY: SettlementPolicy = {
  feeNano: 10_000_000n, maxFeeBasisPoints: 100, maxDelayMs: 24 * 3600_000,
  retryBaseMs: 2_000, retryMaxMs: 10 * 60_000, tickMs: 5_000,
};

/** For `cocoon up` on the embedded chain: a few requests settle within seconds. */
export const LOCAL_DEV_SETTLEMENT_POLICY: SettlementPolicy = {
  ...DEFAULT_SETTLEMENT_POLICY, thresholdNano: 1n, maxDelayMs: 2_000, retryBaseMs: 500, retryMaxMs: 10_000, tickMs: 500,
};

export function thresholdOf(p: SettlementPolicy): bigint {
  return p.thresholdNano ?? (p.feeNano * 10_000n) / BigInt(Math.max(1, p.maxFeeBasisPoints));
}

export interface AccountView {
  kind: SettlementKind;
  contract: string;
  signedCounter: bigint;
  onChainCounter: bigint;
  unsettledNano: bigint;
  due: boolean;
  why: string;
  state: SettlementState;
}

/** Why (or why not) an account is due now; pure, also used by `cocoon status` without a scheduler. */
export function assess(a: SettlementAccount, state: SettlementState, p: SettlementPolicy, now: number): { due: boolean; why: string } {
  if (!a.signedMessage || a.signedCounter <= a.onChainCounter) return { due: false, why: 'settled' };
  if (state.nextAttemptAt !== null && state.nextAttemptAt > now) return { due: false, why: `retrying at ${new Date(state.nextAttemptAt).toISOString()} after: ${state.lastError}` };
  if (a.dueReason) return { due: true, why: a.dueReason };
  const threshold = thresholdOf(p);
  if (a.unsettledNano >= threshold) return { due: true, why: `unsettled ${nanoToTon(a.unsettledNano)} TON ≥ threshold ${nanoToTon(threshold)} TON` };
  if (a.unsettledSince !== null && now - a.unsettledSince >= p.maxDelayMs) return { due: true, why: `unsettled for ${Math.round((now - a.unsettledSince) / 1000)} s` };
  return { due: false, why: `waiting: ${nanoToTon(a.unsettledNano)} of ${nanoToTon(threshold)} TON, or until ${a.unsettledSince === null ? '?' : new Date(a.unsettledSince + p.maxDelayMs).toISOString()}` };
}

export function settlementView(source: SettlementSource, p: SettlementPolicy, now: number): AccountView[] {
  return source.settlementAccounts().map((a) => {
    const state = source.settlementState(a.kind, a.contract);
    return { kind: a.kind, contract: a.contract, signedCounter: a.signedCounter, onChainCounter: a.onChainCounter, unsettledNano: a.unsettledNano, ...assess(a, state, p, now), state };
  });
}

export interface SettleResult {
  kind: SettlementKind;
  contract: string;
  counter: bigint;
  outcome: SubmitOutcome;
}

export interface SchedulerLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export class SettlementScheduler {
  private timer: NodeJS.Timeout | undefined;
  private chainBusy: Promise<unknown> = Promise.resolve();
  private ticking = false;

  constructor(
    private readonly source: SettlementSource,
    private readonly submitter: SettlementSubmitter,
    readonly policy: SettlementPolicy = DEFAULT_SETTLEMENT_POLICY,
    private readonly opts: { log?: SchedulerLog; now?: () => number } = {},
  ) {}

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.tick(), this.policy.tickMs);
    this.timer.unref();
  }

  /** Submits what is due now; a tick already running makes this one a no-op. */
  async tick(): Promise<SettleResult[]> {
    if (this.ticking) return [];
    this.ticking = true;
    try {
      const now = this.now();
      const due = this.source.settlementAccounts().filter((a) => (this.policy.kinds ?? [a.kind]).includes(a.kind) && assess(a, this.source.settlementState(a.kind, a.contract), this.policy, now).due);
      return await this.exclusive(() => this.submitAll(due));
    } finally {
      this.ticking = false;
    }
  }

  /**
   * Submits every outstanding signed counter now, whatever the thresholds and backoff, and
   * resolves when the chain confirmed or refused each one (`cocoon settle`, shutdown).
   */
  async settleNow(): Promise<SettleResult[]> {
    return this.exclusive(() => this.submitAll(this.source.settlementAccounts()));
  }

  /** Stops the timer; with `flush`, settles everything outstanding first (on shutdown). */
  async stop(opts: { flush?: boolean } = {}): Promise<SettleResult[]> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    return opts.flush ? this.settleNow() : [];
  }

  view(): AccountView[] {
    return settlementView(this.source, this.policy, this.now());
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chainBusy.then(fn, fn);
    this.chainBusy = run.catch(() => undefined);
    return run;
  }

  private async submitAll(accounts: SettlementAccount[]): Promise<SettleResult[]> {
    const results: SettleResult[] = [];
    for (const a of accounts) {
      // Re-read: an earlier submission in this batch (or another process) may have settled it.
      const fresh = this.source.settlementAccounts().find((x) => x.kind === a.kind && x.contract === a.contract);
      if (!fresh?.signedMessage || fresh.signedCounter <= fresh.onChainCounter) continue;
      results.push(await this.submitOne(fresh));
    }
    return results;
  }

  private async submitOne(a: SettlementAccount): Promise<SettleResult> {
    const before = this.source.settlementState(a.kind, a.contract);
    const item: SettlementItem = { kind: a.kind, contract: a.contract, counter: a.signedCounter, signedMessage: a.signedMessage! };
    let outcome: SubmitOutcome;
    try {
      outcome = await this.submitter.submit(item);
    } catch (err) {
      outcome = { status: 'failed', error: errorMessage(err), retryable: true };
    }
    const now = this.now();
    if (outcome.status === 'confirmed') {
      this.source.recordOnChain(a.kind, a.contract, outcome.onChainCounter, now);
      this.source.saveSettlementState(a.kind, a.contract, { attempts: 0, lastError: null, lastAttemptAt: now, nextAttemptAt: null, lastConfirmedAt: now });
      this.opts.log?.info({ kind: a.kind, contract: a.contract, counter: outcome.onChainCounter.toString() }, 'settled on chain');
    } else {
      const attempts = before.attempts + 1;
      const delay = outcome.retryable ? Math.min(this.policy.retryMaxMs, this.policy.retryBaseMs * 2 ** Math.min(attempts - 1, 30)) : this.policy.retryMaxMs;
      this.source.saveSettlementState(a.kind, a.contract, { ...before, attempts, lastError: outcome.error, lastAttemptAt: now, nextAttemptAt: now + delay });
      this.opts.log?.warn({ kind: a.kind, contract: a.contract, attempts, retryInMs: delay, err: outcome.error }, 'settlement failed; will retry');
    }
    return { kind: a.kind, contract: a.contract, counter: a.signedCounter, outcome };
  }
}

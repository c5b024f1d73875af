import { EventEmitter } from 'node:events';
import type { Usage } from '../inference/openai-types.ts';
import type { AnswerHistory } from '../protocol/settlement.ts';
import { computeCost, type CostBreakdown, type PricingParams, type TokenCounts } from '../payments/pricing.ts';
import { usageOf } from './usage.ts';

/**
 * What each answer cost, as this client knows it: the app's cost history and the cost of an
 * answer the developer stopped (its HTTP response is gone by the time the proxy's final usage
 * and signed charge arrive). Served as `GET /v1/cocoon/answers[/{id}]`; every inference response
 * names its entry in the `x-cocoon-request-id` header. The newest `capacity` answers in memory;
 * with a `history` (the client payment store) they are also saved — changes grouped, one
 * transaction per `SAVE_EVERY_MS` and on `close()` — and loaded back on start, so the log
 * survives restarts (a client killed with kill -9 forgets at most its last second of changes).
 * An answer a previous run left streaming is shown `interrupted`; one whose charge waited for a
 * signed counter still becomes `signed` when one covering it arrives.
 *
 * Charge states: `none` (nothing to charge, or a network without payments), `pending` (ended,
 * no signed charge covering it yet), `signed` (the proxy's signed charge that came with it was
 * verified and kept), `settled` (the client contract's on-chain counter reached that charge),
 * `refused` (the charge was refused: above what this client received, or a rollback).
 */
export type AnswerOutcome = 'streaming' | 'completed' | 'stopped' | 'interrupted' | 'refused';
export type ChargeState = 'none' | 'pending' | 'signed' | 'settled' | 'refused';

export interface AnswerCost {
  /** Our request id (hex), as in the `x-cocoon-request-id` header. */
  id: string;
  model: string;
  endpoint: string;
  startedAt: string;
  endedAt: string | null;
  outcome: AnswerOutcome;
  /** Tokens charged for this answer (for a stopped answer: what reached this client), OpenAI's shape. */
  usage: Usage | null;
  cost: CostBreakdown | null;
  /** What this client itself received by the running usage in the chunks (null: the engine reported none). */
  received: Usage | null;
  charge: {
    state: ChargeState;
    /** The signed cumulative counter (adjusted tokens) that covers this answer, decimal string. */
    signedCounter: string | null;
    /** The client contract's counter on chain when last known, decimal string. */
    onChainCounter: string | null;
    reason?: string;
  };
  error?: string;
}

interface Entry extends Omit<AnswerCost, 'charge'> {
  chargeState: 'none' | 'pending' | 'signed' | 'refused';
  signedCounter: bigint | null;
  reason?: string;
}

/** How often changed entries are saved (one transaction for all of them). */
const SAVE_EVERY_MS = 1_000;

/** An entry as saved: bigints as decimal strings, plus the counter it waits for. */
type SavedEntry = Omit<Entry, 'signedCounter'> & { signedCounter: string | null; awaitingCovers?: string };

export class AnswerLog extends EventEmitter<{ changed: [id: string] }> {
  private readonly entries = new Map<string, Entry>();
  /** Answers whose charge waits for a signed counter: id → the counter that covers it. */
  private readonly awaiting = new Map<string, bigint>();
  private spent = 0n;
  private readonly dirty = new Set<string>();
  private saveTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly pricing: () => PricingParams,
    /** The client contract's on-chain counter at this answer's proxy (null: unknown or no payments). */
    private readonly onChainCounter: () => bigint | null = () => null,
    private readonly capacity = 1000,
    private readonly history?: AnswerHistory,
    private readonly onSaveError: (err: unknown) => void = () => undefined,
  ) {
    super();
    this.setMaxListeners(0);
    if (history) {
      this.load(history);
      this.on('changed', (id) => {
        this.dirty.add(id);
        if (!this.saveTimer) {
          this.saveTimer = setTimeout(() => this.save(), SAVE_EVERY_MS);
          this.saveTimer.unref();
        }
      });
    }
  }

  /** Saves what changed since the last save (call before the history's store closes). */
  close(): void {
    this.closed = true;
    this.save();
  }

  private closed = false;

  private load(history: AnswerHistory): void {
    const now = new Date().toISOString();
    for (const { id, entry } of history.loadAnswers(this.capacity)) {
      let saved: SavedEntry;
      try {
        saved = JSON.parse(entry) as SavedEntry;
      } catch {
        continue; // an entry this version cannot read is left out of the log, not fatal
      }
      const { awaitingCovers, signedCounter, ...rest } = saved;
      const e: Entry = { ...rest, signedCounter: signedCounter === null ? null : BigInt(signedCounter) };
      if (e.endedAt === null) {
        // The previous run stopped while this answer streamed: it will never end now.
        e.endedAt = now;
        e.outcome = 'interrupted';
        e.error ??= 'the client stopped before this answer ended';
        this.dirty.add(id);
      }
      if (awaitingCovers !== undefined) this.awaiting.set(id, BigInt(awaitingCovers));
      this.entries.set(id, e);
    }
  }

  private save(): void {
    clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    if (!this.history || this.dirty.size === 0) return;
    const rows: { id: string; startedAt: number; entry: string }[] = [];
    for (const id of this.dirty) {
      const e = this.entries.get(id);
      if (!e) continue;
      const covers = this.awaiting.get(id);
      const saved: SavedEntry = { ...e, signedCounter: e.signedCounter?.toString() ?? null, ...(covers !== undefined && { awaitingCovers: covers.toString() }) };
      rows.push({ id, startedAt: Date.parse(e.startedAt), entry: JSON.stringify(saved) });
    }
    this.dirty.clear();
    try {
      this.history.saveAnswers(rows);
    } catch (err) {
      // Nothing of the group was written (one transaction): keep it for the next save.
      for (const r of rows) this.dirty.add(r.id);
      this.onSaveError(err);
      if (!this.saveTimer && !this.closed) {
        this.saveTimer = setTimeout(() => this.save(), SAVE_EVERY_MS);
        this.saveTimer.unref();
      }
    }
  }

  started(id: string, a: { model: string; endpoint: string }): void {
    this.entries.set(id, { id, model: a.model, endpoint: a.endpoint, startedAt: new Date().toISOString(), endedAt: null, outcome: 'streaming', usage: null, cost: null, received: null, chargeState: 'none', signedCounter: null });
    while (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next().value!;
      this.entries.delete(oldest);
      this.awaiting.delete(oldest);
    }
    this.emit('changed', id);
  }

  /**
   * The answer ended: `tokens` is what the proxy's final info charges (adjusted tokens, zero when
   * nothing), `received` the engine's counts this client saw (its OpenAI usage).
   */
  ended(id: string, e: { outcome: Exclude<AnswerOutcome, 'streaming'>; tokens: TokenCounts; received?: TokenCounts | null; error?: string; payments: boolean }): void {
    const entry = this.entries.get(id);
    if (!entry || entry.endedAt !== null) return;
    const any = e.tokens.prompt + e.tokens.cached + e.tokens.completion + e.tokens.reasoning > 0;
    entry.endedAt = new Date().toISOString();
    entry.outcome = e.outcome;
    entry.usage = any ? usageOf(e.received ?? e.tokens) : null;
    entry.cost = any ? computeCost(e.tokens, this.pricing(), e.received ?? undefined) : null;
    if (entry.cost) this.spent += BigInt(entry.cost.totalNanoTon);
    entry.received = e.received ? usageOf(e.received) : null;
    if (e.error) entry.error = e.error;
    if (entry.chargeState === 'none' && any && e.payments) entry.chargeState = 'pending';
    this.emit('changed', id);
  }

  /**
   * A payment message from the proxy about this answer: its charge was kept (`accepted`) or
   * refused, and why. `covers` is the proxy's ledger counter reported with this answer (it
   * includes the answer); the proxy signs in batches, so the answer is `signed` only once a
   * signed counter at or above it is held — with this message or a later one for any answer.
   */
  paid(id: string, p: { accepted: boolean; signedCounter: bigint | null; covers?: bigint; reason?: string }): void {
    const entry = this.entries.get(id);
    if (entry) {
      if (!p.accepted) {
        entry.chargeState = 'refused';
        this.awaiting.delete(id);
        if (p.reason) entry.reason = p.reason;
      } else if (entry.chargeState !== 'refused' && entry.chargeState !== 'signed' && p.covers !== undefined && p.covers > 0n) {
        this.awaiting.set(id, p.covers);
      } else if (p.covers === undefined && p.signedCounter !== null && p.signedCounter > 0n && entry.chargeState !== 'refused') {
        entry.chargeState = 'signed';
        entry.signedCounter = p.signedCounter;
      }
      this.emit('changed', id);
    }
    if (p.accepted && p.signedCounter !== null) this.signedUpTo(p.signedCounter);
  }

  /** Marks every answer waiting for a counter at or below `signed` as signed. */
  private signedUpTo(signed: bigint): void {
    for (const [id, covers] of this.awaiting) {
      if (covers > signed) continue;
      this.awaiting.delete(id);
      const e = this.entries.get(id);
      if (!e || e.chargeState === 'refused') continue;
      e.chargeState = 'signed';
      e.signedCounter = signed;
      this.emit('changed', id);
    }
  }

  get(id: string): AnswerCost | undefined {
    const e = this.entries.get(id);
    return e && this.view(e);
  }

  /** Newest first. */
  list(limit = 100): AnswerCost[] {
    return [...this.entries.values()].reverse().slice(0, limit).map((e) => this.view(e));
  }

  /** Waits until the answer ended and its charge is no longer pending, or `ms` passed; undefined if unknown. */
  async wait(id: string, ms: number): Promise<AnswerCost | undefined> {
    const done = () => {
      const e = this.entries.get(id);
      return !e || (e.endedAt !== null && e.chargeState !== 'pending');
    };
    if (!done() && ms > 0) {
      await new Promise<void>((resolve) => {
        const onChange = (changed: string) => { if (changed === id && done()) finish(); };
        const finish = () => {
          clearTimeout(timer);
          this.off('changed', onChange);
          resolve();
        };
        const timer = setTimeout(finish, ms);
        this.on('changed', onChange);
      });
    }
    return this.get(id);
  }

  /** nanoTON of every answer ended since this client started (the session's spending, for the session cap). */
  spentNano(): bigint {
    return this.spent;
  }

  private view(e: Entry): AnswerCost {
    const { chargeState, signedCounter, reason, ...rest } = e;
    const onChain = signedCounter !== null ? this.onChainCounter() : null;
    const state: ChargeState = chargeState === 'signed' && onChain !== null && signedCounter !== null && onChain >= signedCounter ? 'settled' : chargeState;
    return {
      ...rest,
      charge: { state, signedCounter: signedCounter?.toString() ?? null, onChainCounter: onChain?.toString() ?? null, ...(reason && { reason }) },
    };
  }
}

import { EventEmitter } from 'node:events';
import type { Usage } from '../inference/openai-types.ts';
import { computeCost, type CostBreakdown, type PricingParams, type TokenCounts } from '../payments/pricing.ts';
import { usageOf } from './usage.ts';

/**
 * What each answer cost, as this client knows it: the app's cost history and the cost of an
 * answer the developer stopped (its HTTP response is gone by the time the proxy's final usage
 * and signed charge arrive). Served as `GET /v1/cocoon/answers[/{id}]`; every inference response
 * names its entry in the `x-cocoon-request-id` header. In memory, the newest `capacity` answers
 * (the app keeps its own history; this is the client's view of the charge).
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

export class AnswerLog extends EventEmitter<{ changed: [id: string] }> {
  private readonly entries = new Map<string, Entry>();
  /** Answers whose charge waits for a signed counter: id → the counter that covers it. */
  private readonly awaiting = new Map<string, bigint>();
  private spent = 0n;

  constructor(
    private readonly pricing: () => PricingParams,
    /** The client contract's on-chain counter at this answer's proxy (null: unknown or no payments). */
    private readonly onChainCounter: () => bigint | null = () => null,
    private readonly capacity = 1000,
  ) {
    super();
    this.setMaxListeners(0);
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

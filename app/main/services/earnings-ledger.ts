import type { Address, Cell } from '@ton/core';
import type { ProxyLedger } from '../../../node-core/src/payments/proxy-ledger.ts';
import { decodeSignedBody } from '../../../node-core/src/payments/signed-payments.ts';

/**
 * What the proxy's settlement ledger knows about a worker, as owner economics reads it: the
 * answers the worker served (when, how many tokens, what the worker earned for them) and the
 * payout the proxy signed. `ProxyLedgerEarnings` reads the proxy's real ledger file
 * (node-core/src/payments/proxy-ledger.ts); on the app's local network that is the ledger of the
 * proxy running in this process.
 */
export interface WorkerUsageRecord {
  at: Date;
  /** Tokens of one answer, all kinds (prompt, cached, completion, reasoning). */
  tokens: bigint;
  /** What the worker earned for it, nanoTON (its share, as the ledger moved it). */
  earnedNano: bigint;
}

export interface SignedPayoutRecord {
  /** The worker contract the payout is for. */
  worker: Address;
  /** Cumulative counter (adjusted tokens, as the worker contract counts them) the proxy signed. */
  tokens: bigint;
  signedAt: Date;
  /** The signed payout message as the proxy issued it (submitted by the owner to claim). */
  body: Cell;
}

export interface EarningsLedger {
  /** Answers a worker contract served since `since`, oldest first. */
  usage(worker: Address, since: Date): Promise<WorkerUsageRecord[]>;
  /** The payouts the proxy signed for a worker contract that it still holds, oldest first. */
  payouts(worker: Address): Promise<SignedPayoutRecord[]>;
}

/**
 * The proxy ledger as an earnings source. The ledger keeps the latest signed payout per worker
 * (cumulative: it supersedes every earlier one), so the history has one entry, dated by the last
 * answer it covers (the proxy signs right after recording an answer).
 */
export class ProxyLedgerEarnings implements EarningsLedger {
  constructor(private readonly ledger: Pick<ProxyLedger, 'answersFor' | 'account'>) {}

  async usage(worker: Address, since: Date): Promise<WorkerUsageRecord[]> {
    return this.ledger.answersFor('worker', worker.toString(), since.getTime()).map((a) => ({
      at: new Date(a.at), tokens: BigInt(a.tokens.prompt + a.tokens.cached + a.tokens.completion + a.tokens.reasoning), earnedNano: a.nano,
    }));
  }

  async payouts(worker: Address): Promise<SignedPayoutRecord[]> {
    const account = this.ledger.account('worker', worker.toString());
    if (!account?.signedMessage || account.signedCounter === 0n) return [];
    const last = this.ledger.answersFor('worker', worker.toString()).at(-1);
    return [{ worker, tokens: account.signedCounter, signedAt: new Date(last?.at ?? Date.now()), body: decodeSignedBody(account.signedMessage) }];
  }
}

export type ChartRange = 'hour' | 'day' | 'week';
const RANGE: Record<ChartRange, { spanMs: number; bucketMs: number }> = {
  hour: { spanMs: 3_600_000, bucketMs: 60_000 },
  day: { spanMs: 86_400_000, bucketMs: 3_600_000 },
  week: { spanMs: 7 * 86_400_000, bucketMs: 86_400_000 },
};

/** Sums usage into fixed buckets ending at `now` (minutes of the hour, hours of the day, days of the week); empty buckets are zeros. */
export function bucketUsage(records: WorkerUsageRecord[], range: ChartRange, now: Date): Array<{ at: string; tokens: number; earnedNano: string }> {
  const { spanMs, bucketMs } = RANGE[range];
  const end = Math.ceil(now.getTime() / bucketMs) * bucketMs;
  const start = end - spanMs;
  const buckets = Array.from({ length: spanMs / bucketMs }, (_, i) => ({ at: new Date(start + i * bucketMs).toISOString(), tokens: 0n, nano: 0n }));
  for (const r of records) {
    const t = r.at.getTime();
    if (t < start || t >= end) continue;
    const b = buckets[Math.floor((t - start) / bucketMs)]!;
    b.tokens += r.tokens;
    b.nano += r.earnedNano;
  }
  return buckets.map((b) => ({ at: b.at, tokens: Number(b.tokens), earnedNano: b.nano.toString() }));
}

export function rangeStart(range: ChartRange, now: Date): Date {
  return new Date(now.getTime() - RANGE[range].spanMs - RANGE[range].bucketMs);
}


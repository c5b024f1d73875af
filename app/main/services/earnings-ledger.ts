import type { Address, Cell } from '@ton/core';

/**
 * What the proxy's settlement ledger knows about a worker, as owner economics reads it. The proxy
 * side (signed payouts, per-request token counts) is built by the settlement work; this interface
 * is the seam where its store plugs in. Without one, the views show what the chain holds and say
 * that the signed side is pending.
 */
export interface WorkerUsageRecord {
  at: Date;
  /** Tokens of one request (or one ledger entry), weighted as the contract counts them. */
  tokens: bigint;
}

export interface SignedPayoutRecord {
  /** The worker contract the payout is for. */
  worker: Address;
  /** Cumulative tokens the proxy signed up to, at `signedAt`. */
  tokens: bigint;
  signedAt: Date;
  /** The signed payout message as the proxy issued it (submitted by the owner to claim). */
  body: Cell;
}

export interface EarningsLedger {
  /** Usage entries for a worker contract since `since`, oldest first. */
  usage(worker: Address, since: Date): Promise<WorkerUsageRecord[]>;
  /** Every payout the proxy signed for a worker contract, oldest first. */
  payouts(worker: Address): Promise<SignedPayoutRecord[]>;
}

/** A ledger filled by hand: for tests and for wiring before the proxy's store is connected. */
export class MemoryEarningsLedger implements EarningsLedger {
  readonly usageRecords: Array<WorkerUsageRecord & { worker: Address }> = [];
  readonly payoutRecords: SignedPayoutRecord[] = [];
  async usage(worker: Address, since: Date) {
    return this.usageRecords.filter((r) => r.worker.equals(worker) && r.at >= since).sort((a, b) => a.at.getTime() - b.at.getTime());
  }
  async payouts(worker: Address) {
    return this.payoutRecords.filter((p) => p.worker.equals(worker)).sort((a, b) => a.signedAt.getTime() - b.signedAt.getTime());
  }
}

export type ChartRange = 'hour' | 'day' | 'week';
const RANGE: Record<ChartRange, { spanMs: number; bucketMs: number }> = {
  hour: { spanMs: 3_600_000, bucketMs: 60_000 },
  day: { spanMs: 86_400_000, bucketMs: 3_600_000 },
  week: { spanMs: 7 * 86_400_000, bucketMs: 86_400_000 },
};

/** Sums usage into fixed buckets ending at `now` (minutes of the hour, hours of the day, days of the week); empty buckets are zeros. */
export function bucketUsage(records: WorkerUsageRecord[], range: ChartRange, now: Date, feePerToken: bigint): Array<{ at: string; tokens: number; earnedNano: string }> {
  const { spanMs, bucketMs } = RANGE[range];
  const end = Math.ceil(now.getTime() / bucketMs) * bucketMs;
  const start = end - spanMs;
  const buckets = Array.from({ length: spanMs / bucketMs }, (_, i) => ({ at: new Date(start + i * bucketMs).toISOString(), tokens: 0n }));
  for (const r of records) {
    const t = r.at.getTime();
    if (t < start || t >= end) continue;
    buckets[Math.floor((t - start) / bucketMs)]!.tokens += r.tokens;
  }
  return buckets.map((b) => ({ at: b.at, tokens: Number(b.tokens), earnedNano: (b.tokens * feePerToken).toString() }));
}

export function rangeStart(range: ChartRange, now: Date): Date {
  return new Date(now.getTime() - RANGE[range].spanMs - RANGE[range].bucketMs);
}

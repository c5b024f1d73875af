/**
 * Deterministic answers for ledger tests: request N always has the same client, worker,
 * coefficient and token counts, so a test can recompute from the request ids alone what the
 * ledger must hold.
 */
import type { AnswerUsage } from '../proxy-ledger.ts';
import type { PricingParams } from '../pricing.ts';

export const TEST_PRICING: PricingParams = {
  // Odd numbers so that every floor matters.
  pricePerToken: 23, workerFeePerToken: 19,
  multipliers: { prompt: 10_000, cached: 1_337, completion: 12_345, reasoning: 9_999 },
};

function mix(n: number, salt: number): number {
  let x = (n * 2654435761 + salt * 40503) >>> 0;
  x ^= x >>> 13;
  x = Math.imul(x, 0x5bd1e995) >>> 0;
  return (x ^ (x >>> 15)) >>> 0;
}

export function usageFor(n: number): AnswerUsage {
  const outcomes = ['completed', 'cancelled', 'failed'] as const;
  return {
    requestId: `req-${n}`,
    clientContract: `client-${mix(n, 1) % 3}`,
    workerContract: `worker-${mix(n, 2) % 4}`,
    coefficient: [1000, 1500, 777][mix(n, 3) % 3],
    outcome: outcomes[mix(n, 4) % 3]!,
    tokens: { prompt: mix(n, 5) % 3000, cached: mix(n, 6) % 500, completion: mix(n, 7) % 2000, reasoning: mix(n, 8) % 300 },
  };
}

import { describe, expect, it } from 'vitest';
import { adjustedUnits, counterOfUnits, counterUnits, UNITS_PER_TOKEN } from './units.ts';
import { computeCost, DEFAULT_PRICING } from './pricing.ts';

/** The reference's per-kind arithmetic, written out here (not through adjusted-tokens.ts). */
const adj = (n: number, coefficient: number, multiplier: number) => Math.trunc(n * (coefficient * 0.001) * multiplier * 0.0001);

describe('ledger units are per-answer adjusted tokens', () => {
  it('counts Σ per kind of the truncated adjusted tokens, not one floor of the weighted sum', () => {
    const raw = { prompt: 70, cached: 55, completion: 25, reasoning: 15 };
    const m = DEFAULT_PRICING.multipliers; // cached ×0.1
    const expected = adj(70, 1500, m.prompt) + adj(55, 1500, m.cached) + adj(25, 1500, m.completion) + adj(15, 1500, m.reasoning);
    // 105 + trunc(8.25) + trunc(37.5) + trunc(22.5) = 105 + 8 + 37 + 22 = 172; one floor of the sum would give 173.
    expect(expected).toBe(172);
    expect(counterUnits(raw, m, 1500)).toBe(BigInt(expected) * UNITS_PER_TOKEN);
    expect(counterOfUnits(counterUnits(raw, m, 1500))).toBe(172n);
  });

  it('follows the reference doubles where they fall below the exact floor', () => {
    const oneX = { prompt: 10_000, cached: 10_000, completion: 10_000, reasoning: 10_000 };
    // 200 × 0.145 × 10000 × 0.0001 evaluates to 28.999…, the reference counts 28.
    expect(counterUnits({ prompt: 200, cached: 0, completion: 0, reasoning: 0 }, oneX, 145)).toBe(28n * UNITS_PER_TOKEN);
  });

  it('adds reported adjusted counts as they are and refuses bad ones', () => {
    expect(adjustedUnits({ prompt: 3, cached: 1, completion: 9, reasoning: 2 })).toBe(15n * UNITS_PER_TOKEN);
    expect(() => adjustedUnits({ prompt: -1, cached: 0, completion: 0, reasoning: 0 })).toThrow(/non-negative/);
  });
});

describe('computeCost prices adjusted tokens by kind', () => {
  it('by kind sums exactly to the total, and keeps the raw counts beside', () => {
    const adjusted = { prompt: 105, cached: 8, completion: 37, reasoning: 22 };
    const raw = { prompt: 70, cached: 55, completion: 25, reasoning: 15 };
    const c = computeCost(adjusted, DEFAULT_PRICING, raw);
    const byKind = c.nanoTonByKind.prompt + c.nanoTonByKind.cached + c.nanoTonByKind.completion + c.nanoTonByKind.reasoning;
    expect(byKind).toBe(c.totalNanoTon);
    expect(c.totalNanoTon).toBe(172 * DEFAULT_PRICING.pricePerToken);
    expect(c.workerNanoTon).toBe(172 * DEFAULT_PRICING.workerFeePerToken);
    expect(c.proxyNanoTon).toBe(c.totalNanoTon - c.workerNanoTon);
    expect(c.tokens).toEqual(raw);
    expect(c.adjusted).toEqual(adjusted);
    expect(computeCost(adjusted).tokens).toEqual(adjusted);
  });
});

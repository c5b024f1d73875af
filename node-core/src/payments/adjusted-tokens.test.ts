import { describe, expect, it } from 'vitest';
import { adjustTokens, adjustedCounts, adjustedTotal, capAdjusted } from './adjusted-tokens.ts';
import { tokenCountsFromUsage } from './pricing.ts';

/**
 * Vectors worked out by hand from the reference's definition (CountTokens / adjust_tokens):
 * per kind trunc(n × (coef × 0.001) × mult × 0.0001) in doubles, prompt without cached,
 * completion without reasoning, total = Σ kinds.
 */
const ONE_X = { prompt: 10_000, cached: 10_000, completion: 10_000, reasoning: 10_000 };
const CHEAP_CACHE = { prompt: 10_000, cached: 1_000, completion: 10_000, reasoning: 10_000 };

describe('adjusted tokens (the reference tokensUsed)', () => {
  it('base coefficient and 1× multipliers: the engine counts, split by kind', () => {
    // The reference proxy logged tokens_used=13+0+6+0 for such an answer.
    const a = adjustedCounts(tokenCountsFromUsage({ prompt_tokens: 13, completion_tokens: 6 }), 1000, ONE_X);
    expect(a).toEqual({ prompt: 13, cached: 0, completion: 6, reasoning: 0 });
    expect(adjustedTotal(a)).toBe(19);
  });

  it('splits cached out of prompt and reasoning out of completion, then floors each kind', () => {
    // prompt 120 of which 50 cached, completion 40 of which 15 reasoning, coefficient 1.5×:
    //   prompt    (120 − 50) × 1.5 × 1   = 105
    //   cached     50        × 1.5 × 0.1 =   7.5  → 7
    //   completion (40 − 15) × 1.5 × 1   =  37.5  → 37
    //   reasoning  15        × 1.5 × 1   =  22.5  → 22          total 171 (unrounded sum: 172.5)
    const raw = tokenCountsFromUsage({ prompt_tokens: 120, completion_tokens: 40, prompt_tokens_details: { cached_tokens: 50 }, completion_tokens_details: { reasoning_tokens: 15 } });
    const a = adjustedCounts(raw, 1500, CHEAP_CACHE);
    expect(a).toEqual({ prompt: 105, cached: 7, completion: 37, reasoning: 22 });
    expect(adjustedTotal(a)).toBe(171);
  });

  it('rounds per kind, not per total: kinds under one adjusted token count nothing', () => {
    // 9 cached tokens at 0.1× = 0.9 → 0; 3 reasoning at 0.3 coefficient = 0.9 → 0.
    expect(adjustTokens(9, 1000, 1000)).toBe(0);
    expect(adjustTokens(3, 300, 10_000)).toBe(0);
    expect(adjustTokens(10, 1000, 1000)).toBe(1);
  });

  it('follows the reference double arithmetic where it differs from the exact floor', () => {
    // 145 × 0.001 is 0.14499999999999999 as a double, so 200 tokens give 28.999999999999996 → 28
    // (the exact rational value 200 × 145 / 1000 = 29 would give 29). The reference sends 28.
    expect(adjustTokens(200, 145, 10_000)).toBe(28);
    expect(adjustTokens(100, 290, 20_000)).toBe(57); // exact 100 × 0.29 × 2 = 58; in doubles 57.99999999999999 → 57
    expect(adjustTokens(200, 150, 10_000)).toBe(30);
  });

  it('coefficient 0 (the reference --local-all worker) counts nothing', () => {
    expect(adjustedTotal(adjustedCounts({ prompt: 500, cached: 20, completion: 300, reasoning: 9 }, 0, ONE_X))).toBe(0);
  });

  it('refuses counts, coefficients and multipliers that are not non-negative integers', () => {
    expect(() => adjustTokens(-1, 1000, 10_000)).toThrow(/token count/);
    expect(() => adjustTokens(1.5, 1000, 10_000)).toThrow(/token count/);
    expect(() => adjustTokens(1, -5, 10_000)).toThrow(/coefficient/);
    expect(() => adjustTokens(1, 1000, Number.NaN)).toThrow(/multiplier/);
  });
});

describe('capAdjusted (a report above the reserved worst case)', () => {
  it('leaves a report within the bound as it is', () => {
    const t = { prompt: 10, cached: 2, completion: 30, reasoning: 5 };
    expect(capAdjusted(t, 47)).toBe(t);
    expect(capAdjusted(t, 100)).toBe(t);
  });
  it('takes the excess off reasoning, then completion, then cached, then prompt; the total is the bound', () => {
    const t = { prompt: 10, cached: 2, completion: 30, reasoning: 5 };
    expect(capAdjusted(t, 45)).toEqual({ prompt: 10, cached: 2, completion: 30, reasoning: 3 });
    expect(capAdjusted(t, 20)).toEqual({ prompt: 10, cached: 2, completion: 8, reasoning: 0 });
    expect(capAdjusted(t, 11)).toEqual({ prompt: 10, cached: 1, completion: 0, reasoning: 0 });
    expect(capAdjusted(t, 0)).toEqual({ prompt: 0, cached: 0, completion: 0, reasoning: 0 });
    expect(adjustedTotal(capAdjusted(t, 20))).toBe(20);
    expect(t).toEqual({ prompt: 10, cached: 2, completion: 30, reasoning: 5 }); // not modified
  });
});

import { describe, it, expect } from 'vitest';
import { admit, worstCaseUnits } from './admission.ts';
import { checkClientCaps, parseCoefficient, parseSpendLimits, parseTon, spendLimitsFromFlags } from './client-limits.ts';
import { DEFAULT_PRICING } from './pricing.ts';

const base = {
  clientContract: 'EQclient', promptTokens: 1000, maxTokens: 4000, pricing: DEFAULT_PRICING, coefficient: 1000,
  ledgerCounter: 0n, onChainCounter: 0n, reservedNano: 0n, balanceNano: 1_000_000_000n, stakeNano: 1_000_000_000n,
};

describe('admission', () => {
  it('computes the worst case at the full prompt and dearest output multiplier, times the coefficient', () => {
    // Adjusted tokens (trunc per kind in doubles) of the worst answer, plus one token per kind of margin.
    const margin = 4n * 10_000n;
    expect(worstCaseUnits(1000, 4000, DEFAULT_PRICING, 1000)).toBe(5000n * 10_000n + margin);
    expect(worstCaseUnits(1000, 4000, DEFAULT_PRICING, 2500)).toBe(BigInt(Math.trunc(1000 * 2.5) + Math.trunc(4000 * 2.5)) * 10_000n + margin);
    expect(worstCaseUnits(1, 0, DEFAULT_PRICING, 1001)).toBe(1n * 10_000n + margin); // trunc(1.001) = 1
    expect(worstCaseUnits(1, 0, { ...DEFAULT_PRICING, multipliers: { ...DEFAULT_PRICING.multipliers, prompt: 3 } }, 1001)).toBe(margin); // trunc(0.0003003) = 0
    // Bound for any answer inside the limits: Σ per kind of the reference arithmetic never exceeds it.
    for (const coef of [1, 145, 999, 1000, 1001, 2500]) {
      const worst = worstCaseUnits(200, 300, DEFAULT_PRICING, coef);
      for (const [p, c, o, r] of [[200, 0, 300, 0], [150, 50, 100, 200], [0, 200, 0, 300]] as const) {
        const adj = (n: number, m: number) => Math.trunc(n * (coef * 0.001) * m * 0.0001);
        const m = DEFAULT_PRICING.multipliers;
        expect(BigInt(adj(p, m.prompt) + adj(c, m.cached) + adj(o, m.completion) + adj(r, m.reasoning)) * 10_000n).toBeLessThanOrEqual(worst);
      }
    }
    const r = admit(base);
    expect(r.ok).toBe(true);
    expect(r.worstCaseNano).toBe(100_080n); // (5000 + 4) tokens at 20
  });

  it('answers 402 naming balance, amount needed and how to top up when funds are short', () => {
    const r = admit({ ...base, balanceNano: 0n, stakeNano: 50_000n, ledgerCounter: 1n, onChainCounter: 0n, reservedNano: 30_000n });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.status).toBe(402);
    expect(r.body.error).toMatchObject({ type: 'insufficient_quota', code: 'insufficient_balance', balance_nano: '0', needed_nano: '100080', available_nano: '19980', contract: 'EQclient' });
    // owed: 1 adjusted token at 20 = 20 nanoTON; available 50000 - 20 - 30000 = 19980; shortfall 100080 - 19980 = 80100.
    expect(r.body.error.message).toContain('Top up at least 0.0000801 TON');
    expect(r.body.error.message).toContain('top-up operation to your client contract EQclient');
    expect(r.body.error.message).toContain('may cost up to 0.00010008 TON');
  });

  it('says to wait for settlement when unsettled usage reached the stake, not to top up', () => {
    const r = admit({ ...base, balanceNano: 100_000_000_000n, stakeNano: 100_080n, ledgerCounter: 4_000n, onChainCounter: 0n });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.body.error.code).toBe('unsettled_credit_exhausted');
      expect(r.body.error.message).toMatch(/Retry once the pending charge settles/);
    }
    // After the chain confirms the charge, the same request passes.
    expect(admit({ ...base, balanceNano: 100_000_000_000n, stakeNano: 100_080n, ledgerCounter: 4_000n, onChainCounter: 4_000n }).ok).toBe(true);
  });

  it('uses the caller\'s top-up hint verbatim', () => {
    const r = admit({ ...base, balanceNano: 0n, stakeNano: 0n, topUpHint: 'run `cocoon client top-up 1`' });
    expect(!r.ok && r.body.error.message).toContain('run `cocoon client top-up 1`');
  });
});

describe('client spending limits', () => {
  it('parses TON and nanoTON amounts exactly and refuses bad ones with the setting named', () => {
    expect(parseTon('x', '0.000000001')).toBe(1n);
    expect(parseTon('x', '12.5')).toBe(12_500_000_000n);
    expect(parseTon('x', '12.5 TON')).toBe(12_500_000_000n);
    expect(parseTon('x', '1500 nanoTON')).toBe(1500n);
    expect(parseTon('x', '7nano')).toBe(7n);
    expect(() => parseTon('--max-cost-per-request', '1e3')).toThrow(/--max-cost-per-request must be an amount/);
    expect(() => parseTon('x', '0.0000000001')).toThrow(/at most 9 decimals/);
    expect(parseCoefficient('c', '1.5')).toBe(1500);
    expect(() => parseCoefficient('c', '0')).toThrow(/between 0.001/);
    expect(parseSpendLimits({ maxCostPerRequest: '0.1', maxPriceCoefficient: 2 })).toEqual({ maxRequestNano: 100_000_000n, maxSessionNano: null, maxCoefficient: 2000 });
    expect(() => parseSpendLimits({ maxCostPerRequest: 'lots' }, 'limits.json')).toThrow(/limits.json: maxCostPerRequest must be an amount/);
    expect(() => parseSpendLimits({ maxTon: '1' })).toThrow(/client limits/);
    expect(() => spendLimitsFromFlags({ 'max-price-coefficient': '1.5555' })).toThrow(/--max-price-coefficient must be a multiple/);
    expect(() => spendLimitsFromFlags({ 'max-cost-per-session': '0' })).toThrow(/would refuse every request/);
    // Flags win over the file.
    expect(spendLimitsFromFlags({ 'max-cost-per-request': '2' }, { request: '1', session: '3' })).toEqual({ maxRequestNano: 2_000_000_000n, maxSessionNano: 3_000_000_000n, maxCoefficient: 4000 });
  });

  it('refuses a request above the per-request cap (400), the session cap (429), or the maximum coefficient', () => {
    const limits = spendLimitsFromFlags({ 'max-cost-per-request': '0.001', 'max-cost-per-session': '0.002', 'max-price-coefficient': '1.5' });
    expect(checkClientCaps({ worstCaseNano: 900_000n, sessionSpentNano: 0n, sessionReservedNano: 0n, limits })).toEqual({ ok: true });
    expect(checkClientCaps({ worstCaseNano: 1_000_001n, sessionSpentNano: 0n, sessionReservedNano: 0n, limits })).toMatchObject({ ok: false, status: 400, body: { error: { code: 'request_cost_cap', param: 'max_tokens' } } });
    const s = checkClientCaps({ worstCaseNano: 900_000n, sessionSpentNano: 1_000_000n, sessionReservedNano: 200_000n, limits });
    expect(s).toMatchObject({ ok: false, status: 429, body: { error: { code: 'session_cost_cap', type: 'insufficient_quota' } } });
    expect(!s.ok && s.body.error.message).toContain('spent 0.001 TON (+ 0.0002 TON in flight)');
    expect(!s.ok && s.body.error.message).toContain('--max-cost-per-session');
    expect(checkClientCaps({ worstCaseNano: 1n, sessionSpentNano: 0n, sessionReservedNano: 0n, coefficient: 1600, limits })).toMatchObject({ ok: false, body: { error: { code: 'price_coefficient_cap' } } });
  });
});

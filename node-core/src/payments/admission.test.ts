import { describe, it, expect } from 'vitest';
import { admit, worstCaseUnits } from './admission.ts';
import { checkClientCaps, parseSpendLimits, parseTon, spendLimitsFromFlags } from './client-limits.ts';
import { computeCost, DEFAULT_PRICING } from './pricing.ts';

const base = {
  clientContract: 'EQclient', promptTokens: 1000, maxTokens: 4000, pricing: DEFAULT_PRICING, coefficient: 1000,
  ledgerCounter: 0n, onChainCounter: 0n, reservedNano: 0n, balanceNano: 1_000_000_000n, stakeNano: 1_000_000_000n,
};

describe('admission', () => {
  it('computes the worst case at the full prompt and dearest output multiplier, times the coefficient', () => {
    const at1 = worstCaseUnits(1000, 4000, DEFAULT_PRICING, 1000);
    expect(at1).toBe(BigInt(computeCost({ prompt: 1000, cached: 0, completion: 4000, reasoning: 0 }).weightedTokens));
    expect(worstCaseUnits(1000, 4000, DEFAULT_PRICING, 2500)).toBe(at1 * 5n / 2n);
    expect(worstCaseUnits(1, 0, DEFAULT_PRICING, 1001)).toBe(10_010n);
    expect(worstCaseUnits(1, 0, { ...DEFAULT_PRICING, multipliers: { ...DEFAULT_PRICING.multipliers, prompt: 3 } }, 1001)).toBe(4n); // 3.003 rounds up
    const r = admit(base);
    expect(r.ok).toBe(true);
    expect(r.worstCaseNano).toBe(100_000n); // 5000 tokens at 20
  });

  it('answers 402 naming balance, amount needed and how to top up when funds are short', () => {
    const r = admit({ ...base, balanceNano: 0n, stakeNano: 50_000n, ledgerCounter: 1n, onChainCounter: 0n, reservedNano: 30_000n });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.status).toBe(402);
    expect(r.body.error).toMatchObject({ type: 'insufficient_quota', code: 'insufficient_balance', balance_nano: '0', needed_nano: '100000', available_nano: '19980', contract: 'EQclient' });
    // owed: 1 adjusted token at 20 = 20 nanoTON; available 50000 - 20 - 30000 = 19980; shortfall 80020.
    expect(r.body.error.message).toContain('Top up at least 0.00008002 TON');
    expect(r.body.error.message).toContain('top-up operation to your client contract EQclient');
    expect(r.body.error.message).toContain('may cost up to 0.0001 TON');
  });

  it('says to wait for settlement when unsettled usage reached the stake, not to top up', () => {
    const r = admit({ ...base, balanceNano: 100_000_000_000n, stakeNano: 100_000n, ledgerCounter: 4_000n, onChainCounter: 0n });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.body.error.code).toBe('unsettled_credit_exhausted');
      expect(r.body.error.message).toMatch(/Retry once the pending charge settles/);
    }
    // After the chain confirms the charge, the same request passes.
    expect(admit({ ...base, balanceNano: 100_000_000_000n, stakeNano: 100_000n, ledgerCounter: 4_000n, onChainCounter: 4_000n }).ok).toBe(true);
  });

  it('uses the caller\'s top-up hint verbatim', () => {
    const r = admit({ ...base, balanceNano: 0n, stakeNano: 0n, topUpHint: 'run `cocoon client top-up 1`' });
    expect(!r.ok && r.body.error.message).toContain('run `cocoon client top-up 1`');
  });
});

describe('client spending limits', () => {
  it('parses TON amounts exactly and refuses bad ones with the setting named', () => {
    expect(parseTon('x', '0.000000001')).toBe(1n);
    expect(parseTon('x', '12.5')).toBe(12_500_000_000n);
    expect(() => parseTon('--max-request-ton', '1e3')).toThrow(/--max-request-ton must be an amount of TON/);
    expect(() => parseTon('x', '0.0000000001')).toThrow(/at most 9 decimals/);
    expect(parseSpendLimits({ maxRequestTon: '0.1', maxCoefficient: 2000 })).toEqual({ maxRequestNano: 100_000_000n, maxSessionNano: null, maxCoefficient: 2000 });
    expect(() => parseSpendLimits({ maxRequestTon: 0.1 })).toThrow(/maxRequestTon/);
    expect(() => parseSpendLimits({ maxTon: '1' })).toThrow(/client spending limits/);
    expect(() => spendLimitsFromFlags({ 'max-coefficient': '1.5' })).toThrow(/--max-coefficient must be an integer/);
    expect(() => spendLimitsFromFlags({ 'max-session-ton': '0' })).toThrow(/would refuse every request/);
  });

  it('refuses a request above the per-request cap, the session cap, or the maximum coefficient', () => {
    const limits = spendLimitsFromFlags({ 'max-request-ton': '0.001', 'max-session-ton': '0.002', 'max-coefficient': '1500' });
    expect(checkClientCaps({ worstCaseNano: 900_000n, sessionSpentNano: 0n, sessionReservedNano: 0n, limits })).toEqual({ ok: true });
    expect(checkClientCaps({ worstCaseNano: 1_000_001n, sessionSpentNano: 0n, sessionReservedNano: 0n, limits })).toMatchObject({ ok: false, status: 402, body: { error: { code: 'request_cost_cap' } } });
    const s = checkClientCaps({ worstCaseNano: 900_000n, sessionSpentNano: 1_000_000n, sessionReservedNano: 200_000n, limits });
    expect(s).toMatchObject({ ok: false, body: { error: { code: 'session_cost_cap' } } });
    expect(!s.ok && s.body.error.message).toContain('spent 0.001 TON (+ 0.0002 TON in flight)');
    expect(checkClientCaps({ worstCaseNano: 1n, sessionSpentNano: 0n, sessionReservedNano: 0n, coefficient: 1600, limits })).toMatchObject({ ok: false, body: { error: { code: 'price_coefficient_cap' } } });
  });
});

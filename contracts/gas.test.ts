import { describe, it, expect } from 'vitest';
import { measureGas, STEADY_STATE_OPERATIONS, STEADY_STATE_BUDGET } from './gas.ts';

describe('gas', () => {
  it('measures every operation, and steady-state operations stay within 0.015 TON', async () => {
    const costs = await measureGas();
    const names = costs.map((c) => c.operation);
    for (const op of ['deploy_root', 'register_proxy', 'deploy_client', 'top_up', 'charge', 'deploy_worker', 'payout', 'withdraw', 'close_client', 'close_proxy']) {
      expect(names).toContain(op);
    }
    for (const op of STEADY_STATE_OPERATIONS) {
      const c = costs.find((x) => x.operation === op)!;
      expect(c.totalFees).toBeGreaterThan(0n);
      expect(c.totalFees, `${op} costs ${c.totalFees} nanoTON`).toBeLessThanOrEqual(STEADY_STATE_BUDGET);
      // Per-hop figures add up to the total.
      expect(c.hops.reduce((s, h) => s + h.totalFee, 0n)).toBe(c.totalFees);
    }
  });
});

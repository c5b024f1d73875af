/**
 * The economics, end to end in the real TVM: what the client pays, what the worker receives and
 * what the proxy keeps equal node-core/src/payments/pricing.ts to the nanoTON.
 */
import { describe, it, expect } from 'vitest';
import { toNano } from '@ton/core';
import { computeCost, TOKEN_KINDS, type TokenCounts } from '../node-core/src/payments/pricing.ts';
import { deployNetwork } from './testing/network.ts';
import { pricingOf, DEFAULT_ROOT_PARAMS } from './wrappers/Root.ts';
import { expectTx } from './testing/expect-tx.ts';

// Deterministic pseudo-random token counts (xorshift), so a failure is reproducible.
function* usageStream(seed: number): Generator<TokenCounts> {
  let x = seed;
  const next = (max: number) => {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    return (x >>> 0) % max;
  };
  for (;;) yield { prompt: next(4000), cached: next(2000), completion: next(3000), reasoning: next(1500) };
}

function add(a: TokenCounts, b: TokenCounts): TokenCounts {
  const out = { ...a };
  for (const k of TOKEN_KINDS) out[k] += b[k];
  return out;
}

describe('economics', () => {
  for (const params of [
    DEFAULT_ROOT_PARAMS,
    // Odd prices and multipliers make every floor bite.
    { ...DEFAULT_ROOT_PARAMS, pricePerToken: 37, workerFeePerToken: 29, multipliers: { prompt: 12_345, cached: 777, completion: 30_001, reasoning: 9_999 } },
  ]) {
    it(`client pays price × multiplier, worker gets its fee share, proxy keeps the rest (price ${params.pricePerToken}, fee ${params.workerFeePerToken})`, async () => {
      const net = await deployNetwork({ params });
      const pricing = pricingOf(params);
      await net.client.sendTopUp(net.clientOwner.getSender(), toNano('10'));
      const clientStart = await net.client.getState();
      let total: TokenCounts = { prompt: 0, cached: 0, completion: 0, reasoning: 0 };
      const usage = usageStream(params.pricePerToken);
      let prevWorkerPaid = 0n;
      for (let i = 0; i < 6; i++) {
        total = add(total, usage.next().value);
        const expected = computeCost(total, pricing);
        await net.client.sendCharge(net.proxyOwner.getSender(), {
          value: toNano('0.05'), signed: net.sign('charge', net.client.address, BigInt(expected.weightedTokens)),
        });
        const c = await net.client.getState();
        expect(c.chargedNano).toBe(BigInt(expected.totalNanoTon));
        expect(clientStart.balance - c.balance).toBe(BigInt(expected.totalNanoTon));
        const p = await net.proxy.getState();
        expect(p.earned).toBe(BigInt(expected.proxyNanoTon));
        expect(p.workerReserve).toBe(BigInt(expected.workerNanoTon));

        // The worker claims the same cumulative tokens: it gets exactly its share, and the proxy
        // contract's balance drops by exactly that (the forwarded gas is the worker's own).
        const proxyBefore = (await net.blockchain.getContract(net.proxy.address)).balance;
        const r = await net.worker.sendPayout(net.workerOwner.getSender(), {
          value: toNano('0.05'), signed: net.sign('payout', net.worker.address, BigInt(expected.weightedTokens)),
        });
        expectTx(r, { from: net.proxy.address, to: net.workerOwner.address, success: true });
        const proxyAfter = (await net.blockchain.getContract(net.proxy.address)).balance;
        const paid = (await net.proxy.getState()).workersPaid;
        expect(paid).toBe(BigInt(expected.workerNanoTon));
        const paidNow = paid - prevWorkerPaid;
        // The proxy's balance falls by the payout plus at most a few nanoTON of storage rent.
        expect(proxyBefore - proxyAfter - paidNow >= 0n && proxyBefore - proxyAfter - paidNow < 100n).toBe(true);
        prevWorkerPaid = paid;
      }
      // Nobody can take more: the owner cannot withdraw beyond its share, a replayed payout fails.
      const p = await net.proxy.getState();
      const over = await net.proxy.sendWithdrawEarnings(net.proxyOwner.getSender(), { value: toNano('0.05'), amount: p.earned + 1n });
      expectTx(over, { to: net.proxy.address, success: false });
      const final = computeCost(total, pricing);
      const replay = await net.worker.sendPayout(net.workerOwner.getSender(), {
        value: toNano('0.05'), signed: net.sign('payout', net.worker.address, BigInt(final.weightedTokens)),
      });
      expectTx(replay, { to: net.worker.address, success: false });
      expect((await net.proxy.getState()).workersPaid).toBe(BigInt(final.workerNanoTon));
      expect(p.earned + p.workerReserve).toBe(BigInt(final.totalNanoTon));
    });
  }

  it('a charge of N tokens of one kind costs exactly N × multiplier × price / 10000 (floored)', async () => {
    const net = await deployNetwork();
    await net.client.sendTopUp(net.clientOwner.getSender(), toNano('2'));
    let cumulative: TokenCounts = { prompt: 0, cached: 0, completion: 0, reasoning: 0 };
    let charged = 0n;
    for (const kind of TOKEN_KINDS) {
      const one: TokenCounts = { prompt: 0, cached: 0, completion: 0, reasoning: 0 };
      one[kind] = 12_345;
      cumulative = add(cumulative, one);
      const cost = computeCost(cumulative);
      await net.client.sendCharge(net.proxyOwner.getSender(), { value: toNano('0.05'), signed: net.sign('charge', net.client.address, BigInt(cost.weightedTokens)) });
      const s = await net.client.getState();
      const delta = s.chargedNano - charged;
      charged = s.chargedNano;
      const m = BigInt(DEFAULT_ROOT_PARAMS.multipliers[kind]);
      // Cumulative floors: the delta is within 1 nanoTON of the exact per-kind price, and the total is exact.
      const exact = (12_345n * m * 20n);
      expect(delta * 10_000n <= exact + 10_000n && delta * 10_000n >= exact - 10_000n).toBe(true);
      expect(s.chargedNano).toBe(BigInt(cost.totalNanoTon));
    }
  });
});

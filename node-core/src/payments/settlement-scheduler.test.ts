/**
 * The scheduler against a real ledger file and a stand-in for the chain (`FakeChain`, a test
 * double at the public-network boundary: it records submissions and can be made to fail or hang).
 */
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProxyLedger } from './proxy-ledger.ts';
import { ClientPaymentStore } from './client-payment-store.ts';
import { DEFAULT_PRICING } from './pricing.ts';
import { SettlementScheduler, thresholdOf, DEFAULT_SETTLEMENT_POLICY, type SettlementItem, type SettlementSubmitter, type SubmitOutcome } from './settlement-scheduler.ts';

class FakeChain implements SettlementSubmitter {
  submitted: SettlementItem[] = [];
  down = false;
  hang: Promise<void> | null = null;
  counters = new Map<string, bigint>();
  async submit(item: SettlementItem): Promise<SubmitOutcome> {
    this.submitted.push(item);
    if (this.hang) await this.hang;
    if (this.down) throw new Error('connect ECONNREFUSED 127.0.0.1:8081');
    const held = this.counters.get(item.contract) ?? 0n;
    if (item.counter > held) this.counters.set(item.contract, item.counter);
    return { status: 'confirmed', onChainCounter: this.counters.get(item.contract)! };
  }
}

const tokens = (n: number) => ({ prompt: n, cached: 0, completion: 0, reasoning: 0 });

describe('SettlementScheduler', () => {
  let dir: string;
  let ledger: ProxyLedger;
  let chain: FakeChain;
  let clock: number;
  const now = () => clock;
  const sign = (party: 'client' | 'worker', contract: string) => {
    const a = ledger.account(party, contract)!;
    ledger.recordSigned(party, contract, a.counter, new Uint8Array([Number(a.counter % 251n)]));
  };
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cocoon-sched-'));
    clock = 1_000_000;
    ledger = ProxyLedger.open(join(dir, 'proxy-ledger.sqlite'), { pricing: DEFAULT_PRICING, now });
    chain = new FakeChain();
  });
  afterEach(() => {
    ledger.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('defaults to a threshold where the fee is at most 1% of what is settled', () => {
    expect(thresholdOf(DEFAULT_SETTLEMENT_POLICY)).toBe(DEFAULT_SETTLEMENT_POLICY.feeNano * 100n);
  });

  it('submits only the kinds its policy names on its own, and everything on settleNow', async () => {
    const s = new SettlementScheduler(ledger, chain, { ...DEFAULT_SETTLEMENT_POLICY, thresholdNano: 1n, kinds: ['charge'] }, { now });
    ledger.recordAnswer({ requestId: 'k', clientContract: 'C', workerContract: 'W', tokens: tokens(40_000), outcome: 'completed' });
    sign('client', 'C');
    sign('worker', 'W');
    await s.tick();
    expect(chain.submitted.map((i) => i.kind)).toEqual(['charge']);
    expect(ledger.account('worker', 'W')!.onChainCounter).toBe(0n);
    await s.settleNow();
    expect(chain.submitted.map((i) => i.kind)).toEqual(['charge', 'payout']);
  });

  it('waits until the amount is worth the fee, then submits the signed counter and records it', async () => {
    const policy = { ...DEFAULT_SETTLEMENT_POLICY, feeNano: 1_000n }; // threshold 100 000 nanoTON = 5000 tokens
    const s = new SettlementScheduler(ledger, chain, policy, { now });
    ledger.recordAnswer({ requestId: 'a', clientContract: 'C', workerContract: 'W', tokens: tokens(4000), outcome: 'completed' });
    sign('client', 'C');
    sign('worker', 'W');
    expect(await s.tick()).toEqual([]);
    expect(s.view()[0]!.why).toMatch(/waiting: 0.00008 of 0.0001 TON/);
    ledger.recordAnswer({ requestId: 'b', clientContract: 'C', workerContract: 'W', tokens: tokens(1000), outcome: 'cancelled' });
    sign('client', 'C');
    sign('worker', 'W');
    const r = await s.tick();
    expect(r.map((x) => [x.kind, x.contract, x.outcome.status])).toEqual([['charge', 'C', 'confirmed']]); // the worker's 95 000 is below
    expect(ledger.account('client', 'C')).toMatchObject({ onChainCounter: 5_000n, unsettledNano: 0n });
    expect(ledger.settlementState('charge', 'C')).toMatchObject({ attempts: 0, lastError: null, lastConfirmedAt: clock });
  });

  it('settles a small amount once it has waited the time limit', async () => {
    const s = new SettlementScheduler(ledger, chain, { ...DEFAULT_SETTLEMENT_POLICY, maxDelayMs: 60_000 }, { now });
    ledger.recordAnswer({ requestId: 'a', clientContract: 'C', workerContract: 'W', tokens: tokens(3), outcome: 'completed' });
    sign('client', 'C');
    expect(await s.tick()).toEqual([]);
    clock += 60_000;
    expect((await s.tick()).map((r) => r.outcome.status)).toEqual(['confirmed']);
  });

  it('retries with exponential backoff while the chain is down, keeps the counter, and shows why', async () => {
    const s = new SettlementScheduler(ledger, chain, { ...DEFAULT_SETTLEMENT_POLICY, thresholdNano: 1n, retryBaseMs: 1000, retryMaxMs: 8000 }, { now });
    ledger.recordAnswer({ requestId: 'a', clientContract: 'C', workerContract: 'W', tokens: tokens(100), outcome: 'completed' });
    sign('client', 'C');
    chain.down = true;
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      const [r] = await s.tick();
      expect(r!.outcome).toMatchObject({ status: 'failed', error: expect.stringMatching(/ECONNREFUSED/) });
      const st = ledger.settlementState('charge', 'C');
      delays.push(st.nextAttemptAt! - clock);
      expect(await s.tick()).toEqual([]); // not before the next attempt
      clock = st.nextAttemptAt!;
    }
    expect(delays).toEqual([1000, 2000, 4000, 8000, 8000]);
    expect(s.view()[0]).toMatchObject({ due: true, state: { attempts: 5, lastError: expect.stringMatching(/ECONNREFUSED/) } });
    expect(ledger.account('client', 'C')!.signedMessage).not.toBeNull();
    chain.down = false;
    expect((await s.tick()).map((r) => r.outcome.status)).toEqual(['confirmed']);
    expect(ledger.settlementState('charge', 'C')).toMatchObject({ attempts: 0, lastError: null, nextAttemptAt: null });
  });

  it('settleNow submits everything outstanding regardless of threshold and backoff', async () => {
    const s = new SettlementScheduler(ledger, chain, DEFAULT_SETTLEMENT_POLICY, { now });
    for (const [i, c, w] of [[1, 'C1', 'W1'], [2, 'C2', 'W1'], [3, 'C2', 'W2']] as const) {
      ledger.recordAnswer({ requestId: `r${i}`, clientContract: c, workerContract: w, tokens: tokens(10 * i), outcome: 'completed' });
    }
    for (const c of ['C1', 'C2']) sign('client', c);
    for (const w of ['W1', 'W2']) sign('worker', w);
    ledger.saveSettlementState('charge', 'C1', { attempts: 3, lastError: 'x', lastAttemptAt: clock, nextAttemptAt: clock + 1e9, lastConfirmedAt: null });
    const r = await s.settleNow();
    expect(r.map((x) => `${x.kind}:${x.contract}:${x.outcome.status}`).sort()).toEqual(['charge:C1:confirmed', 'charge:C2:confirmed', 'payout:W1:confirmed', 'payout:W2:confirmed']);
    expect(ledger.settlementAccounts()).toEqual([]);
    expect(await s.settleNow()).toEqual([]);
  });

  it('never blocks answering: the ledger takes answers while a submission hangs', async () => {
    const s = new SettlementScheduler(ledger, chain, { ...DEFAULT_SETTLEMENT_POLICY, thresholdNano: 1n }, { now });
    ledger.recordAnswer({ requestId: 'a', clientContract: 'C', workerContract: 'W', tokens: tokens(100), outcome: 'completed' });
    sign('client', 'C');
    let release!: () => void;
    chain.hang = new Promise((r) => (release = r));
    const pending = s.tick();
    const t0 = performance.now();
    for (let i = 0; i < 50; i++) ledger.recordAnswer({ requestId: `b${i}`, clientContract: 'C', workerContract: 'W', tokens: tokens(5), outcome: 'completed' });
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(await s.tick()).toEqual([]); // a second tick while one runs is a no-op
    release();
    expect((await pending).map((r) => r.outcome.status)).toEqual(['confirmed']);
    expect(ledger.account('client', 'C')).toMatchObject({ onChainCounter: 100n, counter: 350n });
  });

  it('flushes on shutdown, and submits a client\'s charge at half its stake', async () => {
    const store = ClientPaymentStore.open(join(dir, 'client-payments.sqlite'), { now });
    store.recordReceived({ proxy: 'P', contract: 'C', requestId: 'a', tokens: tokens(1000), pricing: DEFAULT_PRICING }); // 20 000 nanoTON
    store.check({ proxy: 'P', contract: 'C', signed: { counter: 1_000n, message: new Uint8Array([1]) } });
    const s = new SettlementScheduler(store, chain, DEFAULT_SETTLEMENT_POLICY, { now });
    expect(await s.tick()).toEqual([]);
    store.recordStake('P', 'C', 40_000n);
    expect((await s.tick()).map((r) => r.outcome.status)).toEqual(['confirmed']);
    store.recordReceived({ proxy: 'P', contract: 'C', requestId: 'b', tokens: tokens(1), pricing: DEFAULT_PRICING });
    store.check({ proxy: 'P', contract: 'C', signed: { counter: 1_001n, message: new Uint8Array([2]) } });
    s.start();
    const flushed = await s.stop({ flush: true });
    expect(flushed.map((r) => r.counter)).toEqual([1_001n]);
    expect(store.holding('P', 'C')!.onChainCounter).toBe(1_001n);
    store.close();
  });
});

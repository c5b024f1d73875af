import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Chain } from '../../../node-core/src/chain/chain.ts';
import { ClientPaymentStore } from '../../../node-core/src/payments/client-payment-store.ts';
import { DEFAULT_PRICING } from '../../../node-core/src/payments/pricing.ts';
import { chargeState } from '../../shared/charge-state.ts';
import { ChargeTracker } from './charge-tracker.ts';

/** The tracker over a real client payment store file; the proxy's reports are what `check()` receives. */
describe('ChargeTracker', () => {
  let dir: string;
  let store: ClientPaymentStore;
  let tracker: ChargeTracker;
  const P = 'EQBdBHf8nPDHeJvAPiJvNWlC_okBDEh-x4T2jHCPDIB80Qd2';
  const C = 'EQDQc_IcJFJfd6vRm4S4FelidLaE7NE7_fHTs4L4IiNdecxo';
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'charge-tracker-'));
    store = ClientPaymentStore.open(join(dir, 'client-payments.sqlite'));
    // No chain is read in these tests (info() is covered by app/charges.e2e.test.ts).
    tracker = new ChargeTracker({ network: 'local', store, contract: C, chain: new Chain({ network: 'local', endpoint: 'http://127.0.0.1:9' }) });
  });
  afterEach(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('places an answer by the proxy\'s ledger counter reported after it started', async () => {
    store.recordReceived({ proxy: P, contract: C, requestId: 'r1', tokens: { prompt: 10, cached: 0, completion: 30, reasoning: 0 }, coefficient: 4000, pricing: DEFAULT_PRICING });
    expect(store.check({ proxy: P, contract: C, committedCounter: 0n, maxCounter: 40n }).ok).toBe(true);
    const before = tracker.reported();
    expect(before).toBe(40n);
    const mark = tracker.markAfter(before, 1_000);
    setTimeout(() => store.check({ proxy: P, contract: C, committedCounter: 40n, maxCounter: 75n }), 50);
    expect(await mark).toBe('75');
  });

  it('gives no mark when the proxy reports nothing new (nothing charged)', async () => {
    expect(await tracker.markAfter(tracker.reported(), 100)).toBeNull();
  });
});

describe('chargeState', () => {
  const counters = (signed: string, onChain: string) => ({ ledger: '999', signed, onChain });
  it('moves pending → signed → settled as the counters reach the mark', () => {
    expect(chargeState('50', counters('40', '0'))).toBe('pending');
    expect(chargeState('50', counters('50', '40'))).toBe('signed');
    expect(chargeState('50', counters('80', '50'))).toBe('settled');
  });
  it('is untracked without a mark or counters', () => {
    expect(chargeState(undefined, counters('80', '80'))).toBe('untracked');
    expect(chargeState('50', null)).toBe('untracked');
  });
});

import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { mkdtempSync, rmSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClientPaymentStore } from './client-payment-store.ts';
import { WorkerPaymentStore } from './worker-payment-store.ts';
import { DEFAULT_PRICING } from './pricing.ts';

const msg = (n: number) => new Uint8Array([n & 255, (n >> 8) & 255]);
const P = 'proxy-A';
const C = 'client-contract';
const W = 'worker-contract';
const tokens = { prompt: 100, cached: 0, completion: 50, reasoning: 0 }; // 1 500 000 weight units = 150 adjusted tokens

describe('ClientPaymentStore', () => {
  let dir: string;
  let store: ClientPaymentStore;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cocoon-client-pay-'));
    store = ClientPaymentStore.open(join(dir, 'client-payments.sqlite'));
  });
  afterEach(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('accepts a charge up to what it received and keeps the best one', () => {
    const units = store.recordReceived({ proxy: P, contract: C, requestId: 'a', tokens, pricing: DEFAULT_PRICING });
    expect(units).toBe(1_500_000n);
    expect(store.holding(P, C)!.ownCounter).toBe(150n);
    expect(store.check({ proxy: P, contract: C, signed: { counter: 100n, message: msg(1) } })).toEqual({ ok: true, improved: true });
    expect(store.check({ proxy: P, contract: C, signed: { counter: 150n, message: msg(2) } })).toEqual({ ok: true, improved: true });
    const h = store.holding(P, C)!;
    expect(h).toMatchObject({ signedCounter: 150n, signedNano: 3000n, ownNano: 3000n, unsettledNano: 3000n, rollback: null });
    expect([...h.signedMessage!]).toEqual([...msg(2)]);
  });

  it('keeps the proxy\'s reported counters in memory, detects a rollback against them, and writes them on close', () => {
    store.recordReceived({ proxy: P, contract: C, requestId: 'a', tokens, pricing: DEFAULT_PRICING });
    expect(store.check({ proxy: P, contract: C, signed: { counter: 100n, message: msg(1) }, committedCounter: 100n, maxCounter: 120n })).toEqual({ ok: true, improved: true });
    expect(store.check({ proxy: P, contract: C, signed: { counter: 100n, message: msg(1) }, committedCounter: 100n, maxCounter: 140n })).toEqual({ ok: true, improved: false });
    expect(store.holding(P, C)!.maxCounter).toBe(140n);
    store.close();
    store = ClientPaymentStore.open(join(dir, 'client-payments.sqlite'));
    expect(store.holding(P, C)).toMatchObject({ signedCounter: 100n, maxCounter: 140n });
    expect(store.check({ proxy: P, contract: C, maxCounter: 130n })).toMatchObject({ ok: false, code: 'rollback' });
    expect(store.isBlocked(P)).toBe(true);
  });

  it('commits its own counts in groups, and always before it keeps a better signed charge', () => {
    const file = join(dir, 'client-payments.sqlite');
    store.recordReceived({ proxy: P, contract: C, requestId: 'a', tokens, pricing: DEFAULT_PRICING });
    expect(store.recordReceived({ proxy: P, contract: C, requestId: 'a', tokens, pricing: DEFAULT_PRICING })).toBe(1_500_000n);
    store.recordReceived({ proxy: P, contract: C, requestId: 'b', tokens, pricing: DEFAULT_PRICING });
    // Queued, not yet in the file (another reader sees nothing yet).
    const reader = ClientPaymentStore.open(file, { readonly: true });
    try {
      expect(reader.holdings()).toEqual([]);
      // A charge for both answers is judged against the count on disk: the queue is committed first.
      expect(store.check({ proxy: P, contract: C, signed: { counter: 300n, message: msg(1) } })).toEqual({ ok: true, improved: true });
      expect(reader.holdings()[0]).toMatchObject({ ownCounter: 300n, signedCounter: 300n });
    } finally {
      reader.close();
    }
    store.recordReceived({ proxy: P, contract: C, requestId: 'c', tokens, pricing: DEFAULT_PRICING });
    store.close();
    store = ClientPaymentStore.open(file);
    expect(store.holding(P, C)!.ownCounter).toBe(450n);
  });

  it('refuses a charge above the tokens it received and keeps nothing of it', () => {
    store.recordReceived({ proxy: P, contract: C, requestId: 'a', tokens, pricing: DEFAULT_PRICING });
    const r = store.check({ proxy: P, contract: C, signed: { counter: 151n, message: msg(9) } });
    expect(r).toMatchObject({ ok: false, code: 'charge_above_received' });
    expect((r as { reason: string }).reason).toMatch(/received only 150 tokens/);
    expect(store.holding(P, C)!.signedCounter).toBe(0n);
    expect(store.settlementAccounts()).toEqual([]);
  });

  it('counts a received answer once per request id', () => {
    store.recordReceived({ proxy: P, contract: C, requestId: 'a', tokens, pricing: DEFAULT_PRICING });
    store.recordReceived({ proxy: P, contract: C, requestId: 'a', tokens, pricing: DEFAULT_PRICING });
    expect(store.holding(P, C)!.ownUnits).toBe(1_500_000n);
    // Also after a restart: the newest request ids are read back from the file.
    store.close();
    store = ClientPaymentStore.open(join(dir, 'client-payments.sqlite'));
    expect(store.recordReceived({ proxy: P, contract: C, requestId: 'a', tokens, pricing: DEFAULT_PRICING })).toBe(1_500_000n);
    store.recordReceived({ proxy: P, contract: C, requestId: 'b', tokens, pricing: DEFAULT_PRICING });
    expect(store.holding(P, C)!.ownUnits).toBe(3_000_000n);
  });

  it('flags a rollback when a signed counter goes backwards, and keeps the flag across restarts', () => {
    store.recordReceived({ proxy: P, contract: C, requestId: 'a', tokens, pricing: DEFAULT_PRICING });
    store.check({ proxy: P, contract: C, signed: { counter: 100n, message: msg(1) } });
    expect(store.check({ proxy: P, contract: C, signed: { counter: 90n, message: msg(2) } })).toMatchObject({ ok: false, code: 'rollback' });
    store.close();
    store = ClientPaymentStore.open(join(dir, 'client-payments.sqlite'));
    expect(store.isBlocked(P)).toBe(true);
    expect(store.check({ proxy: P, contract: C, signed: { counter: 120n, message: msg(3) } })).toMatchObject({ ok: false, code: 'blocked' });
    expect(store.clearRollback(P)).toBe(true);
    expect(store.check({ proxy: P, contract: C, signed: { counter: 120n, message: msg(3) } })).toEqual({ ok: true, improved: true });
  });

  it('asks to settle at half the stake', () => {
    store.recordReceived({ proxy: P, contract: C, requestId: 'a', tokens, pricing: DEFAULT_PRICING });
    store.check({ proxy: P, contract: C, signed: { counter: 150n, message: msg(1) } }); // 3000 nanoTON
    store.recordStake(P, C, 10_000n);
    expect(store.settlementAccounts()[0]!.dueReason).toBeUndefined();
    store.recordStake(P, C, 6_000n);
    expect(store.settlementAccounts()[0]!.dueReason).toMatch(/half the stake/);
    store.recordOnChain('charge', C, 150n);
    expect(store.settlementAccounts()).toEqual([]);
    expect(store.holding(P, C)).toMatchObject({ onChainNano: 3000n, unsettledNano: 0n, unsettledSince: null });
  });
});

describe('WorkerPaymentStore', () => {
  let dir: string;
  let path: string;
  let store: WorkerPaymentStore;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cocoon-worker-pay-'));
    path = join(dir, 'worker-payments.sqlite');
    store = WorkerPaymentStore.open(path);
  });
  afterEach(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps the best payout and its value at the worker fee', () => {
    store.recordServed({ proxy: P, contract: W, requestId: 'a', tokens, pricing: DEFAULT_PRICING });
    expect(store.check({ proxy: P, contract: W, signed: { counter: 150n, message: msg(1) }, committedCounter: 150n, maxCounter: 150n })).toEqual({ ok: true, improved: true });
    expect(store.holding(P, W)).toMatchObject({ signedNano: 2850n, ownNano: 2850n, committedCounter: 150n, maxCounter: 150n });
    expect(store.unsignedTokens(P, W)).toBe(0n);
  });

  it('detects a proxy restarted from an older ledger copy, says why, and stops until cleared', () => {
    store.check({ proxy: P, contract: W, signed: { counter: 500n, message: msg(1) }, committedCounter: 500n, maxCounter: 800n });
    const r = store.check({ proxy: P, contract: W, signed: { counter: 500n, message: msg(1) }, committedCounter: 500n, maxCounter: 600n });
    expect(r).toMatchObject({ ok: false, code: 'rollback' });
    expect((r as { reason: string }).reason).toMatch(/ledger counter 600 < 800/);
    store.close();
    copyFileSync(path, join(dir, 'copy.sqlite'));
    store = WorkerPaymentStore.open(path);
    expect(store.isBlocked(P)).toBe(true);
    expect(store.rollbackOf(P)!.reason).toMatch(/rolled back/);
    expect(store.isBlocked('another-proxy')).toBe(false);
    // The last good signed payout is still there to be settled.
    expect(store.settlementAccounts()).toEqual([expect.objectContaining({ kind: 'payout', contract: W, signedCounter: 500n })]);
  });
});

describe('a payment store written under another spelling of an address', () => {
  it('renames rows to the canonical spelling when it migrates, and reads any spelling after', async () => {
    const { default: Database } = await import('better-sqlite3');
    const { Address } = await import('@ton/core');
    const dir = mkdtempSync(join(tmpdir(), 'cocoon-store-forms-'));
    try {
      const path = join(dir, 'client-payments.sqlite');
      const proxy = new Address(0, Buffer.alloc(32, 3));
      const contract = new Address(0, Buffer.alloc(32, 1));
      const nb = (a: InstanceType<typeof Address>) => a.toString({ bounceable: false });
      ClientPaymentStore.open(path).close();
      // A file as the previous schema left it after a proxy announced the non-bounceable form.
      const db = new Database(path);
      db.prepare('INSERT INTO holdings (proxy, contract, signed_counter) VALUES (?, ?, 42)').run(nb(proxy), nb(contract));
      db.prepare('INSERT INTO rollbacks (proxy, reason, at) VALUES (?, ?, 1)').run(nb(proxy), 'old flag');
      // Back to schema 1: the tables later migrations add go too, so the migrations run again.
      db.exec('DROP TABLE answer_log; DROP TABLE auth_secret;');
      db.pragma('user_version = 1');
      db.close();
      const store = ClientPaymentStore.open(path);
      expect(store.holdings()).toEqual([expect.objectContaining({ proxy: proxy.toString(), contract: contract.toString(), signedCounter: 42n })]);
      expect(store.holding(proxy.toRawString(), nb(contract))?.signedCounter).toBe(42n);
      expect(store.rollbackOf(nb(proxy))?.reason).toBe('old flag');
      store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

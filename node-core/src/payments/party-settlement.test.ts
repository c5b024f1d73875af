/**
 * The client's settlement over its real SQLite store: a signed charge above what it received, or
 * a counter below one it holds, makes it stop using that proxy — persisted, with the reason.
 */
import { Address } from '@ton/core';
import { keyPairFromSeed } from '@ton/crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../log.ts';
import { StoreClientSettlement, StoreWorkerSettlement, type PartySettlementOptions } from './party-settlement.ts';
import { DEFAULT_PRICING } from './pricing.ts';
import { ProxyPaymentSigner } from './signed-payments.ts';
import { counterOfUnits, counterUnits } from './units.ts';

const addr = (n: number) => new Address(0, Buffer.alloc(32, n)).toString();
const C = addr(1);
const P = addr(3);
const W = addr(4);
const proxyKey = keyPairFromSeed(Buffer.alloc(32, 7));
const tokens = { prompt: 300, cached: 0, completion: 120, reasoning: 0 };

describe('a client that checks its proxy\'s charges', () => {
  let dir: string;
  let opts: PartySettlementOptions;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cocoon-client-settle-'));
    opts = { ownerAddress: addr(9), isTest: true, path: join(dir, 'client-payments.sqlite'), pricing: DEFAULT_PRICING, proxies: [{ proxyContract: P, ownContract: C, proxyPublicKey: proxyKey.publicKey }], log: createLogger('test') };
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const charge = (counter: bigint) => ({ signedPayment: Buffer.from(new ProxyPaymentSigner(proxyKey).sign('charge', C, counter)), tokensCommittedToDb: counter, maxTokens: counter });

  it('accepts a charge up to what it received, refuses one above and stops using the proxy, across restarts', async () => {
    let s = StoreClientSettlement.open(opts);
    s.onAnswer(P, 'r1', tokens, 1000);
    const own = counterOfUnits(counterUnits(tokens, DEFAULT_PRICING.multipliers, 1000));
    expect(own).toBeGreaterThan(0n);
    expect(s.onPayment(P, charge(own))).toBeNull();
    expect(s.chargeCounters(P)).toEqual({ signed: own, onChain: 0n });
    expect(s.refusal(P)).toBeNull();
    const reason = s.onPayment(P, charge(own + 1n));
    expect(reason).toMatch(/refusing a charge for .* this client received only/);
    expect(s.refusal(P)).toMatch(/proxy charged more than this client received/);
    // The refused charge is not kept: the held one is still the last good one.
    expect(s.chargeCounters(P)!.signed).toBe(own);
    await s.close({ flush: false });
    s = StoreClientSettlement.open(opts);
    expect(s.refusal(P)).toMatch(/proxy charged more than this client received/);
    expect(s.onPayment(P, charge(own))).toMatch(/work from proxy .* is stopped/);
    await s.close({ flush: false });
  });

  it('a counter below one it holds is a rollback: flagged with the reason', async () => {
    const s = StoreClientSettlement.open(opts);
    s.onAnswer(P, 'r1', tokens, 1000);
    const own = counterOfUnits(counterUnits(tokens, DEFAULT_PRICING.multipliers, 1000));
    expect(s.onPayment(P, charge(own))).toBeNull();
    expect(s.onPayment(P, charge(own - 1n))).toMatch(/rolled back/);
    expect(s.refusal(P)).toMatch(/rolled back/);
    await s.close({ flush: false });
  });
});

describe('a party whose proxy announces its addresses in another form', () => {
  let dir: string;
  let opts: PartySettlementOptions;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cocoon-party-forms-'));
    opts = { ownerAddress: addr(9), isTest: true, path: join(dir, 'payments.sqlite'), pricing: DEFAULT_PRICING, proxies: [{ proxyContract: P, ownContract: C, proxyPublicKey: proxyKey.publicKey }], log: createLogger('test') };
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  // The reference announces the non-bounceable form; our bindings hold the bounceable one.
  const nonBounceable = (a: string) => Address.parse(a).toString({ bounceable: false, urlSafe: true });
  const raw = (a: string) => Address.parse(a).toRawString();

  it('a client takes its own contract in any form, refuses another, and keeps one store row whatever the proxy\'s spelling', async () => {
    const s = StoreClientSettlement.open(opts);
    for (const form of [C, nonBounceable(C), raw(C)]) expect(s.contractMismatch(nonBounceable(P), form)).toBeNull();
    expect(s.contractMismatch(nonBounceable(P), nonBounceable(addr(2)))).toMatch(/names client contract .* but this owner's contract/);
    await expect(s.registerWithProxy({ proxyContract: nonBounceable(P), clientContract: addr(2), nonce: 1n })).rejects.toThrow(/names client contract/);
    s.onAnswer(nonBounceable(P), 'r1', tokens, 1000);
    const own = counterOfUnits(counterUnits(tokens, DEFAULT_PRICING.multipliers, 1000));
    expect(s.onPayment(nonBounceable(P), { signedPayment: Buffer.from(new ProxyPaymentSigner(proxyKey).sign('charge', C, own)), tokensCommittedToDb: own, maxTokens: own })).toBeNull();
    // Read back under the bounceable spelling (what our tests and the app use) and the raw one.
    expect(s.store.holding(P, C)).toMatchObject({ proxy: P, contract: C, signedCounter: own });
    expect(s.chargeCounters(raw(P))).toEqual({ signed: own, onChain: 0n });
    expect(s.store.holdings()).toHaveLength(1);
    s.store.flag(nonBounceable(P), 'test flag');
    expect(s.refusal(P)).toBe('test flag');
    await s.close({ flush: false });
  });

  it('a worker takes its own contract in any form and refuses another', async () => {
    const w = StoreWorkerSettlement.open({ ...opts, proxies: [{ proxyContract: P, ownContract: W, proxyPublicKey: proxyKey.publicKey }] });
    expect(w.contractMismatch(nonBounceable(P), nonBounceable(W))).toBeNull();
    expect(w.contractMismatch(P, W)).toBeNull();
    expect(w.contractMismatch(nonBounceable(P), nonBounceable(C))).toMatch(/names worker contract/);
    await w.close({ flush: false });
  });
});

/**
 * The proxy signs ledger counters; a client and a worker verify them and check them against what
 * they hold — the whole off-chain path of a signed payment, with real Ed25519 keys and real files.
 */
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Address, Cell } from '@ton/core';
import { keyPairFromSeed } from '@ton/crypto';
import { ProxyLedger } from './proxy-ledger.ts';
import { ClientPaymentStore } from './client-payment-store.ts';
import { WorkerPaymentStore } from './worker-payment-store.ts';
import { DEFAULT_PRICING } from './pricing.ts';
import { ProxyPaymentSigner, signLatest, verifySignedPayment } from './signed-payments.ts';
import { signCharge, signPayout } from '../chain/settlement.ts';
import { signTokenMessage } from '../../../contracts/wrappers/signing.ts';
import { parseSignedTokenMessage, wrapSigned } from '../../../contracts/wrappers/protocol.ts';

const addr = (n: number) => new Address(0, Buffer.alloc(32, n)).toString();
const C = addr(1);
const W = addr(2);
const P = addr(3);
const proxyKey = keyPairFromSeed(Buffer.alloc(32, 7));
const otherKey = keyPairFromSeed(Buffer.alloc(32, 8));
const tokens = { prompt: 100, cached: 20, completion: 40, reasoning: 5 };
/** What the worker reports for them at coefficient 1000 (reference arithmetic, DEFAULT_PRICING multipliers: cached ×0.1). */
const adj = (n: number, m: number) => Math.trunc(n * (1000 * 0.001) * m * 0.0001);
const adjusted = { prompt: adj(100, 10_000), cached: adj(20, 1_000), completion: adj(40, 10_000), reasoning: adj(5, 10_000) };

describe('signed payments between proxy, client and worker', () => {
  let dir: string;
  let ledger: ProxyLedger;
  let client: ClientPaymentStore;
  let worker: WorkerPaymentStore;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cocoon-signed-'));
    ledger = ProxyLedger.open(join(dir, 'proxy-ledger.sqlite'), { pricing: DEFAULT_PRICING });
    client = ClientPaymentStore.open(join(dir, 'client-payments.sqlite'));
    worker = WorkerPaymentStore.open(join(dir, 'worker-payments.sqlite'));
  });
  afterEach(() => {
    for (const s of [ledger, client, worker]) s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a client and a worker accept the counters the proxy signed for what they received and served', () => {
    const signer = new ProxyPaymentSigner(proxyKey);
    for (const id of ['a', 'b']) {
      ledger.recordAnswer({ requestId: id, clientContract: C, workerContract: W, tokens: adjusted, outcome: 'completed' });
      client.recordReceived({ proxy: P, contract: C, requestId: id, tokens, pricing: DEFAULT_PRICING });
      worker.recordServed({ proxy: P, contract: W, requestId: id, tokens, pricing: DEFAULT_PRICING });
      const charge = signLatest(ledger, signer, 'client', C);
      const payout = signLatest(ledger, signer, 'worker', W);
      const cc = verifySignedPayment(charge.message, { kind: 'charge', contract: C, proxyPublicKey: proxyKey.publicKey });
      const wc = verifySignedPayment(payout.message, { kind: 'payout', contract: W, proxyPublicKey: proxyKey.publicKey });
      expect(client.check({ proxy: P, contract: C, signed: { counter: cc, message: charge.message }, maxCounter: charge.counter })).toEqual({ ok: true, improved: true });
      expect(worker.check({ proxy: P, contract: W, signed: { counter: wc, message: payout.message }, maxCounter: payout.counter })).toEqual({ ok: true, improved: true });
    }
    expect(client.holding(P, C)!.signedNano).toBe(ledger.account('client', C)!.nano);
    expect(worker.holding(P, W)!.signedNano).toBe(ledger.account('worker', W)!.nano);
  });

  it('signs exactly as the contracts wrappers do (native Ed25519 = tweetnacl), and chain/settlement.ts reads it', () => {
    const signer = new ProxyPaymentSigner(proxyKey);
    for (const [kind, op, target] of [['payout', 'extWorkerPayoutRequestSigned', W], ['charge', 'extClientChargeSigned', C]] as const) {
      const mine = signer.sign(kind, target, 123_456_789n, 42n);
      const reference = signTokenMessage({ op, tokens: 123_456_789n, target: Address.parse(target), secretKey: proxyKey.secretKey, sendExcessesTo: null, queryId: 42n });
      expect(Buffer.from(mine).equals(reference.toBoc())).toBe(true);
    }
    // The chain layer's own signers produce messages the verifier accepts.
    expect(verifySignedPayment(signCharge(Address.parse(C), 7n, proxyKey).toBoc(), { kind: 'charge', contract: C, proxyPublicKey: proxyKey.publicKey })).toBe(7n);
    expect(verifySignedPayment(signPayout(Address.parse(W), 9n, proxyKey).toBoc(), { kind: 'payout', contract: W, proxyPublicKey: proxyKey.publicKey })).toBe(9n);
  });

  it('refuses forged, wrong-kind and wrong-target messages, saying which', () => {
    ledger.recordAnswer({ requestId: 'a', clientContract: C, workerContract: W, tokens, outcome: 'completed' });
    const charge = signLatest(ledger, new ProxyPaymentSigner(proxyKey), 'client', C).message;
    const forged = new ProxyPaymentSigner(otherKey).sign('charge', C, 1n);
    expect(() => verifySignedPayment(forged, { kind: 'charge', contract: C, proxyPublicKey: proxyKey.publicKey })).toThrow(/bad signature/);
    expect(() => verifySignedPayment(charge, { kind: 'payout', contract: C, proxyPublicKey: proxyKey.publicKey })).toThrow(/not a payout/);
    expect(() => verifySignedPayment(charge, { kind: 'charge', contract: W, proxyPublicKey: proxyKey.publicKey })).toThrow(/targets .*, not /);
    // One flipped bit of the signature (native Ed25519 refuses it as tweetnacl does).
    const body = Cell.fromBoc(Buffer.from(charge))[0]!;
    const m = parseSignedTokenMessage(body);
    const sig = Buffer.from(m.signature);
    sig[10]! ^= 1;
    const tampered = wrapSigned(m.payload, sig, null).toBoc();
    expect(() => verifySignedPayment(tampered, { kind: 'charge', contract: C, proxyPublicKey: proxyKey.publicKey })).toThrow(/bad signature/);
    expect(verifySignedPayment(wrapSigned(m.payload, m.signature, null).toBoc(), { kind: 'charge', contract: C, proxyPublicKey: proxyKey.publicKey })).toBe(m.tokens);
    expect(() => verifySignedPayment(new Uint8Array([1, 2, 3]), { kind: 'charge', contract: C, proxyPublicKey: proxyKey.publicKey })).toThrow(/not a BOC/);
  });

  it('a client refuses a charge above what it received (the proxy counted an answer the client never got)', () => {
    ledger.recordAnswer({ requestId: 'a', clientContract: C, workerContract: W, tokens, outcome: 'completed' });
    ledger.recordAnswer({ requestId: 'phantom', clientContract: C, workerContract: W, tokens, outcome: 'completed' });
    client.recordReceived({ proxy: P, contract: C, requestId: 'a', tokens, pricing: DEFAULT_PRICING });
    const charge = signLatest(ledger, new ProxyPaymentSigner(proxyKey), 'client', C);
    const counter = verifySignedPayment(charge.message, { kind: 'charge', contract: C, proxyPublicKey: proxyKey.publicKey });
    const r = client.check({ proxy: P, contract: C, signed: { counter, message: charge.message } });
    expect(r).toMatchObject({ ok: false, code: 'charge_above_received' });
    expect(client.settlementAccounts()).toEqual([]);
  });
});

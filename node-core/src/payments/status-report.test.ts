import { describe, it, expect, afterEach } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { paymentsStatus } from './status-report.ts';
import { ClientPaymentStore } from './client-payment-store.ts';
import { WorkerPaymentStore } from './worker-payment-store.ts';
import { DEFAULT_PRICING } from './pricing.ts';

describe('paymentsStatus', () => {
  let dir: string;
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reports a client and a worker from their own stores, with a rollback and a failing settlement', () => {
    dir = mkdtempSync(join(tmpdir(), 'cocoon-status-'));
    const client = ClientPaymentStore.open(join(dir, 'client', 'client-payments.sqlite'));
    client.recordReceived({ proxy: 'P', contract: 'C', requestId: 'a', tokens: { prompt: 100, cached: 0, completion: 0, reasoning: 0 }, pricing: DEFAULT_PRICING });
    client.check({ proxy: 'P', contract: 'C', signed: { counter: 60n, message: new Uint8Array([1]) }, maxCounter: 100n });
    client.saveSettlementState('charge', 'C', { attempts: 2, lastError: 'connect ECONNREFUSED', lastAttemptAt: 1, nextAttemptAt: Date.now() + 60_000, lastConfirmedAt: null });
    client.close();
    const worker = WorkerPaymentStore.open(join(dir, 'worker', 'worker-payments.sqlite'));
    worker.recordServed({ proxy: 'P', contract: 'W', requestId: 'a', tokens: { prompt: 100, cached: 0, completion: 0, reasoning: 0 }, pricing: DEFAULT_PRICING });
    worker.check({ proxy: 'P', contract: 'W', signed: { counter: 100n, message: new Uint8Array([1]) } });
    worker.check({ proxy: 'P', contract: 'W', signed: { counter: 40n, message: new Uint8Array([2]) } });
    worker.close();

    const r = paymentsStatus(dir);
    expect(r.files.map((f) => f.role).sort()).toEqual(['client', 'worker']);
    expect(r.client).toMatchObject({ contract: 'C', source: 'client', charged: { ledger: '2000', signed: '1200', onChain: '0' }, unsettled: '1200', owed: '2000', rollback: null });
    expect(r.workers).toEqual([expect.objectContaining({ contract: 'W', proxy: 'P', source: 'worker', paid: { ledger: '1900', signed: '1900', onChain: '0' } })]);
    expect(r.workers[0]!.rollback!.reason).toMatch(/signed counter 40 < 100/);
    expect(r.proxy).toBeNull();
    const charge = r.settlement.find((s) => s.kind === 'charge')!;
    expect(charge).toMatchObject({ due: false, attempts: 2, lastError: 'connect ECONNREFUSED' });
    expect(charge.why).toMatch(/retrying at/);
  });

  it("takes a client's ledger from the proxy's reported count, not its own upper bound at the maximum coefficient", () => {
    dir = mkdtempSync(join(tmpdir(), 'cocoon-status-'));
    const client = ClientPaymentStore.open(join(dir, 'client', 'client-payments.sqlite'));
    client.recordReceived({ proxy: 'P', contract: 'C', requestId: 'a', tokens: { prompt: 100, cached: 0, completion: 0, reasoning: 0 }, pricing: DEFAULT_PRICING });
    const { ownCounter: own, perToken } = client.holdings()[0]!;
    // The worker's coefficient made the proxy count a quarter of the client's worst case.
    client.check({ proxy: 'P', contract: 'C', signed: { counter: own / 4n, message: new Uint8Array([1]) }, maxCounter: own / 4n });
    client.close();
    const r = paymentsStatus(dir);
    const per = BigInt(perToken);
    expect(r.client!.charged.ledger).toBe(((own / 4n) * per).toString());
    expect(r.client!.ownBound).toBe((own * per).toString());
  });

  it('reports nothing for a directory without stores', () => {
    dir = mkdtempSync(join(tmpdir(), 'cocoon-status-'));
    expect(paymentsStatus(dir)).toMatchObject({ files: [], client: null, workers: [], proxy: null, settlement: [] });
  });
});

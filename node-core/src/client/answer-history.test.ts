/**
 * The answer log kept in the client payment store (a real SQLite file): entries survive a
 * restart with their cost and charge state, an answer left streaming comes back `interrupted`, a
 * charge that waited for a signed counter is still marked when one arrives after the restart, and
 * the retention (newest N, none older than D days) holds.
 */
import { describe, expect, it, afterEach } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_PRICING } from '../payments/pricing.ts';
import { ClientPaymentStore } from '../payments/client-payment-store.ts';
import { AnswerLog } from './answer-log.ts';

const tokens = { prompt: 12, cached: 4, completion: 7, reasoning: 2 };
const dirs: string[] = [];
const file = () => {
  const d = mkdtempSync(join(tmpdir(), 'cocoon-answers-'));
  dirs.push(d);
  return join(d, 'client-payments.sqlite');
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('the answer log across restarts', () => {
  it('keeps ended answers, their cost and charge; a streaming one comes back interrupted; a waiting charge is marked later', () => {
    const path = file();
    let store = ClientPaymentStore.open(path);
    let log = new AnswerLog(() => DEFAULT_PRICING, () => null, 1000, store);
    log.started('a', { model: 'm', endpoint: '/v1/chat/completions' });
    log.ended('a', { outcome: 'completed', tokens, received: tokens, payments: true });
    log.paid('a', { accepted: true, signedCounter: 30n });
    log.started('b', { model: 'm', endpoint: '/v1/completions' });
    log.ended('b', { outcome: 'stopped', tokens, received: tokens, payments: true });
    log.paid('b', { accepted: true, signedCounter: 30n, covers: 60n }); // waits for a signed counter ≥ 60
    log.started('c', { model: 'm', endpoint: '/v1/chat/completions' }); // still streaming when the client stops
    const a = log.get('a')!;
    log.close();
    store.close();

    store = ClientPaymentStore.open(path);
    log = new AnswerLog(() => DEFAULT_PRICING, () => 30n, 1000, store);
    expect(log.list().map((x) => x.id)).toEqual(['c', 'b', 'a']);
    expect(log.get('a')).toEqual({ ...a, charge: { ...a.charge, state: 'settled', onChainCounter: '30' } });
    expect(log.get('b')!.charge.state).toBe('pending');
    expect(log.get('c')).toMatchObject({ outcome: 'interrupted', error: 'the client stopped before this answer ended' });
    expect(log.get('c')!.endedAt).not.toBeNull();
    // A session's spending starts at zero in each run (the session cap).
    expect(log.spentNano()).toBe(0n);
    log.paid('x', { accepted: true, signedCounter: 60n });
    expect(log.get('b')!.charge).toMatchObject({ state: 'signed', signedCounter: '60' });
    log.close();
    store.close();

    store = ClientPaymentStore.open(path);
    log = new AnswerLog(() => DEFAULT_PRICING, () => null, 1000, store);
    expect(log.get('b')!.charge).toMatchObject({ state: 'signed', signedCounter: '60' });
    expect(log.get('c')!.outcome).toBe('interrupted');
    store.close();
  });

  it('keeps the newest N answers and none older than D days', () => {
    const path = file();
    let now = Date.parse('2026-01-01T00:00:00Z');
    let store = ClientPaymentStore.open(path, { answerRetention: { maxAnswers: 3, maxAgeDays: 2 }, now: () => now });
    const entry = (id: string, at: number) => ({ id, startedAt: at, entry: JSON.stringify({ id, model: 'm', endpoint: '/v1/completions', startedAt: new Date(at).toISOString(), endedAt: new Date(at).toISOString(), outcome: 'completed', usage: null, cost: null, received: null, chargeState: 'none', signedCounter: null }) });
    store.saveAnswers(['a', 'b', 'c', 'd', 'e'].map((id, i) => entry(id, now + i)));
    expect(store.loadAnswers(100).map((r) => r.id)).toEqual(['c', 'd', 'e']);
    expect(store.loadAnswers(2).map((r) => r.id)).toEqual(['d', 'e']);
    now += 3 * 86_400_000;
    expect(store.loadAnswers(100)).toEqual([]); // too old to show
    store.saveAnswers([entry('f', now)]);
    expect(store.loadAnswers(100).map((r) => r.id)).toEqual(['f']);
    store.close();
    store = ClientPaymentStore.open(path, { now: () => now });
    const log = new AnswerLog(() => DEFAULT_PRICING, () => null, 1000, store);
    expect(log.list().map((x) => x.id)).toEqual(['f']);
    store.close();
    expect(() => ClientPaymentStore.open(path, { answerRetention: { maxAnswers: 0 } })).toThrow(/at least 1 answer/);
  });
});

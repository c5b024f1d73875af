import { describe, expect, it, vi } from 'vitest';
import { DEFAULT_PRICING, computeCost } from '../payments/pricing.ts';
import { AnswerLog } from './answer-log.ts';

const tokens = { prompt: 12, cached: 4, completion: 7, reasoning: 2 };

describe('the client answer log', () => {
  it('follows an answer from streaming to stopped, signed and settled, with its cost', async () => {
    let onChain: bigint | null = 0n;
    const log = new AnswerLog(() => DEFAULT_PRICING, () => onChain);
    log.started('a', { model: 'm', endpoint: '/v1/chat/completions' });
    expect(log.get('a')).toMatchObject({ outcome: 'streaming', usage: null, cost: null, charge: { state: 'none' } });
    const waited = log.wait('a', 5_000);
    log.ended('a', { outcome: 'stopped', tokens, received: tokens, payments: true });
    expect(log.get('a')!.charge.state).toBe('pending');
    log.paid('a', { accepted: true, signedCounter: 30n });
    const a = (await waited)!;
    expect(a).toMatchObject({ outcome: 'stopped', usage: { prompt_tokens: 16, completion_tokens: 9 }, charge: { state: 'signed', signedCounter: '30', onChainCounter: '0' } });
    expect(a.cost).toEqual(computeCost(tokens, DEFAULT_PRICING));
    expect(log.spentNano()).toBe(BigInt(a.cost!.totalNanoTon));
    onChain = 30n;
    expect(log.get('a')!.charge.state).toBe('settled');
    onChain = null;
    expect(log.get('a')!.charge.state).toBe('signed');
  });

  it('marks a refused charge, ends an answer once, lists newest first within its capacity', async () => {
    const log = new AnswerLog(() => DEFAULT_PRICING, () => null, 2);
    for (const id of ['a', 'b', 'c']) log.started(id, { model: 'm', endpoint: '/v1/completions' });
    expect(log.get('a')).toBeUndefined();
    expect(log.list().map((x) => x.id)).toEqual(['c', 'b']);
    log.ended('b', { outcome: 'completed', tokens, payments: true });
    log.ended('b', { outcome: 'interrupted', tokens, payments: true });
    expect(log.get('b')!.outcome).toBe('completed');
    log.paid('b', { accepted: false, signedCounter: null, reason: 'above what was received' });
    expect(log.get('b')!.charge).toMatchObject({ state: 'refused', reason: 'above what was received' });
    // Without payments nothing is pending; an unknown answer resolves at once.
    log.ended('c', { outcome: 'completed', tokens, payments: false });
    expect(log.get('c')!.charge.state).toBe('none');
    expect(await log.wait('zzz', 10_000)).toBeUndefined();
  });

  it('keeps an answer pending until a signed counter covers it (the proxy signs in batches)', () => {
    const log = new AnswerLog(() => DEFAULT_PRICING, () => null);
    for (const id of ['a', 'b']) {
      log.started(id, { model: 'm', endpoint: '/v1/chat/completions' });
      log.ended(id, { outcome: 'completed', tokens, payments: true });
    }
    // a's payment message: ledger counter 40 with it, but the held signed charge is 25 (an older signature).
    log.paid('a', { accepted: true, signedCounter: 25n, covers: 40n });
    expect(log.get('a')!.charge.state).toBe('pending');
    log.paid('b', { accepted: true, signedCounter: 25n, covers: 70n });
    // The batched signature for 50 arrives (with b's id): it covers a, not b.
    log.paid('b', { accepted: true, signedCounter: 50n, covers: 90n });
    expect(log.get('a')!.charge).toMatchObject({ state: 'signed', signedCounter: '50' });
    expect(log.get('b')!.charge.state).toBe('pending');
    log.paid('b', { accepted: true, signedCounter: 90n, covers: 90n });
    expect(log.get('b')!.charge).toMatchObject({ state: 'signed', signedCounter: '90' });
  });

  it('keeps answers whose save failed and saves them with the next one', () => {
    vi.useFakeTimers();
    try {
      // Stands in for the client payment store: its first save fails as a full disk would.
      const saved = new Map<string, string>();
      let failures = 1;
      const history = {
        loadAnswers: () => [],
        saveAnswers: (rows: { id: string; entry: string }[]) => {
          if (failures-- > 0) throw new Error('SQLITE_FULL: database or disk is full');
          for (const r of rows) saved.set(r.id, r.entry);
        },
      };
      const errors: unknown[] = [];
      const log = new AnswerLog(() => DEFAULT_PRICING, () => null, 10, history, (err) => errors.push(err));
      log.started('a', { model: 'm', endpoint: '/v1/chat/completions' });
      log.ended('a', { outcome: 'completed', tokens, payments: true });
      vi.advanceTimersByTime(1_000);
      expect(errors).toHaveLength(1);
      expect(saved.size).toBe(0);
      // The retry comes by itself, without another change to the log.
      vi.advanceTimersByTime(1_000);
      expect(JSON.parse(saved.get('a')!)).toMatchObject({ id: 'a', outcome: 'completed', chargeState: 'pending' });
      log.close();
    } finally {
      vi.useRealTimers();
    }
  });
});

import { describe, expect, it } from 'vitest';
import { HttpError } from '../http/safe-http.ts';
import { CapacityQueue } from './capacity-queue.ts';

describe('CapacityQueue', () => {
  it('answers 503 with Retry-After once maxWaiting requests wait', async () => {
    const q = new CapacityQueue({ maxWaiting: 2, maxWaitMs: 10_000, pollMs: 10_000, retryAfterSeconds: 7 });
    const ac = new AbortController();
    const a = q.wait(ac.signal);
    const b = q.wait(ac.signal);
    const err = await q.wait(ac.signal).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpError);
    expect((err as HttpError).status).toBe(503);
    expect((err as HttpError).headers['retry-after']).toBe('7');
    // New requests do not overtake waiting ones.
    expect(q.open).toBe(false);
    ac.abort();
    await expect(a).rejects.toMatchObject({ status: 499 });
    await expect(b).rejects.toMatchObject({ status: 499 });
    expect(q.waiting).toBe(0);
  });

  it('wakes waiters in arrival order, one probe at a time', async () => {
    const q = new CapacityQueue({ pollMs: 10_000 });
    const ac = new AbortController();
    const order: number[] = [];
    const w1 = q.wait(ac.signal).then((done) => { order.push(1); return done; });
    const w2 = q.wait(ac.signal).then((done) => { order.push(2); return done; });
    q.released();
    (await w1)(true); // accepted: the next may try
    (await w2)(true);
    expect(order).toEqual([1, 2]);
  });

  it('gives up after maxWaitMs with 503', async () => {
    const q = new CapacityQueue({ maxWaitMs: 50, pollMs: 10_000 });
    await expect(q.wait(new AbortController().signal)).rejects.toMatchObject({ status: 503 });
  });
});

import { describe, expect, it } from 'vitest';
import type { Connection } from '../protocol/connection.ts';
import { WorkerPool } from './worker-pool.ts';

const conn = {} as Connection;
const base = { connection: conn, owner: 'EQowner', model: 'Qwen/Qwen3-8B', coefficient: 1000, maxActive: 4, disabled: false, extensions: false };

describe('WorkerPool', () => {
  it('keeps every field it was given and starts a worker idle', () => {
    const w = new WorkerPool().add({ ...base, extensions: true, coefficient: 1500 });
    expect(w).toMatchObject({ ...base, extensions: true, coefficient: 1500, active: 0, reportedActive: null, successes: 0, failures: 0 });
    expect(w.id).toBeGreaterThan(0);
  });

  it('picks the least loaded worker that serves the model at an acceptable price, and skips disabled, full and excluded ones', () => {
    const pool = new WorkerPool();
    const busy = pool.add(base);
    busy.active = 3;
    const idle = pool.add(base);
    const pricey = pool.add({ ...base, coefficient: 5000 });
    const off = pool.add({ ...base, disabled: true });
    const other = pool.add({ ...base, model: 'other' });
    expect(pool.pick(base.model, 1000, new Set())).toBe(idle);
    expect(pool.pick(base.model, 1000, new Set([idle.id]))).toBe(busy);
    busy.active = 4;
    expect(pool.pick(base.model, 1000, new Set([idle.id]))).toBeUndefined();
    expect(pool.pick(base.model, 10_000, new Set([idle.id]))).toBe(pricey);
    expect([off, other]).not.toContain(pool.pick(base.model, 10_000, new Set()));
  });

  it('in a large pool, keeps load even without scoring every worker, and still finds the one free worker', () => {
    const pool = new WorkerPool();
    const workers = Array.from({ length: 1000 }, () => pool.add({ ...base, maxActive: 10 }));
    pool.add({ ...base, model: 'other', maxActive: 10 });
    // 5,000 streams placed one by one: the busiest worker ends near the mean (5), far below full.
    for (let i = 0; i < 5000; i++) pool.pick(base.model, 1000, new Set())!.active++;
    const loads = workers.map((w) => w.active);
    expect(loads.reduce((a, b) => a + b, 0)).toBe(5000);
    expect(Math.max(...loads)).toBeLessThanOrEqual(7);
    // Every worker full but one (neither sampled nor excluded on purpose): found by the fallback scan.
    for (const w of workers) w.active = w.maxActive;
    workers[617]!.active = 3;
    expect(pool.pick(base.model, 1000, new Set())).toBe(workers[617]);
    expect(pool.pick(base.model, 1000, new Set([workers[617]!.id]))).toBeUndefined();
    pool.remove(workers[617]!);
    expect(pool.pick(base.model, 1000, new Set())).toBeUndefined();
    expect(pool.hasModel('other')).toBe(true);
  });
});

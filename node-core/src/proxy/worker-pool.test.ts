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
});

import { describe, expect, it } from 'vitest';
import { seededRng } from '../testing/fuzz.ts';
import { Backoff } from './backoff.ts';

/** Reproducible jitter without Math.random: the fuzz suites' seeded generator. */
const seeded = (seed: number): (() => number) => seededRng(seed).next;

const policy = { baseMs: 250, capMs: 10_000, stableMs: 0 };

describe('backoff with decorrelated jitter', () => {
  it('stays between the base and three times the previous delay, never above the cap', () => {
    const b = new Backoff(policy, seeded(7));
    let previous = policy.baseMs;
    for (let i = 0; i < 2000; i++) {
      const d = b.next();
      expect(d).toBeGreaterThanOrEqual(policy.baseMs);
      expect(d).toBeLessThanOrEqual(Math.min(policy.capMs, previous * 3) + 1);
      previous = d;
    }
  });

  it('grows to the cap at the top of the jitter and stays at the base at the bottom', () => {
    const top = new Backoff(policy, () => 0.999999);
    expect([1, 2, 3, 4, 5].map(() => top.next())).toEqual([750, 2250, 6750, 10_000, 10_000]);
    const bottom = new Backoff(policy, () => 0);
    expect([1, 2, 3].map(() => bottom.next())).toEqual([250, 250, 250]);
  });

  it('spreads the delays of dialers that lost the same peer at once', () => {
    const firsts = Array.from({ length: 50 }, (_, i) => new Backoff(policy, seeded(i + 1)).next());
    expect(new Set(firsts).size).toBeGreaterThan(30);
    expect(Math.max(...firsts) - Math.min(...firsts)).toBeGreaterThan(250);
  });

  it('starts again from the base after reset', () => {
    const b = new Backoff(policy, () => 0.999999);
    for (let i = 0; i < 6; i++) b.next();
    expect(b.next()).toBe(10_000);
    b.reset();
    expect(b.next()).toBe(750);
  });

  it('clamps a random source outside [0, 1) and refuses a policy without bounds', () => {
    expect(new Backoff(policy, () => 5).next()).toBe(750);
    expect(new Backoff(policy, () => -1).next()).toBe(250);
    expect(() => new Backoff({ baseMs: 0, capMs: 10, stableMs: 0 })).toThrow(/0 < baseMs <= capMs/);
    expect(() => new Backoff({ baseMs: 100, capMs: 10, stableMs: 0 })).toThrow(/0 < baseMs <= capMs/);
  });
});

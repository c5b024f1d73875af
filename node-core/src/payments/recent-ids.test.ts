import { describe, it, expect } from 'vitest';
import { RecentIds } from './recent-ids.ts';

describe('RecentIds', () => {
  it('keeps the newest ids up to its capacity', () => {
    const ids = new RecentIds<number>(3);
    for (let i = 1; i <= 5; i++) ids.add(`r${i}`, i);
    expect(['r1', 'r2', 'r3', 'r4', 'r5'].map((id) => ids.get(id))).toEqual([undefined, undefined, 3, 4, 5]);
    expect(ids.size).toBe(3);
    // Adding an id again makes it the newest.
    ids.add('r3', 30);
    ids.add('r6', 6);
    expect(['r3', 'r4', 'r5', 'r6'].map((id) => ids.get(id))).toEqual([30, undefined, 5, 6]);
  });

  it('shows staged ids at once, keeps them on publish, and drops those after a rolled-back mark', () => {
    const ids = new RecentIds<number>(10);
    ids.stage('a', 1);
    const mark = ids.mark();
    ids.stage('b', 2);
    ids.stage('c', 3);
    expect(ids.get('b')).toBe(2);
    ids.rollbackTo(mark);
    expect([ids.get('a'), ids.get('b'), ids.get('c')]).toEqual([1, undefined, undefined]);
    ids.publish();
    expect(ids.size).toBe(1);
    ids.stage('d', 4);
    ids.rollbackTo(0);
    expect(ids.get('d')).toBeUndefined();
    expect(ids.get('a')).toBe(1);
  });

  it('refuses a window that holds nothing', () => {
    expect(() => new RecentIds(0)).toThrow(/at least 1/);
  });
});

import { describe, expect, it } from 'vitest';
import { PrefixCache } from './prefix-cache.ts';

const tokens = (n: number, salt: number) => Array.from({ length: n }, (_, i) => i * 31 + salt);

describe('PrefixCache', () => {
  it('counts the leading blocks seen before, whole blocks only', () => {
    const cache = new PrefixCache(4, 100);
    expect(cache.lookupAndInsert(tokens(10, 1))).toBe(0);
    expect(cache.lookupAndInsert(tokens(10, 1))).toBe(8);
    expect(cache.lookupAndInsert([...tokens(8, 1), 999, 998, 997, 996])).toBe(8);
    expect(cache.lookupAndInsert(tokens(10, 2))).toBe(0);
  });

  it('stays within its capacity and evicts the least recently used blocks first', () => {
    const cache = new PrefixCache(4, 6);
    cache.lookupAndInsert(tokens(16, 1)); // 4 blocks: A1..A4
    cache.lookupAndInsert(tokens(8, 1)); // A1, A2 used again: now the newest
    cache.lookupAndInsert(tokens(16, 2)); // 4 more blocks: 8 > 6, so A3 and A4 go
    expect(cache.lookupAndInsert(tokens(8, 1))).toBe(8); // A1, A2 kept
    expect(cache.lookupAndInsert(tokens(16, 1))).toBe(8); // A3 gone: the run stops there
  });

  it('evicts a whole big prompt worth of blocks in one pass', () => {
    // 3 × 40 000 blocks through a 50 000-block cache: each later prompt evicts ~40 000 blocks.
    const cache = new PrefixCache(16, 50_000);
    for (let r = 0; r < 3; r++) cache.lookupAndInsert(tokens(640_000, r));
    expect(cache.lookupAndInsert(tokens(640_000, 2))).toBe(640_000);
    expect(cache.lookupAndInsert(tokens(640_000, 0))).toBe(0);
  });
});

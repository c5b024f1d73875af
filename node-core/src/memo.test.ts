import { describe, expect, it } from 'vitest';
import { memoize } from './memo.ts';

describe('memoize', () => {
  it('converts each key once, and starts over past its bound', () => {
    const calls: string[] = [];
    const upper = memoize((k: string) => { calls.push(k); return k.toUpperCase(); }, 2);
    expect([upper('a'), upper('b'), upper('a')]).toEqual(['A', 'B', 'A']);
    expect(calls).toEqual(['a', 'b']);
    upper('c'); // third key: the memory starts over
    upper('a');
    expect(calls).toEqual(['a', 'b', 'c', 'a']);
  });

  it('remembers nothing for a conversion that throws', () => {
    let n = 0;
    const parse = memoize((k: string) => { n++; if (k === 'bad') throw new Error('not an address'); return k; }, 10);
    expect(() => parse('bad')).toThrow(/not an address/);
    expect(() => parse('bad')).toThrow(/not an address/);
    expect(n).toBe(2);
  });
});

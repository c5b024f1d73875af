/**
 * Seeded randomness for the fuzz suites: the same seed gives the same cases, so a failure in CI
 * replays on any machine (`COCOON_FUZZ_SEED=N npx vitest run <suite>`). Test code only.
 */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number;
  chance(p: number): boolean;
  pick<T>(items: readonly T[]): T;
  bytes(n: number): Buffer;
}

/** mulberry32: tiny, fast and good enough to spread fuzz cases. */
export function seededRng(seed: number): Rng {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1));
  return {
    next,
    int,
    chance: (p) => next() < p,
    pick: (items) => items[int(0, items.length - 1)]!,
    bytes: (n) => {
      const b = Buffer.allocUnsafe(n);
      for (let i = 0; i < n; i++) b[i] = int(0, 255);
      return b;
    },
  };
}

/** The suite's seed: COCOON_FUZZ_SEED when set (to replay a failure), else the fixed default. */
export function fuzzSeed(fallback: number): number {
  const env = process.env.COCOON_FUZZ_SEED;
  if (env === undefined || env === '') return fallback;
  const n = Number(env);
  if (!Number.isInteger(n)) throw new Error(`COCOON_FUZZ_SEED must be an integer, got "${env}"`);
  return n;
}

/** A few random edits of `input`: bit flips, byte changes, insertions, deletions, truncation, duplication. */
export function mutateBytes(rng: Rng, input: Buffer, maxEdits = 4): Buffer {
  let b = Buffer.from(input);
  const edits = rng.int(1, maxEdits);
  for (let e = 0; e < edits; e++) {
    const at = b.length === 0 ? 0 : rng.int(0, b.length - 1);
    switch (rng.int(0, 5)) {
      case 0: if (b.length) b[at] = b[at]! ^ (1 << rng.int(0, 7)); break;
      case 1: if (b.length) b[at] = rng.pick([0x00, 0xff, 0x7f, 0x80, rng.int(0, 255)]); break;
      case 2: b = Buffer.concat([b.subarray(0, at), rng.bytes(rng.int(1, 8)), b.subarray(at)]); break;
      case 3: b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + rng.int(1, 8)))]); break;
      case 4: b = b.subarray(0, at); break;
      case 5: b = Buffer.concat([b, b.subarray(at, at + rng.int(1, 64))]); break;
    }
  }
  return b;
}

/** Strings that break naive code: empty, huge, control characters, lone surrogates, prototype keys. */
export function nastyString(rng: Rng): string {
  return rng.pick([
    '', ' ', '\0', 'a'.repeat(rng.int(1, 5000)), '\u202e\u0000\uffff', '\ud800', '__proto__', 'constructor', 'toString',
    '{"a":1}', '../../etc/passwd', '%E0%A4%A', '😀'.repeat(rng.int(1, 50)), String(rng.next()),
  ]);
}

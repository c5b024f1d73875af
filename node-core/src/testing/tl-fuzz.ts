import { readFileSync } from 'node:fs';
import { parseTlSchema, type TlCombinator, type TlType } from '../protocol/tl-schema.ts';
import type { TlObject } from '../protocol/tl-codec.ts';
import { nastyString, type Rng } from './fuzz.ts';

/**
 * Random but encodable TL objects for the wire fuzz suites: every field of the right TL type, with
 * values chosen to break handlers (edge integers, empty and huge strings, wrong-sized buffers
 * inside `bytes`, NaN, deep-ish nesting), so the codec accepts them and the handler must cope.
 * Test code only.
 */
const combinators: TlCombinator[] = (() => {
  const read = (f: string) => readFileSync(new URL(`../protocol/${f}`, import.meta.url), 'utf8');
  return [...parseTlSchema(read('cocoon_api.tl')), ...parseTlSchema(read('cocoon_ext.tl'))];
})();
const byName = new Map(combinators.map((c) => [c.name, c]));

/** Every constructor and function name of Cocoon's wire. */
export const TL_NAMES: readonly string[] = combinators.map((c) => c.name);

const INTS = [0, 1, -1, 2, 0x7fffffff, -0x80000000, 1000, 1_000_000];
const LONGS = [0n, 1n, -1n, 0x7fffffffffffffffn, -0x8000000000000000n, 1_000_000n];
const DOUBLES = [0, -0, 1.5, -1, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1e308];

export function randomTlObject(rng: Rng, name: string, depth = 0): TlObject {
  const c = byName.get(name);
  if (!c) throw new Error(`no TL combinator ${name}`);
  return { _: c.name, ...randomFields(rng, c, depth) };
}

function randomFields(rng: Rng, c: TlCombinator, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of c.fields) out[f.name] = randomValue(rng, f.type, depth + 1);
  return out;
}

function randomValue(rng: Rng, t: TlType, depth: number): unknown {
  switch (t.kind) {
    case 'int': return rng.chance(0.5) ? rng.pick(INTS) : rng.int(-5, 200);
    // Flags read back unsigned; keep them in the int32 range the encoder writes.
    case 'flags': return rng.chance(0.3) ? 0x7fffffff : rng.int(0, 255);
    case 'long': return rng.chance(0.5) ? rng.pick(LONGS) : BigInt(rng.int(-5, 1_000_000));
    case 'double': return rng.pick(DOUBLES);
    case 'string': return nastyString(rng);
    case 'bytes': return rng.bytes(rng.pick([0, 1, 31, 32, 33, 64, rng.int(0, 3000)]));
    case 'int256': return rng.bytes(32);
    case 'int128': return rng.bytes(16);
    case 'Bool': return rng.chance(0.5);
    case 'true': return true;
    case 'vector': {
      const n = depth > 4 ? 0 : rng.pick([0, 1, 2, 3, rng.int(0, 40)]);
      return Array.from({ length: n }, () => randomValue(rng, t.element, depth + 1));
    }
    case 'bare': return randomFields(rng, byName.get(t.constructor)!, depth);
    case 'boxed': {
      const options = combinators.filter((c) => !c.isFunction && c.resultType === t.type);
      if (options.length === 0) throw new Error(`no constructor of type ${t.type}`);
      // Past a few levels take the constructor with the fewest fields, so recursion ends.
      const c = depth > 4 ? options.reduce((a, b) => (b.fields.length < a.fields.length ? b : a)) : rng.pick(options);
      return { _: c.name, ...randomFields(rng, c, depth) };
    }
  }
}

import { crc32 } from 'node:zlib';

/**
 * Parses TL schema text (the reference network's `cocoon_api.tl` plus our `cocoon_ext.tl`) into
 * combinators the codec is driven by, so the schema file stays the single truth of the wire.
 * Constructor ids are the explicit `#hex` when given, else CRC32 of the normalized combinator,
 * as TL defines them.
 */
export type TlType =
  | { kind: 'int' | 'long' | 'double' | 'string' | 'bytes' | 'int256' | 'int128' | 'Bool' | 'flags' | 'true' }
  | { kind: 'vector'; boxed: boolean; element: TlType }
  | { kind: 'bare'; constructor: string }
  | { kind: 'boxed'; type: string };

export interface TlField {
  name: string;
  type: TlType;
  /** Present when the field is `flags.N?Type`. */
  condition?: { flagsField: string; bit: number };
}

export interface TlCombinator {
  name: string;
  id: number;
  fields: TlField[];
  resultType: string;
  isFunction: boolean;
}

const PRIMITIVES: Record<string, TlType> = {
  int: { kind: 'int' }, long: { kind: 'long' }, double: { kind: 'double' }, string: { kind: 'string' },
  bytes: { kind: 'bytes' }, int256: { kind: 'int256' }, int128: { kind: 'int128' }, Bool: { kind: 'Bool' },
  '#': { kind: 'flags' }, true: { kind: 'true' },
};
// Built-ins declared in the schema header that the codec handles natively.
const BUILTIN = new Set(['int', 'long', 'double', 'string', 'object', 'function', 'bytes', 'true', 'boolTrue', 'boolFalse', 'vector', 'int128', 'int256']);

export function parseTlSchema(text: string): TlCombinator[] {
  const out: TlCombinator[] = [];
  let isFunction = false;
  const body = text.replace(/\/\/[^\n]*/g, '');
  for (const raw of body.split(';')) {
    let decl = raw.trim();
    while (decl.startsWith('---')) {
      const end = decl.indexOf('---', 3);
      const section = decl.slice(3, end).trim();
      isFunction = section === 'functions';
      decl = decl.slice(end + 3).trim();
    }
    if (!decl) continue;
    decl = decl.replace(/\s+/g, ' ');
    const eq = decl.lastIndexOf(' = ');
    if (eq < 0) throw new Error(`TL schema: no result type in "${decl}"`);
    const left = decl.slice(0, eq).trim();
    const resultType = decl.slice(eq + 3).trim();
    const [head, ...params] = tokenize(left);
    const [name, hexId] = head!.split('#');
    if (BUILTIN.has(name!) || resultType === 'Type') continue;
    const fields: TlField[] = [];
    for (const p of params) {
      const colon = p.indexOf(':');
      if (colon < 0) throw new Error(`TL schema: bad field "${p}" in ${name}`);
      const fieldName = p.slice(0, colon);
      let typeText = p.slice(colon + 1);
      let condition: TlField['condition'];
      const cond = /^(\w+)\.(\d+)\?(.+)$/.exec(typeText);
      if (cond) {
        condition = { flagsField: cond[1]!, bit: Number(cond[2]) };
        typeText = cond[3]!;
      }
      fields.push({ name: fieldName, type: parseType(typeText), ...(condition && { condition }) });
    }
    const normalized = `${name} ${params.map((p) => p.replace(/[()]/g, '')).join(' ')}${params.length ? ' ' : ''}= ${resultType}`;
    const id = hexId ? parseInt(hexId, 16) >>> 0 : crc32(normalized) >>> 0;
    out.push({ name: name!, id, fields, resultType, isFunction });
  }
  return out;
}

function tokenize(s: string): string[] {
  const tokens: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ' ' && depth === 0) {
      if (cur) tokens.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (cur) tokens.push(cur);
  return tokens;
}

function parseType(t: string): TlType {
  const vec = /^\(?(vector|Vector) (.+?)\)?$/.exec(t);
  if (vec) return { kind: 'vector', boxed: vec[1] === 'Vector', element: parseType(vec[2]!) };
  const prim = PRIMITIVES[t];
  if (prim) return prim;
  const last = t.split('.').pop()!;
  return last[0] === last[0]!.toUpperCase() ? { kind: 'boxed', type: t } : { kind: 'bare', constructor: t };
}

import { readFileSync } from 'node:fs';
import { parseTlSchema, type TlCombinator, type TlType } from './tl-schema.ts';

/**
 * Schema-driven TL serialization. Values are plain objects `{ _: 'tcp.ping', id: 5n }`:
 * int/double → number, long → bigint, int256/int128/bytes → Buffer, string → string,
 * Bool → boolean, vectors → arrays. Decoding validates everything against the schema (known
 * constructor, expected type, lengths within the buffer, valid UTF-8, nesting depth, no trailing
 * bytes) and throws TlDecodeError, so a handler only ever sees well-formed messages.
 */
export type TlObject = { _: string; [field: string]: unknown };

export class TlDecodeError extends Error {
  override readonly name = 'TlDecodeError';
}

const BOOL_TRUE = 0x997275b5;
const BOOL_FALSE = 0xbc799737;
const VECTOR_ID = 0x1cb5c415;
const MAX_DEPTH = 16;
const utf8 = new TextDecoder('utf-8', { fatal: true });

export class TlCodec {
  private readonly byName = new Map<string, TlCombinator>();
  private readonly byId = new Map<number, TlCombinator>();

  constructor(combinators: TlCombinator[]) {
    for (const c of combinators) {
      const clash = this.byId.get(c.id);
      if (clash) throw new Error(`TL schema: ${c.name} and ${clash.name} share id ${c.id.toString(16)}`);
      this.byName.set(c.name, c);
      this.byId.set(c.id, c);
    }
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  idOf(name: string): number {
    const c = this.byName.get(name);
    if (!c) throw new Error(`TL: unknown constructor ${name}`);
    return c.id;
  }

  /** Serializes a boxed object (constructor id first). */
  encode(obj: TlObject): Buffer {
    const w = new TlWriter();
    this.writeBoxed(w, obj, 0);
    return w.finish();
  }

  /** Appends a boxed object to `w` (for callers that frame it without another copy). */
  encodeTo(w: TlWriter, obj: TlObject): void {
    this.writeBoxed(w, obj, 0);
  }

  /** Parses a boxed object; the whole buffer must be consumed. */
  decode(buf: Buffer): TlObject {
    const r = new Reader(buf);
    const obj = this.readBoxed(r, undefined, 0);
    if (r.offset !== buf.length) throw new TlDecodeError(`${buf.length - r.offset} trailing bytes after ${obj._}`);
    return obj;
  }

  private writeBoxed(w: TlWriter, obj: TlObject, depth: number): void {
    const c = this.byName.get(obj?._);
    if (!c) throw new Error(`TL: cannot encode unknown constructor ${String(obj?._)}`);
    w.u32(c.id);
    this.writeFields(w, c, obj, depth);
  }

  private writeFields(w: TlWriter, c: TlCombinator, obj: Record<string, unknown>, depth: number): void {
    if (depth > MAX_DEPTH) throw new Error('TL: nesting too deep');
    for (const f of c.fields) {
      if (f.condition && (((obj[f.condition.flagsField] as number) >>> f.condition.bit) & 1) === 0) continue;
      const v = obj[f.name];
      if (v === undefined) throw new Error(`TL: ${c.name}.${f.name} is missing`);
      this.writeValue(w, f.type, v, `${c.name}.${f.name}`, depth);
    }
  }

  private writeValue(w: TlWriter, t: TlType, v: unknown, where: string, depth: number): void {
    switch (t.kind) {
      case 'int': case 'flags': return w.i32(v as number);
      case 'long': return w.i64(v as bigint);
      case 'double': return w.f64(v as number);
      case 'string': return w.string(v as string);
      // Text for a bytes field is its UTF-8 (the same wire as a string), written in place without a Buffer first.
      case 'bytes': return typeof v === 'string' ? w.string(v) : w.bytes(v as Buffer);
      case 'int256': return w.fixed(v as Buffer, 32, where);
      case 'int128': return w.fixed(v as Buffer, 16, where);
      case 'Bool': return w.u32(v ? BOOL_TRUE : BOOL_FALSE);
      case 'true': return;
      case 'vector': {
        const arr = v as unknown[];
        if (t.boxed) w.u32(VECTOR_ID);
        w.i32(arr.length);
        for (const e of arr) this.writeValue(w, t.element, e, where, depth + 1);
        return;
      }
      case 'bare': {
        const c = this.byName.get(t.constructor);
        if (!c) throw new Error(`TL: unknown bare type ${t.constructor} at ${where}`);
        return this.writeFields(w, c, v as Record<string, unknown>, depth + 1);
      }
      case 'boxed': {
        const obj = v as TlObject;
        const c = this.byName.get(obj?._);
        if (!c || c.resultType !== t.type) throw new Error(`TL: ${where} expects ${t.type}, got ${String(obj?._)}`);
        return this.writeBoxed(w, obj, depth + 1);
      }
    }
  }

  private readBoxed(r: Reader, expectedType: string | undefined, depth: number): TlObject {
    const id = r.u32();
    const c = this.byId.get(id);
    if (!c) throw new TlDecodeError(`unknown constructor id 0x${id.toString(16).padStart(8, '0')}`);
    if (expectedType !== undefined && c.resultType !== expectedType) {
      throw new TlDecodeError(`expected a ${expectedType}, got ${c.name}`);
    }
    return this.readFields(r, c, depth);
  }

  private readFields(r: Reader, c: TlCombinator, depth: number): TlObject {
    if (depth > MAX_DEPTH) throw new TlDecodeError('nesting too deep');
    const obj: TlObject = { _: c.name };
    for (const f of c.fields) {
      if (f.condition && (((obj[f.condition.flagsField] as number) >>> f.condition.bit) & 1) === 0) continue;
      obj[f.name] = this.readValue(r, f.type, depth);
    }
    return obj;
  }

  private readValue(r: Reader, t: TlType, depth: number): unknown {
    switch (t.kind) {
      case 'int': return r.i32();
      case 'flags': return r.u32();
      case 'long': return r.i64();
      case 'double': return r.f64();
      case 'string':
        try {
          return utf8.decode(r.bytes());
        } catch {
          throw new TlDecodeError('string is not valid UTF-8');
        }
      case 'bytes': return r.bytes();
      case 'int256': return r.fixed(32);
      case 'int128': return r.fixed(16);
      case 'Bool': {
        const id = r.u32();
        if (id === BOOL_TRUE) return true;
        if (id === BOOL_FALSE) return false;
        throw new TlDecodeError(`bad Bool 0x${id.toString(16)}`);
      }
      case 'true': return true;
      case 'vector': {
        if (t.boxed && r.u32() !== VECTOR_ID) throw new TlDecodeError('expected a boxed vector');
        const n = r.i32();
        if (n < 0 || n > r.remaining() / 4) throw new TlDecodeError(`vector length ${n} exceeds the frame`);
        const out = new Array(n);
        for (let i = 0; i < n; i++) out[i] = this.readValue(r, t.element, depth + 1);
        return out;
      }
      case 'bare': return this.readFields(r, this.byName.get(t.constructor)!, depth + 1);
      case 'boxed': return this.readBoxed(r, t.type, depth + 1);
    }
  }
}

/** A growing output buffer in TL's layout; `offset` and `at` let a caller place a frame header in front. */
export class TlWriter {
  buf: Buffer;
  offset = 0;

  constructor(capacity = 256) {
    this.buf = Buffer.allocUnsafe(capacity);
  }

  ensure(n: number): void {
    if (this.offset + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.offset + n));
    this.buf.copy(next, 0, 0, this.offset);
    this.buf = next;
  }
  u32(v: number): void { this.ensure(4); this.buf.writeUInt32LE(v >>> 0, this.offset); this.offset += 4; }
  i32(v: number): void {
    if (!Number.isInteger(v) || v < -0x80000000 || v > 0xffffffff) throw new Error(`TL: ${v} is not a 32-bit integer`);
    this.u32(v);
  }
  i64(v: bigint): void { this.ensure(8); this.buf.writeBigInt64LE(BigInt.asIntN(64, v), this.offset); this.offset += 8; }
  f64(v: number): void { this.ensure(8); this.buf.writeDoubleLE(v, this.offset); this.offset += 8; }
  fixed(v: Buffer, n: number, where: string): void {
    if (!Buffer.isBuffer(v) || v.length !== n) throw new Error(`TL: ${where} must be ${n} bytes`);
    this.ensure(n); v.copy(this.buf, this.offset); this.offset += n;
  }
  bytes(v: Buffer): void {
    const len = v.length;
    const head = this.lengthPrefix(len);
    v.copy(this.buf, this.offset + head);
    this.pad(head, len);
  }
  /** A string as TL bytes, UTF-8 encoded straight into the buffer. */
  string(v: string): void {
    const len = Buffer.byteLength(v, 'utf8');
    const head = this.lengthPrefix(len);
    this.buf.write(v, this.offset + head, len, 'utf8');
    this.pad(head, len);
  }
  private lengthPrefix(len: number): number {
    const head = len < 254 ? 1 : 4;
    this.ensure((head + len + 3) & ~3);
    if (head === 1) this.buf[this.offset] = len;
    else this.buf.writeUInt32LE(0xfe | (len << 8), this.offset);
    return head;
  }
  private pad(head: number, len: number): void {
    const padded = (head + len + 3) & ~3;
    this.buf.fill(0, this.offset + head + len, this.offset + padded);
    this.offset += padded;
  }
  finish(): Buffer { return this.buf.subarray(0, this.offset); }
}

class Reader {
  offset = 0;
  constructor(private readonly buf: Buffer) {}
  remaining(): number { return this.buf.length - this.offset; }
  private need(n: number): void {
    if (this.offset + n > this.buf.length) throw new TlDecodeError(`truncated message: need ${n} bytes at offset ${this.offset}`);
  }
  u32(): number { this.need(4); const v = this.buf.readUInt32LE(this.offset); this.offset += 4; return v; }
  i32(): number { this.need(4); const v = this.buf.readInt32LE(this.offset); this.offset += 4; return v; }
  i64(): bigint { this.need(8); const v = this.buf.readBigInt64LE(this.offset); this.offset += 8; return v; }
  f64(): number { this.need(8); const v = this.buf.readDoubleLE(this.offset); this.offset += 8; return v; }
  fixed(n: number): Buffer { this.need(n); const v = Buffer.from(this.buf.subarray(this.offset, this.offset + n)); this.offset += n; return v; }
  bytes(): Buffer {
    this.need(1);
    let len = this.buf[this.offset]!;
    let head = 1;
    if (len === 0xfe) { this.need(4); len = this.buf.readUInt32LE(this.offset) >>> 8; head = 4; }
    else if (len === 0xff) throw new TlDecodeError('bad bytes length prefix 0xff');
    const padded = (head + len + 3) & ~3;
    this.need(padded);
    const v = this.buf.subarray(this.offset + head, this.offset + head + len);
    this.offset += padded;
    return v;
  }
}

let shared: TlCodec | undefined;

/** The codec for Cocoon's wire: the reference schema plus our extension namespace. */
export function cocoonCodec(): TlCodec {
  if (!shared) {
    const read = (f: string) => readFileSync(new URL(f, import.meta.url), 'utf8');
    shared = new TlCodec([...parseTlSchema(read('./cocoon_api.tl')), ...parseTlSchema(read('./cocoon_ext.tl'))]);
  }
  return shared;
}

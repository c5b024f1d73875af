import { crc32 } from 'node:zlib';
import type { RefusalCode } from './report.ts';

/**
 * Telling a refused peer why, before the connection closes. The TLS handshake completes without
 * trusting the peer; the verifier then judges its certificate, and on refusal this side sends one
 * message and closes:
 *
 *   cocoonx.attestationRefused code:string reason:string = cocoonx.AttestationRefused;
 *
 * framed as the reference frames every packet (u32 LE payload length, i32 LE sequence number 0,
 * payload), so it is the first and only packet of that connection. It lives in our own TL
 * namespace: a reference peer does not know it and just sees the connection close (as it would
 * anyway); our peers recognise it from the first bytes they receive (watchForRefusal in tls.ts)
 * without consuming them, so the wire code above needs no change. Nothing in it is trusted: it is
 * a message from a peer we refused or that refused us, shown to the operator and logged.
 */
export const REFUSAL_SCHEMA = 'cocoonx.attestationRefused code:string reason:string = cocoonx.AttestationRefused';
export const REFUSAL_CONSTRUCTOR = crc32(REFUSAL_SCHEMA) >>> 0;
const MAX_REASON = 900;

export interface Refusal {
  code: RefusalCode | string;
  reason: string;
}

function tlString(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  const head = b.length < 254 ? Buffer.from([b.length]) : Buffer.from([254, b.length & 0xff, (b.length >> 8) & 0xff, (b.length >> 16) & 0xff]);
  const pad = (4 - ((head.length + b.length) % 4)) % 4;
  return Buffer.concat([head, b, Buffer.alloc(pad)]);
}

function readTlString(buf: Buffer, at: number): { value: string; next: number } | null {
  if (at >= buf.length) return null;
  let len = buf[at]!;
  let head = 1;
  if (len === 254) {
    if (at + 4 > buf.length) return null;
    len = buf.readUIntLE(at + 1, 3);
    head = 4;
  } else if (len === 255) return null;
  const end = at + head + len;
  if (end > buf.length) return null;
  return { value: buf.subarray(at + head, end).toString('utf8'), next: end + ((4 - ((head + len) % 4)) % 4) };
}

export function encodeRefusal(r: Refusal): Buffer {
  const ctor = Buffer.alloc(4);
  ctor.writeUInt32LE(REFUSAL_CONSTRUCTOR);
  const payload = Buffer.concat([ctor, tlString(r.code.slice(0, 64)), tlString(r.reason.slice(0, MAX_REASON))]);
  const head = Buffer.alloc(8);
  head.writeUInt32LE(payload.length, 0);
  head.writeInt32LE(0, 4);
  return Buffer.concat([head, payload]);
}

/** The refusal at the start of `data`, or null when the bytes are anything else. */
export function decodeRefusal(data: Buffer): Refusal | null {
  if (data.length < 12) return null;
  const len = data.readUInt32LE(0);
  if (data.readInt32LE(4) !== 0 || len < 4 || len > 2048 || data.length < 8 + len) return null;
  const payload = data.subarray(8, 8 + len);
  if (payload.readUInt32LE(0) !== REFUSAL_CONSTRUCTOR) return null;
  const code = readTlString(payload, 4);
  const reason = code && readTlString(payload, code.next);
  if (!code || !reason) return null;
  return { code: code.value, reason: reason.value };
}

import { hash, randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { CocoonError } from '../errors.ts';

/**
 * Proof of work before TLS, as the reference router does on every hop: the side that accepts a
 * TCP connection sends a `cocoon.powSimple` challenge, the side that dialled answers with a
 * `cocoon.powSimpleResponse`, and only then does the TLS ClientHello flow. It makes opening a
 * connection cost the dialer CPU time, so handshakes (and their attestation checks) cannot be
 * spammed for free.
 *
 * Bytes (all little-endian, no framing):
 *   challenge  418e1291 magic (u32) · difficulty_bits (i32) · salt (16 bytes)          = 24 bytes
 *   response   01827319 magic (u32) · nonce (i64)                                     = 12 bytes
 * A nonce solves the challenge when SHA-256(salt ‖ nonce as 8 LE bytes), read as a little-endian
 * u64 from its first 8 bytes, has at least `difficulty_bits` leading zero bits. (So the bits
 * counted are byte 7's high bit first, then down towards byte 0 — not the hash's first bits.)
 */
export const POW_CHALLENGE_MAGIC = 0x418e1291;
export const POW_RESPONSE_MAGIC = 0x01827319;
export const POW_CHALLENGE_BYTES = 24;
export const POW_RESPONSE_BYTES = 12;

/** The reference router's default difficulty for the listeners it guards. */
export const DEFAULT_POW_DIFFICULTY = 20;
/** The most a dialer solves by default (the reference's TcpConnection and router also stop at 28). */
export const DEFAULT_MAX_POW_DIFFICULTY = 28;
/**
 * What the local development network asks of its own dialers: a handful of hashes instead of
 * about a million, so a test or `cocoon up` connects at once. Never the default of a listener
 * that faces the network.
 */
export const LOCAL_POW_DIFFICULTY = 4;

export interface PowChallenge {
  difficultyBits: number;
  salt: Buffer;
}

export class PowError extends CocoonError {
  constructor(message: string, hint?: string) {
    super('pow_failed', message, hint === undefined ? {} : { hint });
  }
}

export function makeChallenge(difficultyBits: number): PowChallenge {
  if (!Number.isInteger(difficultyBits) || difficultyBits < 0 || difficultyBits > 64) {
    throw new RangeError(`PoW difficulty must be an integer 0..64, got ${difficultyBits}`);
  }
  return { difficultyBits, salt: randomBytes(16) };
}

export function encodeChallenge(c: PowChallenge): Buffer {
  if (c.salt.length !== 16) throw new RangeError('PoW salt must be 16 bytes');
  const out = Buffer.alloc(POW_CHALLENGE_BYTES);
  out.writeUInt32LE(POW_CHALLENGE_MAGIC, 0);
  out.writeInt32LE(c.difficultyBits, 4);
  c.salt.copy(out, 8);
  return out;
}

export function decodeChallenge(buf: Buffer): PowChallenge {
  if (buf.length !== POW_CHALLENGE_BYTES) throw new PowError(`PoW challenge must be ${POW_CHALLENGE_BYTES} bytes, got ${buf.length}`);
  const magic = buf.readUInt32LE(0);
  if (magic !== POW_CHALLENGE_MAGIC) {
    throw new PowError(`unexpected PoW challenge magic ${magic.toString(16).padStart(8, '0')}`, 'the peer is not a Cocoon node behind a PoW-guarded listener (or expects TLS right away); check the address and port');
  }
  return { difficultyBits: buf.readInt32LE(4), salt: Buffer.from(buf.subarray(8, 24)) };
}

export function encodeResponse(nonce: bigint): Buffer {
  const out = Buffer.alloc(POW_RESPONSE_BYTES);
  out.writeUInt32LE(POW_RESPONSE_MAGIC, 0);
  out.writeBigInt64LE(nonce, 4);
  return out;
}

export function decodeResponse(buf: Buffer): bigint {
  if (buf.length !== POW_RESPONSE_BYTES) throw new PowError(`PoW response must be ${POW_RESPONSE_BYTES} bytes, got ${buf.length}`);
  const magic = buf.readUInt32LE(0);
  if (magic !== POW_RESPONSE_MAGIC) {
    throw new PowError(`unexpected PoW response magic ${magic.toString(16).padStart(8, '0')}`, 'the dialer did not solve the proof of work (an old Cocoon Desktop, or a plain TLS client)');
  }
  return buf.readBigInt64LE(4);
}

/** Leading zero bits of the hash's first 8 bytes read as a little-endian u64 (0..64). */
export function leadingZeroBits(digest: Buffer): number {
  let bits = 0;
  for (let i = 7; i >= 0; i--) {
    const b = digest[i]!;
    if (b !== 0) return bits + Math.clz32(b) - 24;
    bits += 8;
  }
  return bits;
}

function digestOf(salt: Buffer, nonce: bigint, scratch: Buffer): Buffer {
  salt.copy(scratch, 0);
  scratch.writeBigInt64LE(nonce, 16);
  return hash('sha256', scratch, 'buffer') as unknown as Buffer;
}

export function verifySolution(c: PowChallenge, nonce: bigint): boolean {
  return leadingZeroBits(digestOf(c.salt, nonce, Buffer.alloc(24))) >= c.difficultyBits;
}

/**
 * Finds a nonce, counting up from 0 as the reference solver does. Works in slices and yields to
 * the event loop between them, so a node solving a difficulty-20 challenge (about a million
 * hashes, a second or two) keeps serving its other connections.
 */
export async function solveChallenge(c: PowChallenge, signal?: AbortSignal): Promise<bigint> {
  const scratch = Buffer.alloc(24);
  const SLICE = 20_000;
  for (let nonce = 0n; ; ) {
    for (let i = 0; i < SLICE; i++, nonce++) {
      if (leadingZeroBits(digestOf(c.salt, nonce, scratch)) >= c.difficultyBits) return nonce;
    }
    if (signal?.aborted) throw new PowError('PoW solving cancelled');
    await new Promise((r) => setImmediate(r));
  }
}

/**
 * Reads exactly `n` bytes from a socket that nobody else reads yet; bytes past `n` are pushed
 * back (`unshift`) for whoever reads next.
 */
function readExactly(socket: Socket, n: number, timeoutMs: number, what: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let got: Buffer[] = [];
    let len = 0;
    const done = (err: Error | null, value?: Buffer) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', onClose);
      socket.pause();
      if (err) reject(err);
      else resolve(value!);
    };
    const onData = (chunk: Buffer) => {
      got.push(chunk);
      len += chunk.length;
      if (len < n) return;
      const all = Buffer.concat(got, len);
      got = [];
      // Stop listening (and flowing) first: unshift on a flowing stream re-emits 'data' at once.
      done(null, all.subarray(0, n));
      if (len > n) socket.unshift(all.subarray(n));
    };
    const onError = (err: Error) => done(new PowError(`connection failed while waiting for the ${what}: ${err.message}`));
    const onClose = () => done(new PowError(`peer closed the connection before sending the ${what} (${len}/${n} bytes)`));
    const timer = setTimeout(() => done(new PowError(`no ${what} within ${timeoutMs} ms`)), timeoutMs);
    socket.on('data', onData);
    socket.once('error', onError);
    socket.once('close', onClose);
    socket.resume();
  });
}

export interface PowDialOptions {
  /** Refuse a challenge harder than this (default 28, as the reference). */
  maxDifficulty?: number;
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** Dialer side: read the challenge, solve it, send the solution. The socket is then ready for TLS. */
export async function solvePowAsDialer(socket: Socket, opts: PowDialOptions = {}): Promise<void> {
  const max = opts.maxDifficulty ?? DEFAULT_MAX_POW_DIFFICULTY;
  const challenge = decodeChallenge(await readExactly(socket, POW_CHALLENGE_BYTES, opts.timeoutMs ?? 10_000, 'PoW challenge'));
  if (challenge.difficultyBits > max || challenge.difficultyBits < 0) {
    throw new PowError(`peer asks for PoW difficulty ${challenge.difficultyBits}, more than the ${max} this node solves`, 'raise the dialer\'s maximum PoW difficulty if this peer is trusted');
  }
  const nonce = await solveChallenge(challenge, opts.signal);
  socket.write(encodeResponse(nonce));
}

export interface PowAcceptOptions {
  /** Leading zero bits required (default 20, as the reference router). */
  difficulty?: number;
  timeoutMs?: number;
}

/** Acceptor side: send a fresh challenge and check the dialer's solution before any TLS byte. */
export async function requirePowFromDialer(socket: Socket, opts: PowAcceptOptions = {}): Promise<void> {
  const challenge = makeChallenge(opts.difficulty ?? DEFAULT_POW_DIFFICULTY);
  socket.write(encodeChallenge(challenge));
  const nonce = decodeResponse(await readExactly(socket, POW_RESPONSE_BYTES, opts.timeoutMs ?? 10_000, 'PoW solution'));
  if (!verifySolution(challenge, nonce)) throw new PowError(`PoW solution ${nonce} does not meet difficulty ${challenge.difficultyBits}`);
}

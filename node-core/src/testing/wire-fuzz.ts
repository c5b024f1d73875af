import { MAX_FRAME } from '../protocol/framing.ts';
import { cocoonCodec, type TlObject } from '../protocol/tl-codec.ts';
import { mutateBytes, type Rng } from './fuzz.ts';
import { TL_NAMES, randomTlObject } from './tl-fuzz.ts';

/**
 * Hostile frames for a Cocoon connection, written by hand (own seqno, any length) so every layer
 * can be hit: the frame header, the tcp.* packet, the inner object. Shared by the wire fuzz
 * suites (a hostile peer against the proxy, a hostile proxy against the worker and the client).
 * Test code only.
 */
const codec = cocoonCodec();

/** Where a fuzz peer writes: raw bytes, or whole frames numbered by its own `seqno`. */
export interface WireWriter {
  seqno: number;
  raw(bytes: Buffer): void;
}

export function frameHeader(len: number, seqno: number): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt32LE(len >>> 0, 0);
  h.writeInt32LE(seqno | 0, 4);
  return h;
}

/** A frame with the writer's next seqno and no range check on the payload's size. */
export function writeFrame(w: WireWriter, payload: Buffer): void {
  w.raw(Buffer.concat([frameHeader(payload.length, w.seqno++), payload]));
}

export function writePacket(w: WireWriter, p: TlObject): void {
  writeFrame(w, codec.encode(p));
}

export type FuzzKind = 'garbage' | 'bad-length' | 'bad-seqno' | 'unknown-constructor' | 'mutated' | 'hostile-query' | 'hostile-packet' | 'not-accepted' | 'tcp-noise' | 'truncated';
/** Hostile but well-framed messages twice as often: they reach the handlers. */
export const FUZZ_KINDS: readonly FuzzKind[] = ['garbage', 'bad-length', 'bad-seqno', 'unknown-constructor', 'mutated', 'hostile-query', 'hostile-packet', 'hostile-query', 'hostile-packet', 'not-accepted', 'tcp-noise', 'truncated'];

/**
 * Sends one hostile frame of `kind`, its inner objects drawn from `accepted` (what the receiver
 * takes from this peer). Returns false when the stream is left mid-frame or desynchronised (the
 * receiver may wait for more bytes rather than answer).
 */
export function sendFuzzFrame(rng: Rng, w: WireWriter, kind: FuzzKind, accepted: readonly string[]): boolean {
  const validInner = () => codec.encode(randomTlObject(rng, rng.pick(accepted)));
  switch (kind) {
    case 'garbage': w.raw(rng.bytes(rng.int(1, 300))); return false;
    case 'bad-length': w.raw(Buffer.concat([frameHeader(rng.pick([0, 1, 3, MAX_FRAME + 1, 0xffffffff]), w.seqno), rng.bytes(rng.int(0, 16))])); return false;
    case 'bad-seqno': w.raw(Buffer.concat([frameHeader(12, w.seqno + rng.pick([-1, 1, 2, 1000])), codec.encode({ _: 'tcp.ping', id: 1n })])); return false;
    case 'unknown-constructor': writeFrame(w, Buffer.concat([rng.bytes(4), rng.bytes(rng.int(0, 64))])); return true;
    case 'mutated': writeFrame(w, mutateBytes(rng, codec.encode({ _: rng.pick(['tcp.query', 'tcp.packet']), id: BigInt(rng.int(1, 1e6)), data: validInner() }))); return true;
    case 'hostile-query': writePacket(w, { _: 'tcp.query', id: BigInt(rng.int(1, 1e9)), data: validInner() }); return true;
    case 'hostile-packet': writePacket(w, { _: 'tcp.packet', data: validInner() }); return true;
    case 'not-accepted': {
      const name = rng.pick(TL_NAMES.filter((n) => !accepted.includes(n)));
      writePacket(w, { _: rng.pick(['tcp.query', 'tcp.packet']), id: 5n, data: codec.encode(randomTlObject(rng, name)) });
      return true;
    }
    case 'tcp-noise': writePacket(w, randomTlObject(rng, rng.pick(['tcp.queryAnswer', 'tcp.queryError', 'tcp.pong', 'tcp.connect', 'tcp.connected', 'tcp.packet']))); return true;
    case 'truncated': {
      const payload = codec.encode({ _: 'tcp.packet', data: validInner() });
      const whole = Buffer.concat([frameHeader(payload.length, w.seqno), payload]);
      w.raw(whole.subarray(0, rng.int(1, whole.length - 1)));
      return false;
    }
  }
}

import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { CocoonError, errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import { cocoonCodec, TlWriter, type TlCodec, type TlObject } from './tl-codec.ts';
import { ErrorCode, queryErrorCode } from './messages.ts';
import { DEFAULT_MAX_FRAME, FRAME_HEADER_BYTES, FrameDecoder, FrameEncoder } from './framing.ts';

/**
 * Where a message wrapped in tcp.packet / tcp.query is encoded, shared by every connection of the
 * process (encoding is synchronous): a slab that frames are built in one after the other, each
 * frame a view of it, so building one costs no allocation and no copy. The inner object goes at
 * HEADROOM past the slab's cursor, then the frame header, the wrapper's fields and the bytes
 * length prefix are written just before it. A new slab is started when the room left is short;
 * a message larger than the room grows the writer into a buffer of its own (TlWriter.ensure).
 * Before, every frame was copied out of a scratch buffer into a fresh allocation (for a 16 KB
 * answer part ~5 µs, and ArrayBuffers for the GC to sweep), and before that copied four times.
 * A frame queued behind a slow peer keeps its slab alive: `flush` copies frames for a socket
 * that is already behind, so only the frame written when the peer stopped reading can pin one
 * (64 KiB, against the peer's full kernel socket buffer of megabytes).
 */
const SLAB_BYTES = 64 * 1024;
/** Below this much room left, a message starts a new slab rather than outgrowing this one. */
const SLAB_MIN_ROOM = 16 * 1024;
const slab = new TlWriter(SLAB_BYTES);
let slabStart = slab.buf;

function newSlab(): void {
  slab.buf = Buffer.allocUnsafe(SLAB_BYTES);
  slab.offset = 0;
  slabStart = slab.buf;
}

/** One view over `frames` when each starts where the one before ended in the same memory; else null. */
function adjoining(frames: Buffer[]): Buffer | null {
  const first = frames[0]!;
  if (frames.length === 1) return first;
  let end = first.byteOffset + first.length;
  for (let i = 1; i < frames.length; i++) {
    const f = frames[i]!;
    if (f.buffer !== first.buffer || f.byteOffset !== end) return null;
    end += f.length;
  }
  return Buffer.from(first.buffer, first.byteOffset, end - first.byteOffset);
}

/**
 * One peer connection speaking Cocoon's wire, as the reference's TcpConnection does: frames with
 * sequence numbers (framing.ts) carrying `tcp.*` packets. The dialer opens with `tcp.connect`
 * (a random id) and the acceptor answers `tcp.connected` with the same id before anything else.
 * Queries are multiplexed by id (tcp.query → tcp.queryAnswer | tcp.queryError), one-way messages
 * ride in tcp.packet. Keepalive as the reference: the dialer sends `tcp.ping` after half its
 * 20 s timeout without receiving anything; either side closes after its timeout (dialer 20 s,
 * acceptor 60 s) without a byte from the peer; both answer pings with `tcp.pong`.
 * Every frame and its inner object is decoded and validated before any handler sees it; a bad
 * frame, or a handler that throws, closes this connection only, with the reason logged.
 */
export interface ConnectionOptions {
  log: Logger;
  /** Who opened the TCP connection: the dialer sends tcp.connect and pings; the acceptor answers. */
  role: 'dialer' | 'acceptor';
  codec?: TlCodec;
  maxFrame?: number;
  /** Close when nothing arrives this long (default: dialer 20 s, acceptor 60 s, as the reference). */
  idleTimeoutMs?: number;
  /** Inner objects a peer may send, by constructor name (anything else closes the connection). */
  accept: ReadonlySet<string>;
  onQuery?: (query: TlObject) => Promise<TlObject>;
  onPacket?: (packet: TlObject) => void;
}

interface Pending {
  resolve(v: TlObject): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

export class Connection extends EventEmitter<{ close: [reason: string] }> {
  private readonly codec: TlCodec;
  private readonly packetId: number;
  private readonly queryId: number;
  private readonly decoder: FrameDecoder;
  private readonly encoder = new FrameEncoder();
  private readonly pending = new Map<bigint, Pending>();
  private nextQueryId = BigInt(randomBytes(4).readUInt32LE(0)) << 16n;
  private idleTimer: NodeJS.Timeout | undefined;
  private readonly idleTimeoutMs: number;
  private lastReceived = Date.now();
  private pingSent = false;
  /** The dialer's tcp.connect id, until the acceptor confirms it; null once the opening is done. */
  private connectId: bigint | null;
  private opened = false;
  private closedReason: string | undefined;

  constructor(
    private readonly socket: Duplex,
    private readonly opts: ConnectionOptions,
  ) {
    super();
    this.codec = opts.codec ?? cocoonCodec();
    this.packetId = this.codec.idOf('tcp.packet');
    this.queryId = this.codec.idOf('tcp.query');
    this.decoder = new FrameDecoder(opts.maxFrame ?? DEFAULT_MAX_FRAME);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.close(`socket error: ${err.message}`));
    socket.on('close', () => this.close('peer closed the connection'));
    this.idleTimeoutMs = opts.idleTimeoutMs ?? (opts.role === 'dialer' ? 20_000 : 60_000);
    this.idleTimer = setInterval(() => this.checkIdle(), Math.max(50, Math.floor(this.idleTimeoutMs / 8)));
    this.idleTimer.unref();
    this.connectId = opts.role === 'dialer' ? randomBytes(8).readBigInt64LE(0) : null;
    // Frames queued after tcp.connect leave in order; the acceptor reads tcp.connect first.
    if (this.connectId !== null) this.write({ _: 'tcp.connect', id: this.connectId });
  }

  private checkIdle(): void {
    const silent = Date.now() - this.lastReceived;
    if (silent > this.idleTimeoutMs) return this.reject(`nothing received for ${this.idleTimeoutMs} ms`);
    if (this.opts.role === 'dialer' && this.opened && !this.pingSent && silent > this.idleTimeoutMs / 2) {
      this.pingSent = true;
      this.write({ _: 'tcp.ping', id: randomBytes(8).readBigInt64LE(0) });
    }
  }

  get closed(): boolean {
    return this.closedReason !== undefined;
  }

  /** Sends a one-way message (wrapped in tcp.packet). */
  send(message: TlObject): void {
    if (this.closed) return;
    this.writeWrapped(null, message);
  }

  /** Sends a query and waits for its answer. */
  query(message: TlObject, timeoutMs = 30_000): Promise<TlObject> {
    if (this.closed) return Promise.reject(new CocoonError('connection_closed', `connection closed: ${this.closedReason}`));
    const id = this.nextQueryId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new CocoonError('query_timeout', `${message._} got no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.writeWrapped(id, message);
    });
  }

  close(reason: string): void {
    if (this.closedReason !== undefined) return;
    this.closedReason = reason;
    clearInterval(this.idleTimer);
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new CocoonError('connection_closed', `connection closed: ${reason}`));
    }
    this.pending.clear();
    this.socket.destroy();
    this.emit('close', reason);
  }

  /**
   * Frames written in the same tick leave as one socket write (one TLS record where they fit):
   * a streamed answer produces many small frames, and per-write TLS cost dominated the relay.
   */
  private write(packet: TlObject): void {
    // A dialer says nothing after tcp.connect until tcp.connected is back: the reference acceptor
    // parses every frame before its connection is marked open as another tcp.connect, so a query
    // sent in the same burst closes the connection ("Wrong constructor found").
    if (this.connectId !== null && packet._ !== 'tcp.connect') {
      this.held.push(packet);
      return;
    }
    this.enqueue(this.encoder.encode(this.codec.encode(packet)));
  }

  /**
   * The frame of `tcp.packet {data = inner}` (id null) or `tcp.query {id, data = inner}`, the
   * same bytes as encoding the wrapper around the encoded inner object, built in one pass.
   */
  private writeWrapped(id: bigint | null, inner: TlObject): void {
    if (this.connectId !== null) {
      const data = this.codec.encode(inner);
      return this.write(id === null ? { _: 'tcp.packet', data } : { _: 'tcp.query', id, data });
    }
    const w = slab;
    if (w.buf.length - w.offset < SLAB_MIN_ROOM) newSlab();
    const start = w.offset;
    // Room for the frame header, the wrapper's fields and a 4-byte length prefix; a short message
    // (1-byte prefix) moves back 3 bytes, so the frame starts right at `start` and the frames of
    // one tick lie back to back in the slab (one write of one view in `flush`).
    const headroom = FRAME_HEADER_BYTES + 4 + (id === null ? 0 : 8) + 4;
    w.offset = start + headroom;
    try {
      this.codec.encodeTo(w, inner);
      const len = w.offset - start - headroom;
      let at = start + headroom;
      if (len < 254) {
        w.buf.copyWithin(at - 3, at, at + len);
        at -= 4;
        w.buf[at] = len;
      } else {
        at -= 4;
        w.buf.writeUInt32LE(0xfe | (len << 8), at);
      }
      const head = len < 254 ? 1 : 4;
      const pad = ((head + len + 3) & ~3) - head - len;
      let end = at + head + len;
      w.offset = end;
      w.ensure(pad);
      w.buf.fill(0, end, end + pad);
      end += pad;
      if (id !== null) {
        at -= 8;
        w.buf.writeBigInt64LE(BigInt.asIntN(64, id), at);
      }
      at -= 4;
      w.buf.writeUInt32LE(id === null ? this.packetId : this.queryId, at);
      at -= FRAME_HEADER_BYTES;
      this.encoder.header(w.buf, at, end - at - FRAME_HEADER_BYTES);
      const frame = w.buf.subarray(at, end);
      // A message that outgrew the slab got a buffer of its own: that buffer is this frame's.
      if (w.buf === slabStart) w.offset = end;
      else newSlab();
      this.enqueue(frame);
    } catch (err) {
      // Nothing of a message that failed to encode is kept.
      if (w.buf === slabStart) w.offset = start;
      else newSlab();
      throw err;
    }
  }

  private enqueue(frame: Buffer): void {
    this.outbox.push(frame);
    if (this.outbox.length === 1) process.nextTick(this.flush);
  }

  private readonly outbox: Buffer[] = [];
  /** Frames a dialer queued before the acceptor confirmed the opening. */
  private readonly held: TlObject[] = [];
  private readonly flush = () => {
    if (this.closedReason !== undefined) return void (this.outbox.length = 0);
    const out = this.outbox;
    // Frames are views of a shared slab (see SLAB_BYTES): for a peer that is behind they are
    // copied, so that a slow reader does not keep slabs alive; frames that lie back to back
    // (those one connection wrote in a row) leave as one view, others joined in one copy.
    const frames = this.socket.writableLength === 0 ? adjoining(out) ?? Buffer.concat(out) : Buffer.concat(out);
    out.length = 0;
    this.socket.write(frames);
  };

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    this.lastReceived = Date.now();
    this.pingSent = false;
    let frames: Buffer[];
    try {
      frames = this.decoder.push(chunk);
    } catch (err) {
      return this.reject(`bad frame: ${errorMessage(err)}`);
    }
    for (const frame of frames) {
      if (this.closed) return;
      let packet: TlObject;
      let inner: TlObject | undefined;
      try {
        packet = this.codec.decode(frame);
        if (packet._ === 'tcp.query' || packet._ === 'tcp.packet' || packet._ === 'tcp.queryAnswer') {
          inner = this.codec.decode(packet.data as Buffer);
          if (packet._ !== 'tcp.queryAnswer' && !this.opts.accept.has(inner._)) throw new Error(`${inner._} is not accepted on this connection`);
        }
      } catch (err) {
        return this.reject(`bad message: ${errorMessage(err)}`);
      }
      if (!this.opened) {
        this.open(packet);
        continue;
      }
      try {
        this.dispatch(packet, inner);
      } catch (err) {
        // A handler bug or a message it cannot use: this peer goes, the node stays.
        return this.reject(`handler failed on ${inner?._ ?? packet._}: ${errorMessage(err)}`);
      }
    }
  }

  /** The first frame each way: tcp.connect from the dialer, tcp.connected (same id) back. */
  private open(packet: TlObject): void {
    if (this.opts.role === 'acceptor') {
      if (packet._ !== 'tcp.connect') return this.reject(`expected tcp.connect as the first packet, got ${packet._}`);
      this.write({ _: 'tcp.connected', id: packet.id });
    } else {
      if (packet._ !== 'tcp.connected') return this.reject(`expected tcp.connected as the first packet, got ${packet._}`);
      if (packet.id !== this.connectId) return this.reject('tcp.connected answers another tcp.connect id');
      this.connectId = null;
    }
    this.opened = true;
    for (const p of this.held.splice(0)) this.write(p);
  }

  private dispatch(packet: TlObject, inner: TlObject | undefined): void {
    switch (packet._) {
      case 'tcp.ping':
        return this.write({ _: 'tcp.pong', id: packet.id });
      case 'tcp.pong':
        return; // any received frame already counts as life
      case 'tcp.packet':
        this.opts.onPacket?.(inner!);
        return;
      case 'tcp.query': {
        const id = packet.id as bigint;
        const handler = this.opts.onQuery;
        if (!handler) return this.write({ _: 'tcp.queryError', id, code: ErrorCode.protoviolation, message: 'this peer accepts no queries' });
        // A handler that throws synchronously is answered like one that rejects.
        Promise.resolve().then(() => handler(inner!)).then(
          (answer) => !this.closed && this.write({ _: 'tcp.queryAnswer', id, data: this.codec.encode(answer) }),
          (err) => !this.closed && this.write({ _: 'tcp.queryError', id, code: queryErrorCode(err), message: errorMessage(err) }),
        );
        return;
      }
      case 'tcp.queryAnswer':
      case 'tcp.queryError': {
        const p = this.pending.get(packet.id as bigint);
        if (!p) return; // answer to a query that already timed out
        this.pending.delete(packet.id as bigint);
        clearTimeout(p.timer);
        if (packet._ === 'tcp.queryAnswer') p.resolve(inner!);
        else p.reject(new CocoonError('peer_error', `peer refused: ${packet.message as string} (code ${packet.code as number})`));
        return;
      }
      case 'tcp.connect':
      case 'tcp.connected':
        return; // the reference ignores a repeated opening packet
      default:
        return this.reject(`unexpected packet ${packet._}`);
    }
  }

  private reject(reason: string): void {
    this.opts.log.warn({ reason }, 'closing connection');
    this.close(reason);
  }
}

import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { CocoonError, errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import { cocoonCodec, type TlCodec, type TlObject } from './tl-codec.ts';
import { DEFAULT_MAX_FRAME, FrameDecoder, encodeFrame } from './framing.ts';

/**
 * One peer connection speaking Cocoon's wire: framed `tcp.*` packets carrying TL objects.
 * Multiplexes queries by id (tcp.query → tcp.queryAnswer | tcp.queryError), carries one-way
 * messages (tcp.packet), answers pings, and closes a peer that stops answering them. Every
 * frame and its inner object is decoded and validated before any handler sees it; a bad frame
 * closes this connection only, with the reason logged.
 */
export interface ConnectionOptions {
  log: Logger;
  codec?: TlCodec;
  maxFrame?: number;
  pingIntervalMs?: number;
  /** Close when no pong arrives this long after a ping. */
  pingTimeoutMs?: number;
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
  private readonly decoder: FrameDecoder;
  private readonly pending = new Map<bigint, Pending>();
  private nextQueryId = BigInt(randomBytes(4).readUInt32LE(0)) << 16n;
  private pingTimer: NodeJS.Timeout | undefined;
  private lastPong = Date.now();
  private closedReason: string | undefined;

  constructor(
    private readonly socket: Duplex,
    private readonly opts: ConnectionOptions,
  ) {
    super();
    this.codec = opts.codec ?? cocoonCodec();
    this.decoder = new FrameDecoder(opts.maxFrame ?? DEFAULT_MAX_FRAME);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.close(`socket error: ${err.message}`));
    socket.on('close', () => this.close('peer closed the connection'));
    const interval = opts.pingIntervalMs ?? 10_000;
    const timeout = opts.pingTimeoutMs ?? 30_000;
    this.pingTimer = setInterval(() => {
      if (Date.now() - this.lastPong > timeout) return this.close(`no pong for ${timeout} ms`);
      this.write({ _: 'tcp.ping', id: BigInt(Date.now()) });
    }, interval);
    this.pingTimer.unref();
  }

  get closed(): boolean {
    return this.closedReason !== undefined;
  }

  /** Sends a one-way message (wrapped in tcp.packet). */
  send(message: TlObject): void {
    if (this.closed) return;
    this.write({ _: 'tcp.packet', data: this.codec.encode(message) });
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
      this.write({ _: 'tcp.query', id, data: this.codec.encode(message) });
    });
  }

  close(reason: string): void {
    if (this.closedReason !== undefined) return;
    this.closedReason = reason;
    clearInterval(this.pingTimer);
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
    this.outbox.push(encodeFrame(this.codec.encode(packet)));
    if (this.outbox.length === 1) process.nextTick(this.flush);
  }

  private readonly outbox: Buffer[] = [];
  private readonly flush = () => {
    if (this.closedReason !== undefined) return void (this.outbox.length = 0);
    const frames = this.outbox.length === 1 ? this.outbox[0]! : Buffer.concat(this.outbox);
    this.outbox.length = 0;
    this.socket.write(frames);
  };

  private onData(chunk: Buffer): void {
    if (this.closed) return;
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
      this.dispatch(packet, inner);
    }
  }

  private dispatch(packet: TlObject, inner: TlObject | undefined): void {
    switch (packet._) {
      case 'tcp.ping':
        return this.write({ _: 'tcp.pong', id: packet.id });
      case 'tcp.pong':
        this.lastPong = Date.now();
        return;
      case 'tcp.packet':
        this.opts.onPacket?.(inner!);
        return;
      case 'tcp.query': {
        const id = packet.id as bigint;
        const handler = this.opts.onQuery;
        if (!handler) return this.write({ _: 'tcp.queryError', id, code: 400, message: 'this peer accepts no queries' });
        handler(inner!).then(
          (answer) => !this.closed && this.write({ _: 'tcp.queryAnswer', id, data: this.codec.encode(answer) }),
          (err) => !this.closed && this.write({ _: 'tcp.queryError', id, code: err instanceof CocoonError ? 400 : 500, message: errorMessage(err) }),
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
      default:
        return this.reject(`unexpected packet ${packet._}`);
    }
  }

  private reject(reason: string): void {
    this.opts.log.warn({ reason }, 'closing connection');
    this.close(reason);
  }
}

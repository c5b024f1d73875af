import { EventEmitter } from 'node:events';
import type net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { connectRaTls, refusalOf, refusalOfError, type AttestationReport, type PeerVerifier, type RaTlsIdentity, type Refusal } from '../attestation/index.ts';
import { CocoonError, errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import { Connection } from '../protocol/connection.ts';
import type { TlObject } from '../protocol/tl-codec.ts';
import { Backoff, DEFAULT_BACKOFF, type BackoffPolicy } from './backoff.ts';

/**
 * One dialer's attested link to one peer, kept up until stopped: dial (TCP, proof of work,
 * RA-TLS with the peer's attestation checked — attestation/tls.ts), our framed Connection, the
 * role's handshake, then wait for the connection to end and dial again after a jittered backoff
 * (backoff.ts). The client's proxy link and each of the worker's proxy links are one of these;
 * what the connection carries stays with the role (its handshake and packet handler).
 *
 * Waiting for the link ("until connected") is event-driven: `waitConnected` resolves on the
 * `connected` event and rejects on its timeout, its abort signal or `stop()`.
 */
export interface DialFailure {
  error: unknown;
  /** The reason the peer gave for refusing this node (during the TLS handshake or just after it). */
  refusal?: Refusal;
  /** The peer's attestation report when this node refused the peer. */
  report?: AttestationReport;
  /** How long the link waits before dialing again. */
  retryMs: number;
}

export interface LinkSession {
  connection: Connection;
  peer: AttestationReport;
  peerCertificatePem: string | null;
}

export interface AttestedLinkOptions {
  host: string;
  port: number;
  identity: RaTlsIdentity;
  verifier: PeerVerifier;
  log: Logger;
  /** Inner objects the peer may send (protocol/messages.ts). */
  accept: ReadonlySet<string>;
  /** Every packet the peer sends, from the moment the connection opens (also during the handshake). */
  onPacket(packet: TlObject, connection: Connection): void;
  /** The role's handshake; throwing refuses the peer (the connection is closed, and the link retries). */
  handshake(connection: Connection): Promise<void>;
  /** The handshake succeeded; runs before `waitConnected` callers resume. */
  onConnected?(session: LinkSession): void;
  /** A connected session ended (also when stopping: the role checks its own state). */
  onDisconnected?(reason: string, retryMs: number | null): void;
  /** A dial or handshake failed (not reported once stopped). */
  onFailed?(failure: DialFailure): void;
  backoff?: Partial<BackoffPolicy>;
  /** Test seams: the jitter's random source and the clock that decides "stable". */
  random?: () => number;
  now?: () => number;
}

export class AttestedLink extends EventEmitter<{ connected: [LinkSession]; disconnected: [reason: string]; retrying: [delayMs: number]; stopped: [] }> {
  readonly endpoint: string;
  private readonly backoff: Backoff;
  private readonly stopController = new AbortController();
  private current: Connection | null = null;
  private loop: Promise<void> | null = null;
  /** The last dial, handshake or connection error, for "why is it not connected". */
  lastError: string | undefined;

  constructor(private readonly opts: AttestedLinkOptions) {
    super();
    this.endpoint = `${opts.host}:${opts.port}`;
    this.backoff = new Backoff({ ...DEFAULT_BACKOFF, ...opts.backoff }, opts.random);
    // Many waiters (one per pending request or readiness check) are normal, not a leak.
    this.setMaxListeners(0);
  }

  get connection(): Connection | null {
    return this.current;
  }

  get stopped(): boolean {
    return this.stopController.signal.aborted;
  }

  start(): void {
    if (this.loop || this.stopped) return;
    this.loop = this.maintain();
  }

  /**
   * Stops dialing (an attempt in flight is cancelled), closes the connection with `reason`, cuts
   * the backoff sleep short and rejects every wait; resolves once the loop has ended.
   */
  stop(reason = 'link stopped'): Promise<void> {
    if (!this.stopped) {
      this.stopController.abort();
      this.current?.close(reason);
      this.emit('stopped');
    }
    return this.loop ?? Promise.resolve();
  }

  /** Resolves with the connection once the handshake succeeded; rejects after `timeoutMs`, on `signal` or on stop. */
  waitConnected(timeoutMs: number, signal?: AbortSignal): Promise<Connection> {
    if (this.current) return Promise.resolve(this.current);
    if (this.stopped) return Promise.reject(this.stoppedError());
    if (signal?.aborted) return Promise.reject(new CocoonError('cancelled', `stopped waiting for ${this.endpoint}`));
    return new Promise((resolve, reject) => {
      const finish = (err: Error | null, conn?: Connection) => {
        clearTimeout(timer);
        this.off('connected', onConnected);
        this.off('stopped', onStopped);
        signal?.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve(conn!);
      };
      const onConnected = (s: LinkSession) => finish(null, s.connection);
      const onStopped = () => finish(this.stoppedError());
      const onAbort = () => finish(new CocoonError('cancelled', `stopped waiting for ${this.endpoint}`));
      const timer = setTimeout(() => finish(new CocoonError('link_timeout', `no connection to ${this.endpoint} within ${timeoutMs} ms: ${this.lastError ?? 'timed out'}`)), timeoutMs);
      this.on('connected', onConnected);
      this.on('stopped', onStopped);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private stoppedError(): CocoonError {
    return new CocoonError('link_stopped', `the link to ${this.endpoint} was stopped`);
  }

  private now(): number {
    return this.opts.now ? this.opts.now() : Date.now();
  }

  /** One dial → handshake → connected session; resolves with how it ended. */
  private async session(): Promise<void> {
    const o = this.opts;
    const signal = this.stopController.signal;
    let dialed: net.Socket | null = null;
    let conn: Connection | null = null;
    try {
      const { socket, peer, peerCertificatePem } = await connectRaTls({ host: o.host, port: o.port, identity: o.identity, verifier: o.verifier, signal });
      dialed = socket;
      const c: Connection = new Connection(socket, { role: 'dialer', log: o.log, accept: o.accept, onPacket: (p) => o.onPacket(p, c) });
      conn = c;
      const closed = new Promise<string>((r) => c.once('close', r));
      socket.resume();
      await o.handshake(c);
      if (this.stopped) throw this.stoppedError();
      if (c.closed) throw new CocoonError('connection_closed', `${this.endpoint} closed the connection during the handshake`);
      const since = this.now();
      this.current = c;
      this.lastError = undefined;
      const session = { connection: c, peer, peerCertificatePem };
      o.onConnected?.(session);
      this.emit('connected', session);
      const reason = await closed;
      this.current = null;
      if (this.now() - since >= this.backoff.policy.stableMs) this.backoff.reset();
      if (!this.stopped) this.lastError = reason;
      const retryMs = this.stopped ? null : this.backoff.next();
      o.onDisconnected?.(reason, retryMs);
      this.emit('disconnected', reason);
      if (retryMs !== null) await this.pause(retryMs);
    } catch (err) {
      // A handshake the role refused leaves no half-open connection behind.
      conn?.close(`handshake failed: ${errorMessage(err)}`);
      if (this.stopped) return;
      this.lastError = errorMessage(err);
      const retryMs = this.backoff.next();
      const refusal = refusalOfError(err) ?? (dialed ? refusalOf(dialed) : undefined);
      const report = (err as { report?: AttestationReport } | null)?.report;
      o.onFailed?.({ error: err, retryMs, ...(refusal && { refusal }), ...(report && { report }) });
      await this.pause(retryMs);
    }
  }

  private async maintain(): Promise<void> {
    while (!this.stopped) await this.session();
  }

  /** The backoff sleep; `stop()` cuts it short. */
  private async pause(ms: number): Promise<void> {
    if (this.stopped) return;
    this.emit('retrying', ms);
    await sleep(ms, undefined, { signal: this.stopController.signal, ref: false }).catch(() => undefined);
  }
}

/** Resolves once any of `links` is connected; rejects (naming each link's last error) after `timeoutMs` or when all stopped. */
export async function waitAnyConnected(links: readonly AttestedLink[], timeoutMs: number): Promise<AttestedLink> {
  const cancel = new AbortController();
  try {
    return await Promise.any(links.map(async (l) => (await l.waitConnected(timeoutMs, cancel.signal), l)));
  } catch {
    throw new CocoonError('link_timeout', `no connection within ${timeoutMs} ms (${links.map((l) => `${l.endpoint}: ${l.lastError ?? 'not connected'}`).join('; ')})`);
  } finally {
    cancel.abort();
  }
}

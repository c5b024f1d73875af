import { EventEmitter } from 'node:events';
import { connectRaTls, type AttestationReport, type PeerVerifier, type RaTlsIdentity } from '../attestation/index.ts';
import { CocoonError, errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { TokenCounts } from '../payments/pricing.ts';
import { Connection } from '../protocol/connection.ts';
import { CLIENT_ACCEPTS_FROM_PROXY, ErrorCode, newRequestId, tokenCountsOf } from '../protocol/messages.ts';
import type { TlObject } from '../protocol/tl-codec.ts';
import type { ClientStatus } from './status.ts';

/**
 * The client's attested connection to its proxy: connects (and reconnects with backoff), keeps
 * the proxy's attestation report, and runs queries whose answers stream back as callbacks.
 */
export interface QueryCallbacks {
  onPart(answer: Buffer): void;
  onFinal(tokens: TokenCounts): void;
  onError(code: number, message: string): void;
}

export interface RunningQuery {
  cancel(): void;
}

export class ProxyLink extends EventEmitter<{ status: [] }> {
  private connection: Connection | null = null;
  private readonly queries = new Map<string, QueryCallbacks>();
  private stopped = false;
  private readonly stopController = new AbortController();
  state: ClientStatus['proxy'];
  attestation: AttestationReport | null = null;
  /** The proxy's RA-TLS certificate as seen in the last handshake, for `cocoon attest cert`. */
  proxyCertificatePem: string | null = null;

  constructor(
    private readonly opts: { host: string; port: number; identity: RaTlsIdentity; verifier: PeerVerifier; ownerAddress?: string; log: Logger },
  ) {
    super();
    this.state = { endpoint: `${opts.host}:${opts.port}`, state: 'connecting', since: new Date().toISOString() };
  }

  start(): void {
    void this.maintain();
  }

  get connected(): boolean {
    return this.connection !== null;
  }

  /** Resolves once connected; rejects with the last error after `timeoutMs`. */
  async waitConnected(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.connection) {
      if (Date.now() > deadline) throw new CocoonError('proxy_unreachable', `no connection to proxy ${this.state.endpoint}: ${this.state.error ?? 'timed out'}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  private typesCache: { at: number; types: Array<{ name: string; workers: number }> } | null = null;

  /** Models and worker counts from the proxy; answers younger than `maxAgeMs` come from a cache. */
  async workerTypes(maxAgeMs = 0): Promise<Array<{ name: string; workers: number }>> {
    if (this.typesCache && Date.now() - this.typesCache.at <= maxAgeMs) return this.typesCache.types;
    const conn = this.requireConnection();
    const answer = await conn.query({ _: 'client.getWorkerTypesV2' }, 10_000);
    const types = (answer.types as TlObject[]).map((t) => ({ name: t.name as string, workers: (t.workers as unknown[]).length }));
    this.typesCache = { at: Date.now(), types };
    return types;
  }

  runQuery(q: { model: string; request: Buffer; maxCoefficient: number; maxTokens: number; timeoutSeconds: number }, cb: QueryCallbacks): RunningQuery {
    const conn = this.requireConnection();
    const requestId = newRequestId();
    const key = requestId.toString('hex');
    this.queries.set(key, cb);
    conn.send({
      _: 'client.runQueryEx', model_name: q.model, query: q.request, max_coefficient: q.maxCoefficient, max_tokens: q.maxTokens,
      timeout: q.timeoutSeconds, request_id: requestId, min_config_version: 0, flags: 0,
    });
    return {
      cancel: () => {
        if (this.queries.delete(key)) conn.send({ _: 'cocoonx.cancelQuery', request_id: requestId });
      },
    };
  }

  stop(): void {
    this.stopped = true;
    this.stopController.abort();
    this.connection?.close('client stopping');
  }

  private requireConnection(): Connection {
    if (!this.connection) {
      throw new CocoonError('proxy_unavailable', `not connected to proxy ${this.state.endpoint} (${this.state.state}${this.state.error ? `: ${this.state.error}` : ''})`);
    }
    return this.connection;
  }

  private setState(state: ClientStatus['proxy']['state'], error?: string): void {
    this.state = { endpoint: this.state.endpoint, state, since: new Date().toISOString(), ...(error && { error }) };
    this.emit('status');
  }

  private onPacket(p: TlObject): void {
    const key = (p.request_id as Buffer).toString('hex');
    const cb = this.queries.get(key);
    if (!cb) return;
    if (p._ === 'client.queryAnswerPartEx') return cb.onPart(p.answer as Buffer);
    this.queries.delete(key);
    if (p._ === 'client.queryAnswerEx') {
      if ((p.answer as Buffer).length) cb.onPart(p.answer as Buffer);
      const info = p.final_info as TlObject | undefined;
      if (!info) return cb.onError(ErrorCode.workerFailed, 'proxy sent a final answer without token usage');
      return cb.onFinal(tokenCountsOf(info.tokens_used as TlObject));
    }
    cb.onError(p.error_code as number, p.error as string);
  }

  private async maintain(): Promise<void> {
    let backoff = 250;
    while (!this.stopped) {
      try {
        const { socket, peer, peerCertificatePem } = await connectRaTls({ host: this.opts.host, port: this.opts.port, identity: this.opts.identity, verifier: this.opts.verifier, signal: this.stopController.signal });
        const conn = new Connection(socket, { log: this.opts.log, role: 'dialer', accept: CLIENT_ACCEPTS_FROM_PROXY, onPacket: (p) => this.onPacket(p) });
        const closed = new Promise<string>((r) => conn.once('close', r));
        socket.resume();
        await conn.query({ _: 'client.connectToProxy', params: { _: 'client.params', flags: 0, client_owner_address: this.opts.ownerAddress ?? '' }, min_config_version: 0 });
        this.attestation = peer;
        this.proxyCertificatePem = peerCertificatePem;
        this.connection = conn;
        backoff = 250;
        this.setState('connected');
        this.opts.log.info({ proxy: this.state.endpoint, imageHash: peer.imageHash }, 'connected to proxy');
        const reason = await closed;
        this.connection = null;
        for (const cb of this.queries.values()) cb.onError(ErrorCode.workerFailed, `connection to proxy lost: ${reason}`);
        this.queries.clear();
        if (!this.stopped) this.setState('disconnected', reason);
      } catch (err) {
        if (this.stopped) return;
        const report = (err as { report?: AttestationReport }).report;
        if (report) this.attestation = report;
        this.setState(report ? 'refused' : 'disconnected', errorMessage(err));
        this.opts.log.warn({ proxy: this.state.endpoint, err: errorMessage(err), retryMs: backoff }, 'cannot connect to proxy');
      }
      if (this.stopped) return;
      await new Promise((r) => setTimeout(r, backoff).unref());
      backoff = Math.min(backoff * 2, 10_000);
    }
  }
}

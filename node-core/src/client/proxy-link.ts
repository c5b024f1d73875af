import { EventEmitter } from 'node:events';
import { StringDecoder } from 'node:string_decoder';
import { connectRaTls, type AttestationReport, type PeerVerifier, type RaTlsIdentity } from '../attestation/index.ts';
import { CocoonError, errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { TokenCounts } from '../payments/pricing.ts';
import { Connection } from '../protocol/connection.ts';
import { CLIENT_ACCEPTS_FROM_PROXY, ErrorCode, MAX_PROTO_VERSION, MIN_PROTO_VERSION, newRequestId, tokenCountsOf } from '../protocol/messages.ts';
import { chatCompletionQuery, decodeHttpResponse, encodeHttpRequest } from '../protocol/http-payload.ts';
import { isTonAddress, noSettlementClient, secretHash, signedPaymentOf, type ClientSettlement } from '../protocol/settlement.ts';
import { ChunkStreamParser } from '../inference/chunk-stream.ts';
import type { TlObject } from '../protocol/tl-codec.ts';
import type { ClientStatus } from './status.ts';

/**
 * The client's attested connection to its proxy: connects (and reconnects with backoff), keeps
 * the proxy's attestation report, and runs queries whose answers stream back as callbacks.
 */
export interface QueryCallbacks {
  /** Streamed answers: chunk JSON texts, one per line. */
  onPart(answer: Buffer): void;
  /** Answers that are one JSON body (embeddings): the whole body, before onFinal. */
  onBody?(body: Buffer): void;
  onFinal(tokens: TokenCounts): void;
  /**
   * The engine refused the request (its HTTP status, 4xx, and body): the engine's verdict, ends
   * the query. Without this callback it reaches onError as that status.
   */
  onRefused?(status: number, body: Buffer): void;
  onError(code: number, message: string): void;
}

interface ActiveQuery {
  maxCoefficient?: number;
  cb: QueryCallbacks;
  /** The first answer (http.response) arrived. */
  started: boolean;
  /** How the body is read: chunk by chunk, or gathered whole (a JSON answer or a refusal). */
  whole: boolean;
  /** The engine's status when it is not 200. */
  refusedWith: number | null;
  gathered: Buffer[];
  text: StringDecoder;
  parser: ChunkStreamParser;
}

/** Bytes of a whole answer the client holds (embeddings of many inputs). */
const WHOLE_ANSWER_LIMIT = 64 * 1024 * 1024;

const USAGE_ONLY = /"choices":\s*\[\s*\]/;
function isUsageOnly(chunk: string): boolean {
  return USAGE_ONLY.test(chunk) && chunk.includes('"usage"');
}

export interface RunningQuery {
  cancel(): void;
}

export class ProxyLink extends EventEmitter<{ status: [] }> {
  private connection: Connection | null = null;
  private readonly queries = new Map<string, ActiveQuery>();
  private readonly settlement: ClientSettlement;
  /** The proxy contract of the current connection (payments are per proxy). */
  private proxyContract = '';
  private stopped = false;
  private readonly stopController = new AbortController();
  state: ClientStatus['proxy'];
  attestation: AttestationReport | null = null;
  /** The proxy's RA-TLS certificate as seen in the last handshake, for `cocoon attest cert`. */
  proxyCertificatePem: string | null = null;

  constructor(
    private readonly opts: { host: string; port: number; identity: RaTlsIdentity; verifier: PeerVerifier; ownerAddress?: string; settlement?: ClientSettlement; log: Logger },
  ) {
    super();
    this.settlement = opts.settlement ?? noSettlementClient(opts.ownerAddress ? { ownerAddress: opts.ownerAddress } : {});
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
    let answer: TlObject;
    try {
      answer = await conn.query({ _: 'client.getWorkerTypesV2' }, 10_000);
    } catch (err) {
      // The link dropped or the proxy refused mid-query: the caller's 503, as when it is down.
      throw new CocoonError('proxy_unavailable', `proxy ${this.state.endpoint} did not list its models: ${errorMessage(err)}`);
    }
    const types = (answer.types as TlObject[]).map((t) => ({ name: t.name as string, workers: (t.workers as unknown[]).length }));
    this.typesCache = { at: Date.now(), types };
    return types;
  }

  /**
   * Runs a query: `request` is the JSON body as the engine gets it, POSTed to `path` (chat
   * completions by default); it travels as an http.request. A streamed answer's body (SSE or JSON
   * lines) comes back to `onPart` as chunk JSON texts, one per line — the engine's usage-only
   * chunk left out (the caller makes its own, with the cost); a `whole` answer to `onBody`.
   */
  runQuery(q: { model: string; request: Buffer; path?: string; whole?: boolean; maxCoefficient: number; maxTokens: number; timeoutSeconds: number }, cb: QueryCallbacks): RunningQuery {
    const conn = this.requireConnection();
    const requestId = newRequestId();
    const key = requestId.toString('hex');
    this.queries.set(key, { cb, maxCoefficient: q.maxCoefficient, started: false, whole: q.whole === true, refusedWith: null, gathered: [], text: new StringDecoder('utf8'), parser: new ChunkStreamParser() });
    const query = q.path && q.path !== '/v1/chat/completions'
      ? encodeHttpRequest({ method: 'POST', url: q.path, headers: [['Content-Type', 'application/json']], body: q.request })
      : chatCompletionQuery(q.request);
    conn.send({
      _: 'client.runQueryEx', model_name: q.model, query, max_coefficient: q.maxCoefficient, max_tokens: q.maxTokens,
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
    if (p._ === 'proxy.clientRequestPayment') {
      this.settlement.onPayment(this.proxyContract, { signedPayment: signedPaymentOf(p.signed_payment as TlObject), tokensCommittedToDb: p.db_tokens as bigint, maxTokens: p.max_tokens as bigint });
      return;
    }
    const key = (p.request_id as Buffer).toString('hex');
    const q = this.queries.get(key);
    if (!q) return;
    try {
      switch (p._) {
        case 'client.queryAnswerEx':
        case 'client.queryAnswerPartEx': {
          if ((p._ === 'client.queryAnswerEx') === q.started) throw new CocoonError('bad_answer', 'out of order answer parts');
          let body = p.answer as Buffer;
          if (!q.started) {
            q.started = true;
            const res = decodeHttpResponse(body);
            if (res.status !== 200) q.refusedWith = res.status;
            body = res.body;
          }
          const done = ((p.flags as number) & 1) !== 0;
          if (q.whole || q.refusedWith !== null) {
            q.gathered.push(body);
            if (q.gathered.reduce((n, b) => n + b.length, 0) > WHOLE_ANSWER_LIMIT) throw new CocoonError('answer_too_large', `answer is larger than ${WHOLE_ANSWER_LIMIT} bytes`);
            if (!done) return;
            this.queries.delete(key);
            const whole = Buffer.concat(q.gathered);
            if (q.refusedWith !== null) {
              if (q.cb.onRefused) return q.cb.onRefused(q.refusedWith, whole);
              return q.cb.onError(q.refusedWith, `engine answered ${q.refusedWith}: ${whole.toString('utf8').slice(0, 500)}`);
            }
            q.cb.onBody?.(whole);
            const info = p.final_info as TlObject | undefined;
            if (!info) return q.cb.onError(ErrorCode.workerFailed, 'proxy sent a final answer without token usage');
            return q.cb.onFinal(tokenCountsOf(info.tokens_used as TlObject));
          }
          const chunks = q.parser.push(q.text.write(body));
          if (done) chunks.push(...q.parser.push(q.text.end()), ...q.parser.end());
          const relay = chunks.filter((c) => !isUsageOnly(c));
          if (relay.length) q.cb.onPart(Buffer.from(relay.join('\n')));
          if (!done) return;
          this.queries.delete(key);
          const info = p.final_info as TlObject | undefined;
          if (!info) return q.cb.onError(ErrorCode.workerFailed, 'proxy sent a final answer without token usage');
          const tokens = tokenCountsOf(info.tokens_used as TlObject);
          // The client's own count comes first: the payment for this answer follows it on the wire.
          try {
            this.settlement.onAnswer?.(this.proxyContract, key, tokens, q.maxCoefficient ?? 1000);
          } catch (err) {
            this.opts.log.error({ err: errorMessage(err) }, 'could not record an answer in the client payment store');
          }
          return q.cb.onFinal(tokens);
        }
        default: // client.queryAnswerErrorEx, and the reference proxy's own client.queryAnswerError / …PartError
          this.queries.delete(key);
          return q.cb.onError(p.error_code as number, p.error as string);
      }
    } catch (err) {
      this.queries.delete(key);
      q.cb.onError(ErrorCode.workerFailed, `malformed answer: ${errorMessage(err)}`);
    }
  }

  /** The reference client handshake: connect, then the short or long authorization. */
  private async handshake(conn: Connection): Promise<void> {
    const s = this.settlement;
    const connected = await conn.query({
      _: 'client.connectToProxy',
      params: { _: 'client.params', flags: 1 | 2, client_owner_address: s.ownerAddress, is_test: s.isTest, min_proto_version: MIN_PROTO_VERSION, max_proto_version: MAX_PROTO_VERSION },
      min_config_version: 0,
    });
    const params = connected.params as TlObject;
    if (((params.flags as number) & 3) === 0) throw new CocoonError('proxy_too_old', 'too old proxy (no proxy params flags)');
    if (params.is_test !== s.isTest) throw new CocoonError('test_mode_mismatch', `test mode mismatch: proxy is_test=${String(params.is_test)}, this client ${s.isTest}`);
    for (const a of [params.proxy_owner_address, params.proxy_sc_address, connected.client_sc_address] as string[]) {
      if (!isTonAddress(a)) throw new CocoonError('bad_handshake', `proxy sent an address that does not parse: "${a}"`);
    }
    this.proxyContract = params.proxy_sc_address as string;
    const auth = connected.auth as TlObject;
    let answer: TlObject;
    if (auth._ === 'client.proxyConnectionAuthShort' && s.secret && secretHash(s.secret).equals(auth.secret_hash as Buffer)) {
      answer = await conn.query({ _: 'client.authorizeWithProxyShort', data: s.secret });
    } else {
      await s.registerWithProxy({ proxyContract: this.proxyContract, clientContract: connected.client_sc_address as string, nonce: auth.nonce as bigint });
      answer = await conn.query({ _: 'client.authorizeWithProxyLong' }, 300_000);
    }
    if (answer._ !== 'client.authorizationWithProxySuccess') {
      throw new CocoonError('auth_failed', `proxy refused authorization: ${answer.error as string} (code ${answer.error_code as number})`);
    }
    s.onPayment(this.proxyContract, { signedPayment: signedPaymentOf(answer.signed_payment as TlObject), tokensCommittedToDb: answer.tokens_committed_to_db as bigint, maxTokens: answer.max_tokens as bigint });
  }

  private async maintain(): Promise<void> {
    let backoff = 250;
    while (!this.stopped) {
      try {
        const { socket, peer, peerCertificatePem } = await connectRaTls({ host: this.opts.host, port: this.opts.port, identity: this.opts.identity, verifier: this.opts.verifier, signal: this.stopController.signal });
        const conn = new Connection(socket, { log: this.opts.log, role: 'dialer', accept: CLIENT_ACCEPTS_FROM_PROXY, onPacket: (p) => this.onPacket(p) });
        const closed = new Promise<string>((r) => conn.once('close', r));
        socket.resume();
        await this.handshake(conn);
        this.attestation = peer;
        this.proxyCertificatePem = peerCertificatePem;
        this.connection = conn;
        backoff = 250;
        this.setState('connected');
        this.opts.log.info({ proxy: this.state.endpoint, imageHash: peer.imageHash }, 'connected to proxy');
        const reason = await closed;
        this.connection = null;
        for (const q of this.queries.values()) q.cb.onError(ErrorCode.workerFailed, `connection to proxy lost: ${reason}`);
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

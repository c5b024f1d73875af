import { EventEmitter } from 'node:events';
import { StringDecoder } from 'node:string_decoder';
import type { AttestationReport, PeerVerifier, RaTlsIdentity } from '../attestation/index.ts';
import { CocoonError, errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { TokenCounts } from '../payments/pricing.ts';
import type { Connection } from '../protocol/connection.ts';
import { AttestedLink, type DialFailure, type LinkSession } from '../link/attested-link.ts';
import { CLIENT_ACCEPTS_FROM_PROXY, ErrorCode, MAX_PROTO_VERSION, MIN_PROTO_VERSION, ZERO_TOKENS, newRequestId, tokenCountsOf } from '../protocol/messages.ts';
import { usageOfBody, usageOfChunk, withoutUsage } from '../payments/running-usage.ts';
import type { AnswerLog } from './answer-log.ts';
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
  /** Streamed answers: the chunk JSON texts that arrived together (never empty). */
  onPart(chunks: string[]): void;
  /** Answers that are one JSON body (embeddings): the whole body, before onFinal. */
  onBody?(body: Buffer): void;
  /**
   * The answer ended: `tokens` are the adjusted tokens the proxy's final info charges (the cost),
   * `raw` the engine's counts from the answer body (the developer's OpenAI usage; null: none there).
   */
  onFinal(tokens: TokenCounts, raw: TokenCounts | null): void;
  /**
   * The engine refused the request (its HTTP status, 4xx, and body): the engine's verdict, ends
   * the query. Without this callback it reaches onError as that status.
   */
  onRefused?(status: number, body: Buffer): void;
  /**
   * `produced`: adjusted tokens the proxy charged for what reached this client before the error
   * (zero when none); `raw`: the engine's counts this client received by then, if any.
   */
  onError(code: number, message: string, produced?: TokenCounts, raw?: TokenCounts | null): void;
}

interface ActiveQuery {
  maxCoefficient?: number;
  /** The developer stopped it: parts still arriving are counted (they may be charged), not delivered. */
  cancelled: boolean;
  /** The last chunk with running usage: what this client received so far. */
  usageChunk: string | null;
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
const USAGE_TEXT = '"usage":';
function isUsageOnly(chunk: string): boolean {
  // The substring test first: it rules out every chunk but the last at a fraction of the regex's cost.
  return chunk.includes('"usage"') && USAGE_ONLY.test(chunk);
}
/** Whether a chunk names usage. A 6-character needle first: V8 builds a search table per call for 7 or more (10× slower per chunk). */
const mentionsUsage = (chunk: string): boolean => chunk.includes('usage"') && chunk.includes(USAGE_TEXT);

export interface RunningQuery {
  /** Our request id (hex): the answer's entry in the answer log. */
  id: string;
  cancel(): void;
}

/** How long a stopped query waits for the proxy's final usage (an older proxy sends none). */
const CANCEL_GRACE_MS = 30_000;

export class ProxyLink extends EventEmitter<{ status: [] }> {
  /** Dialing, reconnecting and waiting (link/attested-link.ts); this class owns what the connection carries. */
  private readonly link: AttestedLink;
  private readonly queries = new Map<string, ActiveQuery>();
  private readonly settlement: ClientSettlement;
  /** The proxy contract of the current connection (payments are per proxy). */
  private proxyContract = '';
  state: ClientStatus['proxy'];
  attestation: AttestationReport | null = null;
  /** The proxy's RA-TLS certificate as seen in the last handshake, for `cocoon attest cert`. */
  proxyCertificatePem: string | null = null;

  constructor(
    private readonly opts: { host: string; port: number; identity: RaTlsIdentity; verifier: PeerVerifier; ownerAddress?: string; settlement?: ClientSettlement; answers?: AnswerLog; log: Logger },
  ) {
    super();
    this.settlement = opts.settlement ?? noSettlementClient(opts.ownerAddress ? { ownerAddress: opts.ownerAddress } : {});
    this.state = { endpoint: `${opts.host}:${opts.port}`, state: 'connecting', since: new Date().toISOString() };
    this.link = new AttestedLink({
      host: opts.host, port: opts.port, identity: opts.identity, verifier: opts.verifier, log: opts.log, accept: CLIENT_ACCEPTS_FROM_PROXY,
      onPacket: (p) => this.onPacket(p),
      handshake: (conn) => this.handshake(conn),
      onConnected: (s) => this.onConnected(s),
      onDisconnected: (reason) => this.onDisconnected(reason),
      onFailed: (f) => this.onFailed(f),
    });
  }

  start(): void {
    this.link.start();
  }

  get connected(): boolean {
    return this.connection !== null;
  }

  private get connection(): Connection | null {
    return this.link.connection;
  }

  /** Resolves once connected; rejects with the last error after `timeoutMs` (at once when stopped). */
  async waitConnected(timeoutMs: number): Promise<void> {
    try {
      await this.link.waitConnected(timeoutMs);
    } catch (err) {
      throw new CocoonError('proxy_unreachable', `no connection to proxy ${this.state.endpoint}: ${this.state.error ?? errorMessage(err)}`);
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
   * lines) comes back to `onPart` as chunk JSON texts — the engine's usage-only
   * chunk left out (the caller makes its own, with the cost); a `whole` answer to `onBody`.
   */
  runQuery(q: { model: string; request: Buffer; path?: string; whole?: boolean; maxCoefficient: number; maxTokens: number; timeoutSeconds: number }, cb: QueryCallbacks): RunningQuery {
    const conn = this.requireConnection();
    const blocked = this.settlement.refusal?.(this.proxyContract);
    if (blocked) {
      throw new CocoonError('proxy_blocked', `this client stopped using proxy ${this.proxyContract}: ${blocked}`, {
        hint: `use another proxy; once you have investigated, clear the flag with: cocoon client unblock-proxy --proxy ${this.proxyContract}`,
      });
    }
    const requestId = newRequestId();
    const key = requestId.toString('hex');
    this.queries.set(key, { cb, maxCoefficient: q.maxCoefficient, cancelled: false, usageChunk: null, started: false, whole: q.whole === true, refusedWith: null, gathered: [], text: new StringDecoder('utf8'), parser: new ChunkStreamParser() });
    this.opts.answers?.started(key, { model: q.model, endpoint: q.path ?? '/v1/chat/completions' });
    const query = q.path && q.path !== '/v1/chat/completions'
      ? encodeHttpRequest({ method: 'POST', url: q.path, headers: [['Content-Type', 'application/json']], body: q.request })
      : chatCompletionQuery(q.request);
    conn.send({
      _: 'client.runQueryEx', model_name: q.model, query, max_coefficient: q.maxCoefficient, max_tokens: q.maxTokens,
      timeout: q.timeoutSeconds, request_id: requestId, min_config_version: 0, flags: 0,
    });
    return {
      id: key,
      cancel: () => {
        const active = this.queries.get(key);
        if (!active || active.cancelled) return;
        // Kept until the proxy's final answer: it carries what the stopped answer is charged.
        active.cancelled = true;
        conn.send({ _: 'cocoonx.cancelQuery', request_id: requestId });
        setTimeout(() => {
          if (this.queries.get(key) !== active) return;
          this.queries.delete(key);
          this.answerEnded(key, active, 'stopped', ZERO_TOKENS, 'the proxy sent no final usage for the stopped answer');
        }, CANCEL_GRACE_MS).unref();
      },
    };
  }

  stop(): void {
    this.link.stop('client stopping');
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

  /** Whether this client pays for answers (a settlement with its own checks). */
  private get payments(): boolean {
    return typeof this.settlement.chargeCounters === 'function';
  }

  /**
   * This client's own count of a completed answer: the engine's counts in the body (raw), which
   * its store prices at this client's maximum coefficient — per-kind truncation only grows with
   * the coefficient, so the count is never below a fair charge. The wire's adjusted tokens are
   * not counted: they are the proxy's (worker's) claim this count checks.
   */
  private countOwn(key: string, q: ActiveQuery, raw: TokenCounts | null): void {
    if (!raw) {
      if (this.payments) this.opts.log.warn({ request: key.slice(0, 16) }, 'the answer body carried no usage: this client cannot count it, a charge for it will be refused');
      return;
    }
    try {
      this.settlement.onAnswer?.(this.proxyContract, key, raw, q.maxCoefficient ?? 1000);
    } catch (err) {
      this.opts.log.error({ err: errorMessage(err) }, 'could not record an answer in the client payment store');
    }
  }

  /** Counts what this client received of an answer that ended early (its own count), and logs the answer's end. */
  private answerEnded(key: string, q: ActiveQuery, outcome: 'completed' | 'stopped' | 'interrupted', charged: TokenCounts, error?: string): void {
    const received = q.usageChunk ? usageOfChunk(q.usageChunk) : null;
    if (outcome !== 'completed' && received && received.prompt + received.cached + received.completion + received.reasoning > 0) {
      try {
        this.settlement.onAnswer?.(this.proxyContract, key, received, q.maxCoefficient ?? 1000);
      } catch (err) {
        this.opts.log.error({ err: errorMessage(err) }, 'could not record a partly received answer in the client payment store');
      }
    }
    this.opts.answers?.ended(key, { outcome, tokens: charged, received, payments: this.payments, ...(error && { error }) });
  }

  private onPacket(p: TlObject): void {
    if (p._ === 'proxy.clientRequestPayment') {
      const refusal = this.settlement.onPayment(this.proxyContract, { signedPayment: signedPaymentOf(p.signed_payment as TlObject), tokensCommittedToDb: p.db_tokens as bigint, maxTokens: p.max_tokens as bigint });
      const id = (p.request_id as Buffer).toString('hex');
      if (refusal) this.emit('status');
      // The proxy signs in batches: the answer is signed once the held counter reaches its ledger counter (max_tokens).
      this.opts.answers?.paid(id, { accepted: !refusal, signedCounter: this.settlement.chargeCounters?.(this.proxyContract)?.signed ?? null, covers: p.max_tokens as bigint, ...(refusal && { reason: refusal }) });
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
              this.opts.answers?.ended(key, { outcome: 'refused', tokens: ZERO_TOKENS, payments: this.payments });
              if (q.cancelled) return;
              if (q.cb.onRefused) return q.cb.onRefused(q.refusedWith, whole);
              return q.cb.onError(q.refusedWith, `engine answered ${q.refusedWith}: ${whole.toString('utf8').slice(0, 500)}`);
            }
            const info = p.final_info as TlObject | undefined;
            const tokens = info ? tokenCountsOf(info.tokens_used as TlObject) : ZERO_TOKENS;
            const raw = usageOfBody(whole);
            if (info) this.countOwn(key, q, raw);
            this.opts.answers?.ended(key, { outcome: 'completed', tokens, received: raw, payments: this.payments });
            if (q.cancelled) return;
            q.cb.onBody?.(whole);
            if (!info) return q.cb.onError(ErrorCode.workerFailed, 'proxy sent a final answer without token usage');
            return q.cb.onFinal(tokens, raw);
          }
          const chunks = q.parser.push(q.text.write(body));
          if (done) chunks.push(...q.parser.push(q.text.end()), ...q.parser.end());
          // Running usage (every chunk carries the usage so far) is this client's own count; the
          // developer gets OpenAI's stream: no usage until our final chunk.
          const relay: string[] = [];
          for (const c of chunks) {
            if (!mentionsUsage(c)) { relay.push(c); continue; }
            q.usageChunk = c;
            if (!isUsageOnly(c)) relay.push(withoutUsage(c));
          }
          if (relay.length && !q.cancelled) q.cb.onPart(relay);
          if (!done) return;
          this.queries.delete(key);
          const info = p.final_info as TlObject | undefined;
          if (!info) return q.cb.onError(ErrorCode.workerFailed, 'proxy sent a final answer without token usage');
          const tokens = tokenCountsOf(info.tokens_used as TlObject);
          const raw = q.usageChunk ? usageOfChunk(q.usageChunk) : null;
          this.opts.answers?.ended(key, { outcome: 'completed', tokens, received: raw, payments: this.payments });
          // The client's own count comes first: the payment for this answer follows it on the wire.
          this.countOwn(key, q, raw);
          if (q.cancelled) return;
          return q.cb.onFinal(tokens, raw);
        }
        default: { // client.queryAnswerErrorEx, and the reference proxy's own client.queryAnswerError / …PartError
          this.queries.delete(key);
          // An answer that ended early: the proxy's final info says what it charged for it.
          const info = p.final_info as TlObject | undefined;
          const charged = info?.tokens_used ? tokenCountsOf(info.tokens_used as TlObject) : ZERO_TOKENS;
          this.answerEnded(key, q, q.cancelled ? 'stopped' : 'interrupted', charged, q.cancelled ? undefined : p.error as string);
          if (q.cancelled) return;
          return q.cb.onError(p.error_code as number, p.error as string, charged, q.usageChunk ? usageOfChunk(q.usageChunk) : null);
        }
      }
    } catch (err) {
      this.queries.delete(key);
      this.answerEnded(key, q, q.cancelled ? 'stopped' : 'interrupted', ZERO_TOKENS, `malformed answer: ${errorMessage(err)}`);
      if (!q.cancelled) q.cb.onError(ErrorCode.workerFailed, `malformed answer: ${errorMessage(err)}`);
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
    const mismatch = s.contractMismatch?.(this.proxyContract, connected.client_sc_address as string);
    if (mismatch) throw new CocoonError('client_contract_mismatch', mismatch);
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
    const refusal = s.onPayment(this.proxyContract, { signedPayment: signedPaymentOf(answer.signed_payment as TlObject), tokensCommittedToDb: answer.tokens_committed_to_db as bigint, maxTokens: answer.max_tokens as bigint });
    if (refusal) this.opts.log.error({ proxy: this.proxyContract, reason: refusal }, 'the proxy\'s signed charge is refused; this client stops using the proxy');
  }

  /** Why this client refuses to use its proxy (persisted), or null. */
  get blocked(): string | null {
    return this.proxyContract ? this.settlement.refusal?.(this.proxyContract) ?? null : null;
  }

  /** The signed and on-chain charge counters this client holds at its proxy (null without payments). */
  chargeCounters(): { signed: bigint; onChain: bigint } | null {
    return this.proxyContract ? this.settlement.chargeCounters?.(this.proxyContract) ?? null : null;
  }

  private onConnected({ peer, peerCertificatePem }: LinkSession): void {
    this.attestation = peer;
    this.proxyCertificatePem = peerCertificatePem;
    this.setState('connected');
    this.opts.log.info({ proxy: this.state.endpoint, imageHash: peer.imageHash }, 'connected to proxy');
  }

  private onDisconnected(reason: string): void {
    // The proxy charges what it relayed: count what reached this client; its charge comes with the next connection.
    for (const [key, q] of this.queries) {
      this.answerEnded(key, q, q.cancelled ? 'stopped' : 'interrupted', q.usageChunk ? usageOfChunk(q.usageChunk) ?? ZERO_TOKENS : ZERO_TOKENS, `connection to proxy lost: ${reason}`);
      if (!q.cancelled) q.cb.onError(ErrorCode.workerFailed, `connection to proxy lost: ${reason}`);
    }
    this.queries.clear();
    if (!this.link.stopped) this.setState('disconnected', reason);
  }

  private onFailed({ error, report, retryMs }: DialFailure): void {
    if (report) this.attestation = report;
    this.setState(report ? 'refused' : 'disconnected', errorMessage(error));
    this.opts.log.warn({ proxy: this.state.endpoint, err: errorMessage(error), retryMs }, 'cannot connect to proxy');
  }
}

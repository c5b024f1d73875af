import type { AddressInfo, Server } from 'node:net';
import type tls from 'node:tls';
import { createRaTlsServer, type AttestationReport, type PeerVerifier, type RaTlsIdentity } from '../attestation/index.ts';
import { CocoonError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { Connection } from '../protocol/connection.ts';
import { serveJsonStats } from '../stats-server.ts';
import { ErrorCode, TonErrorCode, modelBaseName, PROXY_ACCEPTS_FROM_CLIENT, PROXY_ACCEPTS_FROM_WORKER, WireError, ZERO_TOKENS, newRequestId, tokenCountsOf, tokensUsed } from '../protocol/messages.ts';
import { CONFIG_TOO_OLD, configVersionTooLow, type RootRules } from '../protocol/root-config-file.ts';
import { noSettlementProxy, signedPaymentTl, type ProxySettlement } from '../protocol/settlement.ts';
import { isHttpRequest } from '../protocol/http-payload.ts';
import { ClientHandshake, WorkerHandshake } from './peer-handshake.ts';
import type { TlObject } from '../protocol/tl-codec.ts';
import { WorkerPool, type WorkerEntry } from './worker-pool.ts';
import { isProxyPayments } from '../payments/proxy-settlement.ts';
import { DEFAULT_PRICING, type TokenCounts } from '../payments/pricing.ts';
import { adjustedCounts, adjustedTotal, capAdjusted } from '../payments/adjusted-tokens.ts';
import { worstCaseUnits } from '../payments/admission.ts';
import { UNITS_PER_TOKEN } from '../payments/units.ts';
import { lastUsageIn, mentionsUsage } from '../payments/running-usage.ts';

/**
 * The proxy: accepts RA-TLS connections from workers and clients on one port (the first query
 * tells which role a peer has), routes each client query to a worker, relays the streamed answer,
 * retries on another worker when one fails before its first token, and propagates cancellation.
 */
export interface ProxyOptions {
  host?: string;
  port?: number;
  /** Port for workers (default: any free one). A reference worker is told both ports by the root config. */
  workerPort?: number;
  identity: RaTlsIdentity;
  /** Verifies workers (their image must be allowed for workers). */
  workerVerifier: PeerVerifier;
  /** Verifies clients. */
  clientVerifier: PeerVerifier;
  ownerAddress?: string;
  contractAddress?: string;
  /**
   * Contract addresses, client secrets and signed payments for the handshakes (protocol/
   * settlement.ts). Default: no payments — the reference's empty forms, as its proxy without TON.
   */
  settlement?: ProxySettlement;
  /** Root configuration rules (config version, model allowlist); none: not checked. */
  rootRules?: RootRules;
  /**
   * The root's price multipliers for the adjusted tokens of answers that end early, when no
   * settlement knows them (default DEFAULT_PRICING's, the local network's).
   */
  multipliers?: TokenCounts;
  /** Attempts per query before giving up (first worker + retries). */
  maxAttempts?: number;
  statsPort?: number | null;
  /** PoW difficulty asked of every dialer before TLS (default 20, as the reference router; see protocol/pow.ts). */
  powDifficulty?: number;
  log: Logger;
}

interface ProxyRequest {
  clientRequestId: Buffer;
  workerRequestId: Buffer;
  client: Connection;
  /** The client's owner address (its payments). */
  clientOwner: string;
  model: string;
  query: Buffer;
  maxCoefficient: number;
  maxTokens: number;
  timeoutSeconds: number;
  /** Releases the admission reservation (settling proxies). */
  release: () => void;
  worker: WorkerEntry | null;
  tried: Set<number>;
  firstPartSent: boolean;
  /** The last relayed part that carried usage: what the client received, if the answer ends early. */
  usagePart: Buffer | null;
  startedAt: number;
  timer: NodeJS.Timeout;
}

export interface ProxyStats {
  clientPort: number;
  workerPort: number;
  workers: Array<{
    id: number; model: string; coefficient: number; active: number; maxActive: number;
    successes: number; failures: number; latencyEwmaMs: number; connectedAt: string;
  }>;
  models: Record<string, { requests: number; completed: number; failed: number; retries: number; tokens: number }>;
  clients: number;
}

export interface ProxyHandle {
  /** Where clients connect. */
  endpoint: { host: string; port: number };
  /** Where workers connect. */
  workerEndpoint: { host: string; port: number };
  statsUrl: string | null;
  stats(): ProxyStats;
  stop(): Promise<void>;
}

export async function startProxy(opts: ProxyOptions): Promise<ProxyHandle> {
  const log = opts.log;
  const pool = new WorkerPool();
  const maxAttempts = opts.maxAttempts ?? 3;
  const byWorkerRequest = new Map<string, ProxyRequest>();
  const byClientRequest = new Map<Connection, Map<string, ProxyRequest>>();
  const modelStats = new Map<string, { requests: number; completed: number; failed: number; retries: number; tokens: number }>();
  const connections = new Set<Connection>();
  const settlement = opts.settlement ?? noSettlementProxy({ ...(opts.ownerAddress && { ownerAddress: opts.ownerAddress }), ...(opts.contractAddress && { contractAddress: opts.contractAddress }) });
  const publicKey = Buffer.from(opts.identity.publicKey);
  const handshakes = new Map<Connection, ClientHandshake>();
  const payments = isProxyPayments(settlement) ? settlement : null;
  const multipliers = payments?.pricing.multipliers ?? opts.multipliers ?? DEFAULT_PRICING.multipliers;

  const statsFor = (model: string) => {
    let s = modelStats.get(model);
    if (!s) modelStats.set(model, (s = { requests: 0, completed: 0, failed: 0, retries: 0, tokens: 0 }));
    return s;
  };

  function finish(req: ProxyRequest): void {
    clearTimeout(req.timer);
    req.release();
    byWorkerRequest.delete(req.workerRequestId.toString('hex'));
    byClientRequest.get(req.client)?.delete(req.clientRequestId.toString('hex'));
    if (req.worker) req.worker.active--;
  }

  /**
   * An answer that ends before its final part (the client stopped it or went away, the worker
   * failed or vanished, the timeout): what reached the client is committed to the ledger, once
   * (the request id makes it idempotent), and becomes the answer's final usage.
   */
  function endEarly(req: ProxyRequest, outcome: 'cancelled' | 'failed', committed?: (worker: WorkerEntry, produced: TokenCounts) => void): TokenCounts {
    finish(req);
    const worker = req.worker;
    const raw = req.firstPartSent && req.usagePart ? lastUsageIn(req.usagePart) : null;
    if (!worker || !raw) return ZERO_TOKENS;
    // The running usage is the engine's count; charged in adjusted tokens at the worker's
    // coefficient, as the worker itself would have reported them.
    let produced: TokenCounts;
    try {
      produced = adjustedCounts(raw, worker.coefficient, multipliers);
    } catch (err) {
      log.error({ request: req.workerRequestId.toString('hex').slice(0, 16), err: (err as Error).message }, 'cannot adjust the usage of an answer that ended early; nothing charged');
      return ZERO_TOKENS;
    }
    if (adjustedTotal(produced) === 0) return ZERO_TOKENS;
    recordAnswer(req, worker, produced, outcome, committed && (() => committed(worker, produced)));
    return produced;
  }

  /** Ends a query with an error; what it produced is charged, and the client gets that usage and its signed charge. */
  function failToClient(req: ProxyRequest, code: number, message: string, outcome: 'cancelled' | 'failed' = 'failed'): void {
    // Its signed charge and the worker's payout go once the ledger has committed the answer.
    const produced = endEarly(req, outcome, (worker, t) => sendPayments(req, worker, BigInt(adjustedTotal(t))));
    if (outcome === 'failed') statsFor(req.model).failed++;
    req.client.send({
      _: 'client.queryAnswerErrorEx', request_id: req.clientRequestId, error_code: code, error: message, flags: 1,
      final_info: { _: 'client.queryFinalInfo', flags: 0, tokens_used: tokensUsed(produced) },
    });
  }

  /** After a completed query, as the reference: the latest signed payment to both sides. */
  function sendPayments(req: ProxyRequest, worker: WorkerEntry, requestTokens: bigint): void {
    lastWorkerPayment.set(worker.owner, { worker, requestId: req.workerRequestId, clientOwner: req.clientOwner });
    sendWorkerPayment(worker, req.workerRequestId, req.clientOwner, requestTokens);
    lastClientPayment.set(req.clientOwner, { conn: req.client, requestId: req.clientRequestId });
    sendClientPayment(req.client, req.clientOwner, req.clientRequestId, requestTokens);
  }

  /**
   * A connection's payment messages carry the signed payment only when it differs from the last
   * one sent on it (the proxy signs at most every 200 ms; the counters still come every time):
   * the party already holds it, and every answer would otherwise carry the same bytes twice.
   */
  const signedSent = new WeakMap<Connection, Buffer>();
  function newSigned(conn: Connection, signed: Buffer | null): Buffer | null {
    if (!signed) return null;
    const last = signedSent.get(conn);
    if (last && (last === signed || last.equals(signed))) return null;
    signedSent.set(conn, signed);
    return signed;
  }

  function sendWorkerPayment(worker: WorkerEntry, requestId: Buffer, clientOwner: string, requestTokens: bigint): void {
    const w = settlement.workerPayment(worker.owner);
    worker.connection.send({
      _: 'proxy.workerRequestPayment', request_id: requestId, signed_payment: signedPaymentTl(newSigned(worker.connection, w.signedPayment)),
      db_tokens: w.tokensCommittedToDb, max_tokens: w.maxTokens, request_tokens: requestTokens, request_client_owner: clientOwner,
    });
  }

  function sendClientPayment(conn: Connection, clientOwner: string, requestId: Buffer, requestTokens: bigint): void {
    const c = settlement.clientPayment(clientOwner);
    conn.send({
      _: 'proxy.clientRequestPayment', request_id: requestId, signed_payment: signedPaymentTl(newSigned(conn, c.signedPayment)),
      db_tokens: c.tokensCommittedToDb, max_tokens: c.maxTokens, request_tokens: requestTokens,
    });
  }

  // Batched signatures (payments/proxy-settlement.ts SigningPolicy): a counter signed after its
  // answers ended goes to the party on the connection of its last answer (request_tokens 0).
  const lastClientPayment = new Map<string, { conn: Connection; requestId: Buffer }>();
  const lastWorkerPayment = new Map<string, { worker: WorkerEntry; requestId: Buffer; clientOwner: string }>();
  payments?.onSigned((party, owner) => {
    if (party === 'client') {
      const c = lastClientPayment.get(owner);
      if (c && !c.conn.closed) sendClientPayment(c.conn, owner, c.requestId, 0n);
    } else {
      const w = lastWorkerPayment.get(owner);
      if (w && !w.worker.connection.closed) sendWorkerPayment(w.worker, w.requestId, w.clientOwner, 0n);
    }
  });

  /** Why a worker's final token report cannot be charged at all, or null: its total must be the sum of its kinds. */
  function malformedUsage(t: TokenCounts, total: bigint): string | null {
    return total !== BigInt(adjustedTotal(t)) ? `total_tokens_used ${total} is not the sum of its kinds (${adjustedTotal(t)})` : null;
  }

  /**
   * The most a settling proxy charges for this answer: the worst case admission reserved for the
   * request (prompt bytes + max_tokens at this worker's coefficient); null when unbounded.
   */
  function worstCaseTokens(req: ProxyRequest, worker: WorkerEntry): number | null {
    if (!payments || req.maxTokens <= 0) return null;
    try {
      return Number(worstCaseUnits(req.query.length, req.maxTokens, payments.pricing, Math.max(1, worker.coefficient)) / UNITS_PER_TOKEN);
    } catch {
      return null;
    }
  }

  /**
   * Commits an answer's usage to the ledger (settling proxies; grouped, see GroupCommitPolicy);
   * `committed` runs once it is durable (at once without settlement). A ledger failure is logged,
   * never thrown at the peer.
   */
  function recordAnswer(req: ProxyRequest, worker: WorkerEntry, tokens: ReturnType<typeof tokenCountsOf>, outcome: 'completed' | 'cancelled' | 'failed', committed?: () => void): void {
    if (!payments) return committed?.();
    try {
      payments.answerEnded({ requestId: req.workerRequestId.toString('hex'), clientOwner: req.clientOwner, workerOwner: worker.owner, tokens, coefficient: worker.coefficient, outcome }, committed);
    } catch (err) {
      log.error({ request: req.workerRequestId.toString('hex').slice(0, 16), err: (err as Error).message }, 'could not record an answer in the ledger');
    }
  }

  /** Sends the query to the best untried worker, or fails it. */
  function dispatch(req: ProxyRequest): void {
    const worker = pool.pick(req.model, req.maxCoefficient, req.tried);
    if (!worker) {
      const reason = req.tried.size > 0
        ? `all ${req.tried.size} worker(s) tried for model "${req.model}" failed before answering`
        : pool.hasModel(req.model)
          ? `no worker for model "${req.model}" has free capacity at coefficient ≤ ${req.maxCoefficient}`
          : `no worker serves model "${req.model}"`;
      return failToClient(req, ErrorCode.noWorker, reason);
    }
    if (req.worker) req.worker.active--;
    byWorkerRequest.delete(req.workerRequestId.toString('hex'));
    req.worker = worker;
    req.tried.add(worker.id);
    req.workerRequestId = newRequestId();
    byWorkerRequest.set(req.workerRequestId.toString('hex'), req);
    worker.active++;
    worker.connection.send({
      _: 'proxy.runQueryEx', query: req.query, signed_payment: signedPaymentTl(settlement.workerPayment(worker.owner).signedPayment),
      coefficient: BigInt(worker.coefficient), timeout: req.timeoutSeconds * 0.95, request_id: req.workerRequestId, flags: 1, enable_debug: false,
    });
  }

  /** A worker failed this query: retry elsewhere if the client has seen nothing yet. */
  function workerFailed(req: ProxyRequest, code: number, message: string): void {
    if (req.worker) pool.recordFailure(req.worker);
    const retryable = !req.firstPartSent && code !== ErrorCode.badRequest && code !== ErrorCode.cancelled && req.tried.size < maxAttempts;
    if (retryable) {
      statsFor(req.model).retries++;
      log.warn({ model: req.model, worker: req.worker?.id, reason: message }, 'worker failed before first token; retrying on another worker');
      return dispatch(req);
    }
    failToClient(req, code === ErrorCode.cancelled ? code : ErrorCode.workerFailed, `worker failed: ${message}`);
  }

  function onWorkerPacket(worker: WorkerEntry, p: TlObject): void {
    if (p._ === 'cocoonx.workerLoad') return onWorkerLoad(worker, p);
    if (p._ === 'worker.enabledDisabled') return void (worker.disabled = (p.disabled as number) !== 0);
    if (p._ === 'worker.newCoefficient') {
      if ((p.new_coefficient as number) < 0) throw new WireError(ErrorCode.protoviolation, 'bad coefficient value');
      return void (worker.coefficient = p.new_coefficient as number);
    }
    if (!(p.request_id instanceof Buffer)) throw new CocoonError('bad_packet', `${p._} is not a query answer`);
    const req = byWorkerRequest.get((p.request_id as Buffer).toString('hex'));
    if (!req || req.worker !== worker) return; // late answer for a cancelled or retried query
    switch (p._) {
      case 'proxy.queryAnswerEx':
      case 'proxy.queryAnswerPartEx': {
        // The first answer (http.response) must come before any body part, as the reference checks.
        if ((p._ === 'proxy.queryAnswerEx') === req.firstPartSent) return workerFailed(req, ErrorCode.protoviolation, 'out of order answer parts');
        req.firstPartSent = true;
        const done = ((p.flags as number) & 1) !== 0;
        const tokens = (p.final_info as TlObject | undefined)?.tokens_used as TlObject | undefined;
        if (done && !tokens) return workerFailed(req, ErrorCode.workerFailed, 'worker sent no token usage');
        const kind = p._ === 'proxy.queryAnswerEx' ? 'client.queryAnswerEx' : 'client.queryAnswerPartEx';
        if (!done) {
          if (mentionsUsage(p.answer as Buffer)) req.usagePart = p.answer as Buffer;
          return req.client.send({ _: kind, request_id: req.clientRequestId, answer: p.answer, flags: 0 });
        }
        finish(req);
        pool.recordSuccess(worker, Date.now() - req.startedAt);
        const s = statsFor(req.model);
        s.completed++;
        let t = tokenCountsOf(tokens!);
        let finalTokens = tokens!;
        const refused = malformedUsage(t, tokens!.total_tokens_used as bigint);
        // A report above the request's reserved worst case is charged (and paid) the worst case
        // (payments/adjusted-tokens.ts capAdjusted), and the client's final info says so.
        const worst = refused ? null : worstCaseTokens(req, worker);
        if (worst !== null && adjustedTotal(t) > worst) {
          log.warn({ request: req.workerRequestId.toString('hex').slice(0, 16), worker: worker.owner, reported: adjustedTotal(t), worst }, 'worker reported more adjusted tokens than the worst case of this request; charging the worst case');
          t = capAdjusted(t, worst);
          finalTokens = tokensUsed(t);
        }
        s.tokens += adjustedTotal(t);
        req.client.send({ _: kind, request_id: req.clientRequestId, answer: p.answer, flags: 1, final_info: { _: 'client.queryFinalInfo', flags: 0, tokens_used: finalTokens } });
        // The worker reports adjusted tokens (as the reference worker): recorded as reported (up
        // to the worst case), unless malformed; the ledger commits after the client has its final part (so a
        // charge never covers an answer the client has not seen), then both sides get signed counters.
        if (refused) {
          log.error({ request: req.workerRequestId.toString('hex').slice(0, 16), worker: worker.owner, tokens: t }, `worker's token report refused, nothing charged or paid: ${refused}`);
          return;
        }
        recordAnswer(req, worker, t, 'completed', () => sendPayments(req, worker, BigInt(adjustedTotal(t))));
        return;
      }
      case 'proxy.queryAnswerErrorEx': {
        // A worker that fails after producing tokens reports them; the charge is what reached the
        // client (workerFailed → endEarly), which the worker's report can only confirm.
        const used = (p.final_info as TlObject | undefined)?.tokens_used as TlObject | undefined;
        const reported = used ? tokenCountsOf(used) : ZERO_TOKENS;
        const relayed = req.usagePart ? lastUsageIn(req.usagePart) : null;
        if (relayed && reported.completion + reported.reasoning > relayed.completion + relayed.reasoning) {
          log.debug?.({ request: req.workerRequestId.toString('hex').slice(0, 16), reported, relayed }, 'worker reports more tokens than reached the client; charging what reached it');
        }
        return workerFailed(req, p.error_code as number, p.error as string);
      }
    }
  }

  /**
   * Stops a query on its worker. Only our workers know cocoonx.cancelQuery (they announce it
   * with cocoonx.workerLoad); a reference worker would drop it, so it is not sent there.
   */
  function cancelOnWorker(req: ProxyRequest): void {
    if (req.worker?.extensions) req.worker.connection.send({ _: 'cocoonx.cancelQuery', request_id: req.workerRequestId });
  }

  /** The worker's own view of its capacity: adopt its limit (it may have shrunk, e.g. on memory pressure). */
  function onWorkerLoad(worker: WorkerEntry, p: TlObject): void {
    const max = p.max_active_requests as number;
    const active = p.active_requests as number;
    if (max < 1 || max > 10_000 || active < 0 || active > max) {
      throw new CocoonError('bad_packet', `worker load out of range (active ${active}, max ${max})`);
    }
    worker.maxActive = max;
    worker.reportedActive = active;
    worker.extensions = true;
  }

  function onClientPacket(client: Connection, p: TlObject): void {
    const requests = byClientRequest.get(client)!;
    if (p._ === 'cocoonx.cancelQuery') {
      const req = requests.get((p.request_id as Buffer).toString('hex'));
      if (!req) return;
      cancelOnWorker(req);
      // The stopped answer ends with its usage and signed charge: the client shows what it cost.
      failToClient(req, ErrorCode.cancelled, 'query cancelled by the client', 'cancelled');
      return;
    }
    if (p._ !== 'client.runQueryEx') return;
    const hs = handshakes.get(client)!;
    const key = (p.request_id as Buffer).toString('hex');
    if (requests.has(key)) {
      client.send({ _: 'client.queryAnswerErrorEx', request_id: p.request_id, error_code: ErrorCode.badRequest, error: 'duplicate request id', flags: 0 });
      return;
    }
    if (configVersionTooLow(opts.rootRules, p.min_config_version as number)) {
      client.send({ _: 'client.queryAnswerErrorEx', request_id: p.request_id, error_code: TonErrorCode.error, error: CONFIG_TOO_OLD, flags: 0 });
      return;
    }
    const timeoutSeconds = Math.min(Math.max(p.timeout as number, 1), 3600);
    if (!isHttpRequest(p.query as Buffer)) {
      client.send({ _: 'client.queryAnswerErrorEx', request_id: p.request_id, error_code: ErrorCode.badRequest, error: 'query is not a serialized http.request', flags: 0 });
      return;
    }
    const req: ProxyRequest = {
      clientRequestId: p.request_id as Buffer, workerRequestId: Buffer.alloc(0), client, clientOwner: hs.owner, model: p.model_name as string,
      query: p.query as Buffer, maxCoefficient: p.max_coefficient as number, maxTokens: p.max_tokens as number, timeoutSeconds, worker: null, tried: new Set(),
      release: () => undefined,
      firstPartSent: false, usagePart: null, startedAt: Date.now(),
      timer: setTimeout(() => {
        cancelOnWorker(req);
        failToClient(req, ErrorCode.timeout, `query timed out after ${timeoutSeconds} s`);
      }, timeoutSeconds * 1000),
    };
    requests.set(key, req);
    statsFor(req.model).requests++;
    if (!payments) return dispatch(req);
    // Admission: the client contract must cover the worst case before any worker sees the query.
    const coefficient = pool.pick(req.model, req.maxCoefficient, req.tried)?.coefficient ?? req.maxCoefficient;
    payments.admit({ clientOwner: req.clientOwner, promptTokens: req.query.length, maxTokens: Math.max(0, req.maxTokens), coefficient, authNonce: hs.nonce }).then((a) => {
      if (requests.get(key) !== req) {
        if (a.ok) a.release();
        return;
      }
      if (!a.ok) {
        finish(req);
        statsFor(req.model).failed++;
        log.info({ client: req.clientOwner, code: a.body.error.code }, 'query refused: the client contract cannot pay its worst case');
        client.send({ _: 'client.queryAnswerErrorEx', request_id: req.clientRequestId, error_code: 402, error: JSON.stringify(a.body), flags: 0 });
        return;
      }
      req.release = a.release;
      dispatch(req);
    }, (err: unknown) => failToClient(req, ErrorCode.noWorker, `cannot check the client's balance now: ${(err as Error).message}`));
  }

  function workerTypes(): TlObject {
    const byModel = new Map<string, WorkerEntry[]>();
    for (const w of pool.all()) byModel.set(w.model, [...(byModel.get(w.model) ?? []), w]);
    return {
      _: 'client.workerTypesV2',
      types: [...byModel].map(([name, ws]) => ({
        _: 'client.workerTypeV2', name,
        workers: ws.map((w) => ({ _: 'client.workerInstanceV2', flags: 0, coefficient: w.coefficient, active_requests: w.active, max_active_requests: w.maxActive })),
      })),
    };
  }

  function onConnection(socket: tls.TLSSocket, peer: AttestationReport, role: 'worker' | 'client'): void {
    socket.setNoDelay(true);
    let worker: WorkerEntry | null = null;
    const workerHs = role === 'worker' ? new WorkerHandshake(settlement, publicKey, opts.rootRules) : null;
    const clientHs = role === 'client' ? new ClientHandshake(settlement, publicKey, opts.rootRules) : null;
    const conn: Connection = new Connection(socket, {
      role: 'acceptor',
      log,
      accept: role === 'worker' ? PROXY_ACCEPTS_FROM_WORKER : PROXY_ACCEPTS_FROM_CLIENT,
      onQuery: async (q) => {
        if (workerHs) {
          const answer = await workerHs.answer(q);
          if (!answer) throw new WireError(ErrorCode.protoviolation, `unexpected query ${q._}`);
          if (workerHs.state === 'ok' && !worker && !conn.closed) {
            const p = workerHs.params!;
            worker = pool.add({ connection: conn, owner: p.owner, model: modelBaseName(p.model), coefficient: p.coefficient, maxActive: p.maxActive, disabled: workerHs.disabled, extensions: false });
            log.info({ worker: worker.id, model: p.model, imageHash: peer.imageHash, protoVersion: workerHs.protoVersion }, 'worker registered');
          }
          return answer;
        }
        const hs = clientHs!;
        let answer: TlObject | null;
        try {
          answer = await hs.answer(q);
        } finally {
          // As the reference: a failed authorization is answered, then the connection closes
          // (shortly, so the answer leaves first).
          if (hs.state === 'failed') {
            log.warn({ reason: 'client authorization failed' }, 'closing connection');
            setTimeout(() => conn.close('client authorization failed'), 200).unref();
          }
        }
        if (answer) {
          if (hs.state === 'ok' && !byClientRequest.has(conn)) {
            byClientRequest.set(conn, new Map());
            handshakes.set(conn, hs);
          }
          return answer;
        }
        if (q._ === 'client.getWorkerTypesV2') {
          hs.requireOk();
          return workerTypes();
        }
        throw new WireError(ErrorCode.protoviolation, `unexpected query ${q._}`);
      },
      onPacket: (p) => {
        if (worker) return onWorkerPacket(worker, p);
        if (byClientRequest.has(conn)) return onClientPacket(conn, p);
        // The reference drops such messages with a log line; we close, as for any protocol slip.
        const reason = `${p._} before the handshake completed`;
        log.warn({ reason }, 'closing connection');
        conn.close(reason);
      },
    });
    connections.add(conn);
    conn.once('close', (reason) => {
      connections.delete(conn);
      if (worker) {
        pool.remove(worker);
        log.warn({ worker: worker.id, reason }, 'worker disconnected');
        for (const req of [...byWorkerRequest.values()]) if (req.worker === worker) workerFailed(req, ErrorCode.workerFailed, `worker disconnected (${reason})`);
      }
      handshakes.delete(conn);
      const requests = byClientRequest.get(conn);
      if (requests) {
        // The client went away: stop its queries on the workers.
        // What already reached it is charged (and paid to the worker); nothing can be sent back.
        for (const req of [...requests.values()]) {
          cancelOnWorker(req);
          endEarly(req, 'cancelled', (worker) => {
            if (!worker.connection.closed) sendWorkerPayment(worker, req.workerRequestId, req.clientOwner, 0n);
          });
        }
        byClientRequest.delete(conn);
      }
    });
  }

  // Workers and clients use separate ports so each can be held to its own policy at the handshake.
  const listen = async (server: Server, port: number) => {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, opts.host ?? '127.0.0.1', resolve);
    });
    return (server.address() as AddressInfo).port;
  };
  const pow = opts.powDifficulty === undefined ? {} : { powDifficulty: opts.powDifficulty };
  const clientServer = createRaTlsServer({ identity: opts.identity, verifier: opts.clientVerifier, log, ...pow, onSecureConnection: (s, peer) => onConnection(s, peer, 'client') });
  const workerServer = createRaTlsServer({ identity: opts.identity, verifier: opts.workerVerifier, log, ...pow, onSecureConnection: (s, peer) => onConnection(s, peer, 'worker') });
  const clientPort = await listen(clientServer, opts.port ?? 0);
  const workerPort = await listen(workerServer, opts.workerPort ?? 0);

  const stats = (): ProxyStats => ({
    clientPort, workerPort,
    workers: pool.all().map((w) => ({
      id: w.id, model: w.model, coefficient: w.coefficient, active: w.active, maxActive: w.maxActive,
      successes: w.successes, failures: w.failures, latencyEwmaMs: Math.round(w.latencyEwmaMs), connectedAt: w.connectedAt,
    })),
    models: Object.fromEntries(modelStats),
    clients: byClientRequest.size,
  });

  const statsServer = opts.statsPort === null ? null : await serveJsonStats(opts.statsPort ?? 0, stats);
  const statsUrl = statsServer?.url ?? null;
  log.info({ clientPort, workerPort }, 'proxy listening');

  const handle: ProxyHandle = {
    endpoint: { host: opts.host ?? '127.0.0.1', port: clientPort },
    statsUrl,
    stats,
    workerEndpoint: { host: opts.host ?? '127.0.0.1', port: workerPort },
    async stop() {
      // Batched signatures not sent yet go to their parties before the connections close
      // (closing discards unsent frames): each client and worker leaves with its final counter.
      if (payments && payments.signPending() > 0) await new Promise((r) => setTimeout(r, 100));
      for (const c of connections) c.close('proxy stopping');
      await Promise.all([clientServer, workerServer].map((s) => new Promise((r) => s.close(r))));
      await statsServer?.close();
    },
  };
  return handle;
}

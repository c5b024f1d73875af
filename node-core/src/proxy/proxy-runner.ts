import type { AddressInfo, Server } from 'node:net';
import type tls from 'node:tls';
import { createRaTlsServer, type AttestationReport, type PeerVerifier, type RaTlsIdentity } from '../attestation/index.ts';
import { CocoonError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { Connection } from '../protocol/connection.ts';
import { serveJsonStats } from '../stats-server.ts';
import { ErrorCode, TonErrorCode, modelBaseName, PROXY_ACCEPTS_FROM_CLIENT, PROXY_ACCEPTS_FROM_WORKER, WireError } from '../protocol/messages.ts';
import { CONFIG_TOO_OLD, configVersionTooLow, type RootRules } from '../protocol/root-config-file.ts';
import { noSettlementProxy, type ProxySettlement } from '../protocol/settlement.ts';
import { isHttpRequest } from '../protocol/http-payload.ts';
import type { TlObject } from '../protocol/tl-codec.ts';
import { isProxyPayments } from '../payments/proxy-settlement.ts';
import { DEFAULT_PRICING, type TokenCounts } from '../payments/pricing.ts';
import { ClientHandshake, WorkerHandshake } from './peer-handshake.ts';
import type { WorkerEntry } from './worker-pool.ts';
import { Router } from './router.ts';
import { AnswerPayments } from './answer-payments.ts';
import { InFlightRequests, RequestRelay, type ModelCounters, type RelayContext } from './request-relay.ts';

/**
 * The proxy, composed: it listens for workers and clients (each on its own RA-TLS port), runs
 * their handshakes (peer-handshake.ts), registers workers with the router (router.ts), and hands
 * each client query to its own request relay (request-relay.ts), which forwards it, relays the
 * answer, retries, cancels and ends it; answer-payments.ts charges and pays what it produced.
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
  const router = new Router(opts.maxAttempts ?? 3);
  const pool = router.pool;
  const inFlight = new InFlightRequests();
  const modelStats = new Map<string, ModelCounters>();
  const connections = new Set<Connection>();
  const settlement = opts.settlement ?? noSettlementProxy({ ...(opts.ownerAddress && { ownerAddress: opts.ownerAddress }), ...(opts.contractAddress && { contractAddress: opts.contractAddress }) });
  const publicKey = Buffer.from(opts.identity.publicKey);
  const handshakes = new Map<Connection, ClientHandshake>();
  const payments = isProxyPayments(settlement) ? settlement : null;
  const answers = new AnswerPayments(settlement, payments, payments?.pricing.multipliers ?? opts.multipliers ?? DEFAULT_PRICING.multipliers, log);

  const statsFor = (model: string): ModelCounters => {
    let s = modelStats.get(model);
    if (!s) modelStats.set(model, (s = { requests: 0, completed: 0, failed: 0, retries: 0, tokens: 0 }));
    return s;
  };
  const relays: RelayContext = { router, answers, inFlight, statsFor, log };

  function onWorkerPacket(worker: WorkerEntry, p: TlObject): void {
    if (p._ === 'cocoonx.workerLoad') return onWorkerLoad(worker, p);
    if (p._ === 'worker.enabledDisabled') return void (worker.disabled = (p.disabled as number) !== 0);
    if (p._ === 'worker.newCoefficient') {
      if ((p.new_coefficient as number) < 0) throw new WireError(ErrorCode.protoviolation, 'bad coefficient value');
      return void (worker.coefficient = p.new_coefficient as number);
    }
    if (!(p.request_id instanceof Buffer)) throw new CocoonError('bad_packet', `${p._} is not a query answer`);
    inFlight.deliver(worker, p as TlObject & { request_id: Buffer });
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
    if (p._ === 'cocoonx.cancelQuery') {
      inFlight.forClient(client, (p.request_id as Buffer).toString('hex'))?.cancelByClient();
      return;
    }
    if (p._ !== 'client.runQueryEx') return;
    const hs = handshakes.get(client)!;
    if (inFlight.forClient(client, (p.request_id as Buffer).toString('hex'))) {
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
    new RequestRelay(relays, client, hs.owner, {
      requestId: p.request_id as Buffer, model: p.model_name as string, query: p.query as Buffer,
      maxCoefficient: p.max_coefficient as number, maxTokens: p.max_tokens as number, timeoutSeconds,
    }).start(hs.nonce);
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
          if (hs.state === 'ok' && !inFlight.isClient(conn)) {
            inFlight.openClient(conn);
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
        if (inFlight.isClient(conn)) return onClientPacket(conn, p);
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
        for (const req of inFlight.onWorker(worker)) req.workerFailed(ErrorCode.workerFailed, `worker disconnected (${reason})`);
      }
      handshakes.delete(conn);
      // The client went away: stop its queries on the workers.
      inFlight.closeClient(conn);
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
    clients: inFlight.clientCount,
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

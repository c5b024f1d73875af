import type { AddressInfo, Server } from 'node:net';
import type tls from 'node:tls';
import { createRaTlsServer, type AttestationReport, type PeerVerifier, type RaTlsIdentity } from '../attestation/index.ts';
import { CocoonError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { Connection } from '../protocol/connection.ts';
import { serveJsonStats } from '../stats-server.ts';
import { ErrorCode, PROXY_ACCEPTS_FROM_CLIENT, PROXY_ACCEPTS_FROM_WORKER, newRequestId, tokenCountsOf } from '../protocol/messages.ts';
import type { TlObject } from '../protocol/tl-codec.ts';
import { WorkerPool, type WorkerEntry } from './worker-pool.ts';

/**
 * The proxy: accepts RA-TLS connections from workers and clients on one port (the first query
 * tells which role a peer has), routes each client query to a worker, relays the streamed answer,
 * retries on another worker when one fails before its first token, and propagates cancellation.
 */
export interface ProxyOptions {
  host?: string;
  port?: number;
  identity: RaTlsIdentity;
  /** Verifies workers (their image must be allowed for workers). */
  workerVerifier: PeerVerifier;
  /** Verifies clients. */
  clientVerifier: PeerVerifier;
  ownerAddress?: string;
  contractAddress?: string;
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
  model: string;
  query: Buffer;
  maxCoefficient: number;
  timeoutSeconds: number;
  worker: WorkerEntry | null;
  tried: Set<number>;
  firstPartSent: boolean;
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
  const proxyParams: TlObject = {
    _: 'proxy.params', flags: 2, proxy_public_key: Buffer.from(opts.identity.publicKey),
    proxy_owner_address: opts.ownerAddress ?? '', proxy_sc_address: opts.contractAddress ?? '', proto_version: 1,
  };

  const statsFor = (model: string) => {
    let s = modelStats.get(model);
    if (!s) modelStats.set(model, (s = { requests: 0, completed: 0, failed: 0, retries: 0, tokens: 0 }));
    return s;
  };

  function finish(req: ProxyRequest): void {
    clearTimeout(req.timer);
    byWorkerRequest.delete(req.workerRequestId.toString('hex'));
    byClientRequest.get(req.client)?.delete(req.clientRequestId.toString('hex'));
    if (req.worker) req.worker.active--;
  }

  function failToClient(req: ProxyRequest, code: number, message: string): void {
    finish(req);
    statsFor(req.model).failed++;
    req.client.send({ _: 'client.queryAnswerErrorEx', request_id: req.clientRequestId, error_code: code, error: message, flags: 0 });
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
      _: 'proxy.runQueryEx', query: req.query, signed_payment: { _: 'proxy.signedPaymentEmpty' },
      coefficient: BigInt(worker.coefficient), timeout: req.timeoutSeconds, request_id: req.workerRequestId, flags: 0,
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
    if (!(p.request_id instanceof Buffer)) throw new CocoonError('bad_packet', `${p._} is not a query answer`);
    const req = byWorkerRequest.get((p.request_id as Buffer).toString('hex'));
    if (!req || req.worker !== worker) return; // late answer for a cancelled or retried query
    switch (p._) {
      case 'proxy.queryAnswerPartEx':
        req.firstPartSent = true;
        req.client.send({ _: 'client.queryAnswerPartEx', request_id: req.clientRequestId, answer: p.answer, flags: 0 });
        return;
      case 'proxy.queryAnswerEx': {
        const tokens = (p.final_info as TlObject | undefined)?.tokens_used as TlObject | undefined;
        if (!tokens) return workerFailed(req, ErrorCode.workerFailed, 'worker sent no token usage');
        finish(req);
        pool.recordSuccess(worker, Date.now() - req.startedAt);
        const s = statsFor(req.model);
        s.completed++;
        const t = tokenCountsOf(tokens);
        s.tokens += t.prompt + t.cached + t.completion + t.reasoning;
        req.client.send({
          _: 'client.queryAnswerEx', request_id: req.clientRequestId, answer: p.answer, flags: 1,
          final_info: { _: 'client.queryFinalInfo', flags: 0, tokens_used: tokens },
        });
        return;
      }
      case 'proxy.queryAnswerErrorEx':
        return workerFailed(req, p.error_code as number, p.error as string);
    }
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
  }

  function onClientPacket(client: Connection, p: TlObject): void {
    const requests = byClientRequest.get(client)!;
    if (p._ === 'cocoonx.cancelQuery') {
      const req = requests.get((p.request_id as Buffer).toString('hex'));
      if (!req) return;
      req.worker?.connection.send({ _: 'cocoonx.cancelQuery', request_id: req.workerRequestId });
      finish(req);
      return;
    }
    if (p._ !== 'client.runQueryEx') return;
    const key = (p.request_id as Buffer).toString('hex');
    if (requests.has(key)) {
      client.send({ _: 'client.queryAnswerErrorEx', request_id: p.request_id, error_code: ErrorCode.badRequest, error: 'duplicate request id', flags: 0 });
      return;
    }
    const timeoutSeconds = Math.min(Math.max(p.timeout as number, 1), 3600);
    const req: ProxyRequest = {
      clientRequestId: p.request_id as Buffer, workerRequestId: Buffer.alloc(0), client, model: p.model_name as string,
      query: p.query as Buffer, maxCoefficient: p.max_coefficient as number, timeoutSeconds, worker: null, tried: new Set(),
      firstPartSent: false, startedAt: Date.now(),
      timer: setTimeout(() => {
        req.worker?.connection.send({ _: 'cocoonx.cancelQuery', request_id: req.workerRequestId });
        failToClient(req, ErrorCode.timeout, `query timed out after ${timeoutSeconds} s`);
      }, timeoutSeconds * 1000),
    };
    requests.set(key, req);
    statsFor(req.model).requests++;
    dispatch(req);
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
    const conn: Connection = new Connection(socket, {
      role: 'acceptor',
      log,
      accept: role === 'worker' ? PROXY_ACCEPTS_FROM_WORKER : PROXY_ACCEPTS_FROM_CLIENT,
      onQuery: async (q) => {
        if (q._ === 'worker.connectToProxy') {
          if (worker) throw new CocoonError('already_registered', 'worker already registered on this connection');
          const params = q.params as TlObject;
          const maxActive = (params.max_active_requests as number | undefined) ?? 16;
          if (!(params.model as string) || maxActive < 1 || maxActive > 10_000 || (params.coefficient as number) < 1) {
            throw new CocoonError('bad_params', 'worker params out of range (model, coefficient ≥ 1, 1 ≤ max_active_requests ≤ 10000)');
          }
          worker = pool.add({ connection: conn, model: params.model as string, coefficient: params.coefficient as number, maxActive });
          log.info({ worker: worker.id, model: worker.model, imageHash: peer.imageHash }, 'worker registered');
          return { _: 'worker.connectedToProxy', params: proxyParams, worker_sc_address: '' };
        }
        if (q._ === 'client.connectToProxy') {
          byClientRequest.set(conn, byClientRequest.get(conn) ?? new Map());
          return {
            _: 'client.connectedToProxy', params: proxyParams, client_sc_address: '',
            auth: { _: 'client.proxyConnectionAuthLong', nonce: 0n }, signed_payment: { _: 'proxy.signedPaymentEmpty' },
          };
        }
        if (q._ === 'client.getWorkerTypesV2') return workerTypes();
        throw new CocoonError('bad_query', `unexpected query ${q._}`);
      },
      onPacket: (p) => {
        if (worker) return onWorkerPacket(worker, p);
        if (byClientRequest.has(conn)) return onClientPacket(conn, p);
        conn.close(`${p._} before the connect handshake`);
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
      const requests = byClientRequest.get(conn);
      if (requests) {
        // The client went away: stop its queries on the workers.
        for (const req of [...requests.values()]) {
          req.worker?.connection.send({ _: 'cocoonx.cancelQuery', request_id: req.workerRequestId });
          finish(req);
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
  const workerPort = await listen(workerServer, 0);

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
      for (const c of connections) c.close('proxy stopping');
      await Promise.all([clientServer, workerServer].map((s) => new Promise((r) => s.close(r))));
      await statsServer?.close();
    },
  };
  return handle;
}

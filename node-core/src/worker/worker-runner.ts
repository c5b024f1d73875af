import type { PeerVerifier, RaTlsIdentity } from '../attestation/index.ts';
import type { Refusal } from '../attestation/index.ts';
import { AttestedLink, waitAnyConnected } from '../link/attested-link.ts';
import { CocoonError, errorMessage } from '../errors.ts';
import type { InferenceBackend } from '../inference/backend.ts';
import type { Logger } from '../log.ts';
import type { Connection } from '../protocol/connection.ts';
import { serveJsonStats } from '../stats-server.ts';
import { ErrorCode, MAX_PROTO_VERSION, MIN_PROTO_VERSION, WORKER_ACCEPTS_FROM_PROXY } from '../protocol/messages.ts';
import { isTonAddress, noSettlementWorker, signedPaymentOf, type WorkerSettlement } from '../protocol/settlement.ts';
import { AnswerWriter } from './answer-writer.ts';
import { parseEngineQuery, runOnEngine, type EngineQuery } from './engine-query.ts';
import type { TlObject } from '../protocol/tl-codec.ts';
import { DEFAULT_PRICING, tokenCountsFromUsage, type TokenCounts } from '../payments/pricing.ts';
import { adjustedCounts } from '../payments/adjusted-tokens.ts';

/**
 * The worker: dials each of its proxies over RA-TLS (reconnecting with backoff), advertises its
 * model, price coefficient and capacity, runs each query on its inference backend and streams
 * the engine's chunks back, ending with the token usage the engine reported.
 */

export interface ProxyAddress {
  host: string;
  port: number;
}

export interface WorkerOptions {
  proxies: ProxyAddress[];
  backend: InferenceBackend;
  model: string;
  /** Price coefficient in thousandths (1000 = the root contract's base price). */
  coefficient?: number;
  maxActiveRequests?: number;
  ownerAddress?: string;
  /** Earned-token records and payment checks (protocol/settlement.ts); default: no payments. */
  settlement?: WorkerSettlement;
  /**
   * The root's price multipliers, for the adjusted tokens this worker reports (payments/
   * adjusted-tokens.ts) when its settlement does not know them (no payments): the root config
   * file's, or DEFAULT_PRICING's on the local network (the default).
   */
  multipliers?: TokenCounts;
  identity: RaTlsIdentity;
  verifier: PeerVerifier;
  /** Port for `/jsonstats` on 127.0.0.1; null disables it. */
  statsPort?: number | null;
  log: Logger;
}

export interface WorkerStats {
  model: string;
  coefficient: number;
  maxActiveRequests: number;
  active: number;
  completed: number;
  failed: number;
  cancelled: number;
  /** Tokens generated (completion + reasoning) by completed queries: a dashboard's tokens/s. */
  tokens: number;
  /** `refusal`: why the proxy refused this worker's attestation, as the proxy said it. */
  proxies: Array<{ endpoint: string; connected: boolean; lastError?: string; refusal?: Refusal }>;
}

export interface WorkerHandle {
  stats(): WorkerStats;
  /** Resolves once any proxy link is up; rejects after `timeoutMs` naming each link's last error. */
  waitConnected(timeoutMs: number): Promise<void>;
  statsUrl: string | null;
  stop(): Promise<void>;
}

export async function startWorker(opts: WorkerOptions): Promise<WorkerHandle> {
  const coefficient = opts.coefficient ?? 1000;
  const maxActive = opts.maxActiveRequests ?? 32;
  const running = new Map<string, AbortController>();
  const counters = { completed: 0, failed: 0, cancelled: 0, tokens: 0 };
  let stopped = false;

  const settlement = opts.settlement ?? noSettlementWorker(opts.ownerAddress ? { ownerAddress: opts.ownerAddress } : {});
  const proxyContracts = new WeakMap<Connection, string>();
  const params: TlObject = {
    _: 'worker.params', flags: 1 | 2, worker_owner_address: settlement.ownerAddress, model: opts.model, coefficient,
    is_test: settlement.isTest, proxy_cnt: opts.proxies.length, max_active_requests: maxActive,
    min_proto_version: MIN_PROTO_VERSION, max_proto_version: MAX_PROTO_VERSION,
  };

  async function runQuery(conn: Connection, q: TlObject): Promise<void> {
    const requestId = q.request_id as Buffer;
    const key = requestId.toString('hex');
    const send = (m: TlObject) => conn.send(m);
    if (running.size >= maxActive) return new AnswerWriter(send, requestId, false, false).fail(ErrorCode.noWorker, `worker is at capacity (${maxActive} active requests)`);
    let query: EngineQuery;
    try {
      query = parseEngineQuery(q.query as Buffer);
    } catch (err) {
      return new AnswerWriter(send, requestId, false, false).fail(ErrorCode.badRequest, `query is not a valid request: ${errorMessage(err)}`);
    }
    // Reported in adjusted tokens, at the coefficient the proxy sent with the query (as the reference worker).
    const queryCoefficient = Number(q.coefficient ?? 1000);
    if (!Number.isSafeInteger(queryCoefficient) || queryCoefficient < 0 || queryCoefficient > 1_000_000_000) {
      return new AnswerWriter(send, requestId, false, false).fail(ErrorCode.badRequest, `query coefficient ${String(q.coefficient)} is out of range (0 .. 10^9 thousandths)`);
    }
    const multipliers = settlement.multipliers ?? opts.multipliers ?? DEFAULT_PRICING.multipliers;
    const writer = new AnswerWriter(send, requestId, query.stream, query.includeUsage, query.kind, (raw) => adjustedCounts(raw, queryCoefficient, multipliers));
    const ac = new AbortController();
    running.set(key, ac);
    // The proxy's bounds (1 s .. 1 h): a larger value overflowed setTimeout into an instant abort.
    const seconds = Number.isNaN(q.timeout) ? 3600 : Math.min(Math.max(q.timeout as number, 1), 3600);
    const timeout = setTimeout(() => ac.abort(), seconds * 1000);
    try {
      // An engine's 4xx is its verdict on the request, relayed as such: the worker did its job.
      const { outcome, counts } = await runOnEngine(opts.backend, query, writer, ac.signal);
      if (outcome === 'completed') {
        try {
          settlement.onServed?.(proxyContracts.get(conn) ?? '', key, counts, queryCoefficient);
        } catch (err) {
          opts.log.error({ err: errorMessage(err) }, 'could not record a served answer in the worker payment store');
        }
      }
      counters.completed++;
      counters.tokens += counts.completion + counts.reasoning;
    } catch (err) {
      // What the engine produced before the answer ended early is reported (and counted here):
      // the proxy charges the client and pays this worker for it.
      const produced = producedSoFar(writer);
      if (produced) {
        try {
          settlement.onServed?.(proxyContracts.get(conn) ?? '', key, produced, queryCoefficient);
        } catch (e) {
          opts.log.error({ err: errorMessage(e) }, 'could not record a partly served answer in the worker payment store');
        }
      }
      if (ac.signal.aborted && !stopped) {
        counters.cancelled++;
        writer.fail(ErrorCode.cancelled, 'query cancelled', produced ?? undefined);
      } else {
        counters.failed++;
        opts.log.warn({ request: key.slice(0, 16), err: errorMessage(err) }, 'query failed');
        writer.fail(ErrorCode.engine, errorMessage(err), produced ?? undefined);
      }
    } finally {
      clearTimeout(timeout);
      running.delete(key);
    }
  }

  /** The reference worker handshake; throws (closing the link) when the proxy is not acceptable. */
  async function handshake(conn: Connection): Promise<void> {
    const connected = await conn.query({ _: 'worker.connectToProxy', params });
    const proxyParams = connected.params as TlObject;
    if (((proxyParams.flags as number) & 3) === 0) throw new CocoonError('proxy_too_old', 'proxy is too old (no proxy params flags)');
    if (proxyParams.is_test !== settlement.isTest) throw new CocoonError('test_mode_mismatch', `test mode mismatch: proxy is_test=${String(proxyParams.is_test)}, this worker ${settlement.isTest}`);
    for (const a of [proxyParams.proxy_owner_address, proxyParams.proxy_sc_address, connected.worker_sc_address] as string[]) {
      if (!isTonAddress(a)) throw new CocoonError('bad_handshake', `proxy sent an address that does not parse: "${a}"`);
    }
    const proxyContract = proxyParams.proxy_sc_address as string;
    const mismatch = settlement.contractMismatch?.(proxyContract, connected.worker_sc_address as string);
    if (mismatch) throw new CocoonError('worker_contract_mismatch', mismatch);
    const refusal = settlement.refusal?.(proxyContract);
    if (refusal) throw new CocoonError('proxy_rolled_back', `taking no work from proxy ${proxyContract}: ${refusal}`, { hint: 'investigate the proxy; clear the flag in the worker payment store once resolved' });
    const earned = settlement.earned(proxyContract);
    const compared = await conn.query({
      _: 'worker.compareBalanceWithProxy', tokens_committed_to_blockchain: earned.committedToBlockchain,
      tokens_committed_to_db: earned.committedToDb, max_tokens: earned.maxKnown,
    });
    const payment = { signedPayment: signedPaymentOf(compared.signed_payment as TlObject), tokensCommittedToDb: compared.tokens_committed_to_db as bigint, maxTokens: compared.max_tokens as bigint };
    if (!settlement.onPayment(proxyContract, payment)) throw new CocoonError('proxy_rolled_back', `refusing proxy ${proxyContract}: ${settlement.refusal?.(proxyContract) ?? 'it reports less than this worker knows it earned (a rollback)'}`);
    if ((compared.error_code as number) !== 0) {
      const ext = await conn.query({ _: 'worker.extendedCompareBalanceWithProxy', tokens_committed_to_db: earned.committedToDb, other: Buffer.alloc(0) });
      if ((ext.error_code as number) !== 0) throw new CocoonError('payment_mismatch', `cannot reconcile payment information: received error ${ext.error_code as number}`);
    }
    await conn.query({ _: 'worker.proxyHandshakeComplete', is_disabled: false });
    proxyContracts.set(conn, proxyContract);
    // Our extension: tells our proxy this worker takes cocoonx.cancelQuery (a reference proxy drops it).
    conn.send({ _: 'cocoonx.workerLoad', active_requests: running.size, max_active_requests: maxActive });
  }

  function onProxyPacket(conn: Connection, p: TlObject): void {
    if (p._ === 'proxy.runQueryEx') void runQuery(conn, p);
    else if (p._ === 'proxy.workerRequestPayment') {
      const payment = { signedPayment: signedPaymentOf(p.signed_payment as TlObject), tokensCommittedToDb: p.db_tokens as bigint, maxTokens: p.max_tokens as bigint };
      // As the reference: a payment older than what we know means a rollback; reconnect to compare again.
      if (!settlement.onPayment(proxyContracts.get(conn) ?? '', payment)) conn.close('proxy payment went backwards');
    }
    else if (p._ === 'cocoonx.cancelQuery') running.get((p.request_id as Buffer).toString('hex'))?.abort();
  }

  /** One attested link per proxy (link/attested-link.ts: dial, reconnect with jittered backoff), with what stats show of it. */
  const links = opts.proxies.map((address) => {
    const entry = { endpoint: `${address.host}:${address.port}`, lastError: undefined as string | undefined, refusal: undefined as Refusal | undefined, link: null as unknown as AttestedLink };
    entry.link = new AttestedLink({
      host: address.host, port: address.port, identity: opts.identity, verifier: opts.verifier, log: opts.log, accept: WORKER_ACCEPTS_FROM_PROXY,
      onPacket: (p, conn) => onProxyPacket(conn, p),
      handshake,
      onConnected: () => {
        entry.lastError = undefined;
        entry.refusal = undefined;
        opts.log.info({ proxy: entry.endpoint, model: opts.model }, 'connected to proxy');
      },
      onDisconnected: (reason) => {
        if (!stopped) opts.log.warn({ proxy: entry.endpoint, reason }, 'proxy connection lost');
      },
      onFailed: ({ error, refusal, retryMs }) => {
        // The proxy may refuse during the TLS handshake (carried by the error) or just after it (on the socket).
        entry.lastError = refusal ? `proxy refused this worker (${refusal.code}): ${refusal.reason}` : errorMessage(error);
        entry.refusal = refusal;
        opts.log.warn({ proxy: entry.endpoint, err: entry.lastError, ...(refusal && { refusal: refusal.code }), retryMs }, 'cannot connect to proxy');
      },
    });
    return entry;
  });
  for (const { link } of links) link.start();

  const stats = (): WorkerStats => ({
    model: opts.model, coefficient, maxActiveRequests: maxActive, active: running.size, ...counters,
    proxies: links.map((l) => ({ endpoint: l.endpoint, connected: l.link.connection !== null, ...(l.lastError && { lastError: l.lastError }), ...(l.refusal && { refusal: l.refusal }) })),
  });

  const statsServer = opts.statsPort === null ? null : await serveJsonStats(opts.statsPort ?? 0, stats);
  const statsUrl = statsServer?.url ?? null;

  return {
    stats,
    statsUrl,
    async waitConnected(timeoutMs) {
      await waitAnyConnected(links.map((l) => l.link), timeoutMs);
    },
    async stop() {
      stopped = true;
      for (const ac of running.values()) ac.abort();
      for (const l of links) l.link.stop('worker stopping');
      await statsServer?.close();
    },
  };
}

/** The tokens an answer that ended early had produced, by the engine's running usage; null when none left. */
function producedSoFar(writer: AnswerWriter): TokenCounts | null {
  if (!writer.hasStarted) return null;
  let usage;
  try {
    usage = writer.usageSoFar();
  } catch {
    return null;
  }
  if (!usage) return null;
  const t = tokenCountsFromUsage(usage);
  return t.prompt + t.cached + t.completion + t.reasoning > 0 ? t : null;
}

/** Resolves when at least one proxy link is up (used by `cocoon up` to report readiness). */
export async function waitForWorker(handle: WorkerHandle, timeoutMs = 15_000): Promise<void> {
  try {
    await handle.waitConnected(timeoutMs);
  } catch {
    const errors = handle.stats().proxies.map((p) => `${p.endpoint}: ${p.lastError ?? 'not connected'}`).join('; ');
    throw new CocoonError('worker_not_connected', `worker did not connect to any proxy within ${timeoutMs} ms (${errors})`);
  }
}

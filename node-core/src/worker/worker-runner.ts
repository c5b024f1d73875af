import type { PeerVerifier, RaTlsIdentity } from '../attestation/index.ts';
import { connectRaTls } from '../attestation/index.ts';
import { CocoonError, errorMessage } from '../errors.ts';
import type { InferenceBackend } from '../inference/backend.ts';
import { chatCompletionRequestSchema, type ChatCompletionChunk, type Usage } from '../inference/openai-types.ts';
import type { Logger } from '../log.ts';
import { tokenCountsFromUsage } from '../payments/pricing.ts';
import { Connection } from '../protocol/connection.ts';
import { serveJsonStats } from '../stats-server.ts';
import { ErrorCode, WORKER_ACCEPTS_FROM_PROXY, tokensUsed } from '../protocol/messages.ts';
import type { TlObject } from '../protocol/tl-codec.ts';

/**
 * The worker: dials each of its proxies over RA-TLS (reconnecting with backoff), advertises its
 * model, price coefficient and capacity, runs each query on its inference backend and streams
 * the engine's chunks back, ending with the token usage the engine reported.
 */
const USAGE_MARK = /"usage":\s*\{/;

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
  proxies: Array<{ endpoint: string; connected: boolean; lastError?: string }>;
}

export interface WorkerHandle {
  stats(): WorkerStats;
  statsUrl: string | null;
  stop(): Promise<void>;
}

export async function startWorker(opts: WorkerOptions): Promise<WorkerHandle> {
  const coefficient = opts.coefficient ?? 1000;
  const maxActive = opts.maxActiveRequests ?? 32;
  const running = new Map<string, AbortController>();
  const counters = { completed: 0, failed: 0, cancelled: 0 };
  const links = opts.proxies.map((p) => ({ endpoint: `${p.host}:${p.port}`, address: p, connection: null as Connection | null, lastError: undefined as string | undefined }));
  let stopped = false;
  const stopController = new AbortController();

  const params: TlObject = {
    _: 'worker.params', flags: 1, worker_owner_address: opts.ownerAddress ?? '', model: opts.model, coefficient,
    is_test: true, proxy_cnt: opts.proxies.length, max_active_requests: maxActive,
  };

  async function runQuery(conn: Connection, q: TlObject): Promise<void> {
    const requestId = q.request_id as Buffer;
    const key = requestId.toString('hex');
    const fail = (code: number, message: string) => conn.send({ _: 'proxy.queryAnswerErrorEx', request_id: requestId, error_code: code, error: message, flags: 0 });
    if (running.size >= maxActive) return fail(ErrorCode.noWorker, `worker is at capacity (${maxActive} active requests)`);
    let request;
    try {
      request = chatCompletionRequestSchema.parse(JSON.parse((q.query as Buffer).toString('utf8')));
    } catch (err) {
      return fail(ErrorCode.badRequest, `query is not a valid chat completion request: ${errorMessage(err)}`);
    }
    const ac = new AbortController();
    running.set(key, ac);
    const timeout = setTimeout(() => ac.abort(), Math.max(1, q.timeout as number) * 1000);
    let usage: Usage | null | undefined;
    try {
      // Chunks are relayed as the engine wrote them, those that arrived together in one answer
      // part (newline-separated JSON); only the usage chunk is parsed.
      for await (const batch of opts.backend.streamChatRaw(request, ac.signal)) {
        const relay: string[] = [];
        for (const data of batch) {
          if (USAGE_MARK.test(data)) {
            const chunk = JSON.parse(data) as ChatCompletionChunk;
            usage = chunk.usage;
            if (chunk.choices.length === 0) continue;
          }
          relay.push(data);
        }
        if (relay.length) conn.send({ _: 'proxy.queryAnswerPartEx', request_id: requestId, answer: Buffer.from(relay.join('\n')), flags: 0 });
      }
      if (!usage) throw new CocoonError('engine_no_usage', 'the inference engine reported no token usage; enable usage reporting (stream_options.include_usage)');
      conn.send({
        _: 'proxy.queryAnswerEx', request_id: requestId, answer: Buffer.alloc(0), flags: 1,
        final_info: { _: 'proxy.queryFinalInfo', flags: 0, tokens_used: tokensUsed(tokenCountsFromUsage(usage)) },
      });
      counters.completed++;
    } catch (err) {
      if (ac.signal.aborted && !stopped) {
        counters.cancelled++;
        fail(ErrorCode.cancelled, 'query cancelled');
      } else {
        counters.failed++;
        opts.log.warn({ request: key.slice(0, 16), err: errorMessage(err) }, 'query failed');
        fail(ErrorCode.engine, errorMessage(err));
      }
    } finally {
      clearTimeout(timeout);
      running.delete(key);
    }
  }

  async function maintain(link: (typeof links)[number]): Promise<void> {
    let backoff = 250;
    while (!stopped) {
      try {
        const { socket } = await connectRaTls({ host: link.address.host, port: link.address.port, identity: opts.identity, verifier: opts.verifier, signal: stopController.signal });
        const conn = new Connection(socket, {
          role: 'dialer',
          log: opts.log,
          accept: WORKER_ACCEPTS_FROM_PROXY,
          onPacket: (p) => {
            if (p._ === 'proxy.runQueryEx') void runQuery(conn, p);
            else if (p._ === 'cocoonx.cancelQuery') running.get((p.request_id as Buffer).toString('hex'))?.abort();
          },
        });
        const closed = new Promise<string>((r) => conn.once('close', r));
        socket.resume();
        await conn.query({ _: 'worker.connectToProxy', params });
        link.connection = conn;
        link.lastError = undefined;
        backoff = 250;
        opts.log.info({ proxy: link.endpoint, model: opts.model }, 'connected to proxy');
        const reason = await closed;
        link.connection = null;
        if (!stopped) opts.log.warn({ proxy: link.endpoint, reason }, 'proxy connection lost');
      } catch (err) {
        link.lastError = errorMessage(err);
        if (!stopped) opts.log.warn({ proxy: link.endpoint, err: link.lastError, retryMs: backoff }, 'cannot connect to proxy');
      }
      if (stopped) return;
      await new Promise((r) => setTimeout(r, backoff).unref());
      backoff = Math.min(backoff * 2, 10_000);
    }
  }

  for (const link of links) void maintain(link);

  const stats = (): WorkerStats => ({
    model: opts.model, coefficient, maxActiveRequests: maxActive, active: running.size, ...counters,
    proxies: links.map((l) => ({ endpoint: l.endpoint, connected: l.connection !== null, ...(l.lastError && { lastError: l.lastError }) })),
  });

  const statsServer = opts.statsPort === null ? null : await serveJsonStats(opts.statsPort ?? 0, stats);
  const statsUrl = statsServer?.url ?? null;

  return {
    stats,
    statsUrl,
    async stop() {
      stopped = true;
      stopController.abort();
      for (const ac of running.values()) ac.abort();
      for (const l of links) l.connection?.close('worker stopping');
      await statsServer?.close();
    },
  };
}

/** Resolves when at least one proxy link is up (used by `cocoon up` to report readiness). */
export async function waitForWorker(handle: WorkerHandle, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!handle.stats().proxies.some((p) => p.connected)) {
    if (Date.now() > deadline) {
      const errors = handle.stats().proxies.map((p) => `${p.endpoint}: ${p.lastError ?? 'not connected'}`).join('; ');
      throw new CocoonError('worker_not_connected', `worker did not connect to any proxy within ${timeoutMs} ms (${errors})`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

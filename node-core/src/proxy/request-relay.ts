import type { Logger } from '../log.ts';
import { ErrorCode, ZERO_TOKENS, newRequestId, tokenCountsOf, tokensUsed } from '../protocol/messages.ts';
import type { TlObject } from '../protocol/tl-codec.ts';
import type { AnswerOutcome } from '../payments/proxy-ledger.ts';
import type { TokenCounts } from '../payments/pricing.ts';
import { adjustedTotal } from '../payments/adjusted-tokens.ts';
import { lastUsageIn, mentionsUsage } from '../payments/running-usage.ts';
import type { AnswerPayments, ChargedRequest } from './answer-payments.ts';
import type { Router } from './router.ts';
import type { PeerLink, WorkerEntry } from './worker-pool.ts';

/**
 * One client query's life at the proxy: admission, forwarding to the worker the router picks,
 * relaying the answer's parts, a retry on another worker while the client has seen nothing,
 * cancellation (by the client, its disconnection, or the timeout), and at the end handing the
 * usage to the answer payments. The runner (proxy-runner.ts) owns the connections and feeds
 * each relay the packets that belong to it.
 */

export interface ModelCounters { requests: number; completed: number; failed: number; retries: number; tokens: number }

/** What every relay shares: the proxy's router, payments, in-flight table and counters. */
export interface RelayContext {
  router: Router;
  answers: AnswerPayments;
  inFlight: InFlightRequests;
  statsFor(model: string): ModelCounters;
  log: Logger;
}

/** A client's query as it arrived (client.runQueryEx), checked by the runner. */
export interface ClientQuery {
  requestId: Buffer;
  model: string;
  /** The serialized http.request, forwarded to the worker as it came. */
  query: Buffer;
  maxCoefficient: number;
  maxTokens: number;
  timeoutSeconds: number;
}

const noRelease = (): void => undefined;

export class RequestRelay implements ChargedRequest {
  readonly clientRequestId: Buffer;
  /** The id the current worker knows this query by (a new one per attempt, so late answers of a failed attempt are ignored). */
  workerRequestId: Buffer = Buffer.alloc(0);
  readonly model: string;
  readonly query: Buffer;
  readonly queryBytes: number;
  readonly maxCoefficient: number;
  readonly maxTokens: number;
  readonly timeoutSeconds: number;
  worker: WorkerEntry | null = null;
  /** Workers this query went to (never twice to the same one). */
  readonly tried = new Set<number>();
  firstPartSent = false;
  /** The last relayed part that carried usage: what the client received, if the answer ends early. */
  usagePart: Buffer | null = null;
  private readonly startedAt = Date.now();
  /** Releases the admission reservation (settling proxies). */
  private release = noRelease;
  private ended = false;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly ctx: RelayContext, readonly client: PeerLink, readonly clientOwner: string, q: ClientQuery) {
    this.clientRequestId = q.requestId;
    this.model = q.model;
    this.query = q.query;
    this.queryBytes = q.query.length;
    this.maxCoefficient = q.maxCoefficient;
    this.maxTokens = q.maxTokens;
    this.timeoutSeconds = q.timeoutSeconds;
    this.timer = setTimeout(() => {
      this.cancelOnWorker();
      this.failToClient(ErrorCode.timeout, `query timed out after ${q.timeoutSeconds} s`);
    }, q.timeoutSeconds * 1000);
  }

  /** Registers the query and sends it on, after admission when the proxy settles payments. */
  start(authNonce: bigint): void {
    const { ctx } = this;
    ctx.inFlight.addForClient(this);
    ctx.statsFor(this.model).requests++;
    const payments = ctx.answers.payments;
    if (!payments) return this.dispatch();
    // Admission: the client contract must cover the worst case before any worker sees the query.
    ctx.router.admit(payments, { clientOwner: this.clientOwner, model: this.model, maxCoefficient: this.maxCoefficient, queryBytes: this.queryBytes, maxTokens: this.maxTokens, authNonce }).then((a) => {
      if (this.ended) {
        if (a.ok) a.release();
        return;
      }
      if (!a.ok) {
        this.finish();
        ctx.statsFor(this.model).failed++;
        ctx.log.info({ client: this.clientOwner, code: a.body.error.code }, 'query refused: the client contract cannot pay its worst case');
        this.client.send({ _: 'client.queryAnswerErrorEx', request_id: this.clientRequestId, error_code: 402, error: JSON.stringify(a.body), flags: 0 });
        return;
      }
      this.release = a.release;
      this.dispatch();
    }, (err: unknown) => this.failToClient(ErrorCode.noWorker, `cannot check the client's balance now: ${(err as Error).message}`));
  }

  /** Sends the query to the best untried worker, or fails it. */
  private dispatch(): void {
    const { ctx } = this;
    const worker = ctx.router.pick(this.model, this.maxCoefficient, this.tried);
    if (typeof worker === 'string') return this.failToClient(ErrorCode.noWorker, worker);
    if (this.worker) this.worker.active--;
    ctx.inFlight.unbindWorker(this);
    this.worker = worker;
    this.tried.add(worker.id);
    this.workerRequestId = newRequestId();
    ctx.inFlight.bindWorker(this);
    worker.active++;
    worker.connection.send({
      _: 'proxy.runQueryEx', query: this.query, signed_payment: ctx.answers.workerSignedPayment(worker),
      coefficient: BigInt(worker.coefficient), timeout: this.timeoutSeconds * 0.95, request_id: this.workerRequestId, flags: 1, enable_debug: false,
    });
  }

  /**
   * An answer or answer part from the current worker (proxy.queryAnswerEx / queryAnswerPartEx):
   * relayed to the client as it came; the final one commits the usage and sends the payments.
   */
  onAnswer(worker: WorkerEntry, p: TlObject): void {
    // The first answer (http.response) must come before any body part, as the reference checks.
    const first = p._ === 'proxy.queryAnswerEx';
    if (first === this.firstPartSent) return this.workerFailed(ErrorCode.protoviolation, 'out of order answer parts');
    this.firstPartSent = true;
    const done = ((p.flags as number) & 1) !== 0;
    const tokens = (p.final_info as TlObject | undefined)?.tokens_used as TlObject | undefined;
    if (done && !tokens) return this.workerFailed(ErrorCode.workerFailed, 'worker sent no token usage');
    const kind = first ? 'client.queryAnswerEx' : 'client.queryAnswerPartEx';
    if (!done) {
      if (mentionsUsage(p.answer as Buffer)) this.usagePart = p.answer as Buffer;
      return this.client.send({ _: kind, request_id: this.clientRequestId, answer: p.answer, flags: 0 });
    }
    const { ctx } = this;
    this.finish();
    ctx.router.pool.recordSuccess(worker, Date.now() - this.startedAt);
    const s = ctx.statsFor(this.model);
    s.completed++;
    const reported = tokenCountsOf(tokens!);
    const refused = ctx.answers.malformedUsage(reported, tokens!.total_tokens_used as bigint);
    // Up to the request's reserved worst case; the client's final info says what is charged.
    const t = refused ? reported : ctx.answers.chargeable(this, worker, reported);
    s.tokens += adjustedTotal(t);
    this.client.send({ _: kind, request_id: this.clientRequestId, answer: p.answer, flags: 1, final_info: { _: 'client.queryFinalInfo', flags: 0, tokens_used: t === reported ? tokens : tokensUsed(t) } });
    // The worker reports adjusted tokens (as the reference worker): recorded as reported (up to
    // the worst case), unless malformed; the ledger commits after the client has its final part
    // (so a charge never covers an answer the client has not seen), and once it is durable both
    // sides get signed counters.
    if (refused) {
      ctx.log.error({ request: this.workerRequestId.toString('hex').slice(0, 16), worker: worker.owner, tokens: t }, `worker's token report refused, nothing charged or paid: ${refused}`);
      return;
    }
    ctx.answers.record(this, worker, t, 'completed', () => ctx.answers.sendBoth(this, worker, BigInt(adjustedTotal(t))));
  }

  /** The worker's error for this query (proxy.queryAnswerErrorEx). */
  onWorkerError(p: TlObject): void {
    // A worker that fails after producing tokens reports them; the charge is what reached the
    // client (workerFailed → endEarly), which the worker's report can only confirm.
    const used = (p.final_info as TlObject | undefined)?.tokens_used as TlObject | undefined;
    const reported = used ? tokenCountsOf(used) : ZERO_TOKENS;
    const relayed = this.usagePart ? lastUsageIn(this.usagePart) : null;
    if (relayed && reported.completion + reported.reasoning > relayed.completion + relayed.reasoning) {
      this.ctx.log.debug?.({ request: this.workerRequestId.toString('hex').slice(0, 16), reported, relayed }, 'worker reports more tokens than reached the client; charging what reached it');
    }
    this.workerFailed(p.error_code as number, p.error as string);
  }

  /** The worker failed this query (its error, a protocol slip, or its disconnection): retry elsewhere if the client has seen nothing yet. */
  workerFailed(code: number, message: string): void {
    const { ctx } = this;
    if (this.worker) ctx.router.pool.recordFailure(this.worker);
    if (ctx.router.mayRetry(this.firstPartSent, code, this.tried.size)) {
      ctx.statsFor(this.model).retries++;
      ctx.log.warn({ model: this.model, worker: this.worker?.id, reason: message }, 'worker failed before first token; retrying on another worker');
      return this.dispatch();
    }
    this.failToClient(code === ErrorCode.cancelled ? code : ErrorCode.workerFailed, `worker failed: ${message}`);
  }

  /** The client stopped the query (cocoonx.cancelQuery): it ends with its usage and signed charge, so the client shows what it cost. */
  cancelByClient(): void {
    this.cancelOnWorker();
    this.failToClient(ErrorCode.cancelled, 'query cancelled by the client', 'cancelled');
  }

  /**
   * The client went away: the query stops on its worker. What already reached the client is
   * charged (and paid to the worker); nothing can be sent back.
   */
  clientGone(): void {
    this.cancelOnWorker();
    this.endEarly('cancelled', (worker) => {
      if (!worker.connection.closed) this.ctx.answers.sendWorkerPayment(worker, this.workerRequestId, this.clientOwner, 0n);
    });
  }

  /**
   * Stops the query on its worker. Only our workers know cocoonx.cancelQuery (they announce it
   * with cocoonx.workerLoad); a reference worker would drop it, so it is not sent there.
   */
  private cancelOnWorker(): void {
    if (this.worker?.extensions) this.worker.connection.send({ _: 'cocoonx.cancelQuery', request_id: this.workerRequestId });
  }

  private finish(): void {
    this.ended = true;
    clearTimeout(this.timer);
    this.release();
    this.ctx.inFlight.remove(this);
    if (this.worker) this.worker.active--;
  }

  /**
   * An answer that ends before its final part (the client stopped it or went away, the worker
   * failed or vanished, the timeout): what reached the client is committed to the ledger, once
   * (the request id makes it idempotent), and becomes the answer's final usage.
   */
  private endEarly(outcome: Exclude<AnswerOutcome, 'completed'>, committed?: (worker: WorkerEntry, produced: TokenCounts) => void): TokenCounts {
    this.finish();
    const worker = this.worker;
    const raw = this.firstPartSent && this.usagePart ? lastUsageIn(this.usagePart) : null;
    if (!worker || !raw) return ZERO_TOKENS;
    const produced = this.ctx.answers.adjustEarly(this, worker, raw);
    if (!produced || adjustedTotal(produced) === 0) return ZERO_TOKENS;
    this.ctx.answers.record(this, worker, produced, outcome, committed && (() => committed(worker, produced)));
    return produced;
  }

  /** Ends the query with an error; what it produced is charged, and the client gets that usage and its signed charge. */
  private failToClient(code: number, message: string, outcome: Exclude<AnswerOutcome, 'completed'> = 'failed'): void {
    // Its signed charge and the worker's payout go once the ledger has committed the answer.
    const produced = this.endEarly(outcome, (worker, t) => this.ctx.answers.sendBoth(this, worker, BigInt(adjustedTotal(t))));
    if (outcome === 'failed') this.ctx.statsFor(this.model).failed++;
    this.client.send({
      _: 'client.queryAnswerErrorEx', request_id: this.clientRequestId, error_code: code, error: message, flags: 1,
      final_info: { _: 'client.queryFinalInfo', flags: 0, tokens_used: tokensUsed(produced) },
    });
  }
}

/**
 * The queries in flight, by the id their worker knows (to route answers) and by client
 * connection (for the client's cancellations and its disconnection). A connection is in the
 * client table from its completed handshake on: that is what lets it send queries.
 */
export class InFlightRequests {
  private readonly byWorkerRequest = new Map<string, RequestRelay>();
  private readonly byClient = new Map<PeerLink, Map<string, RequestRelay>>();

  /** A client finished its handshake: it may send queries now. */
  openClient(client: PeerLink): void {
    if (!this.byClient.has(client)) this.byClient.set(client, new Map());
  }

  isClient(conn: PeerLink): boolean {
    return this.byClient.has(conn);
  }

  get clientCount(): number {
    return this.byClient.size;
  }

  /** The query this client sent with this id (hex), if still in flight. */
  forClient(client: PeerLink, requestIdHex: string): RequestRelay | undefined {
    return this.byClient.get(client)?.get(requestIdHex);
  }

  /**
   * A worker's answer, answer part or error, handed to its query. Dropped when the id is not
   * this worker's query now: a late answer to a query cancelled or retried elsewhere.
   */
  deliver(worker: WorkerEntry, p: TlObject & { request_id: Buffer }): void {
    const req = this.byWorkerRequest.get(p.request_id.toString('hex'));
    if (!req || req.worker !== worker) return;
    switch (p._) {
      case 'proxy.queryAnswerEx':
      case 'proxy.queryAnswerPartEx':
        return req.onAnswer(worker, p);
      case 'proxy.queryAnswerErrorEx':
        return req.onWorkerError(p);
    }
  }

  /** The queries now on this worker. */
  onWorker(worker: WorkerEntry): RequestRelay[] {
    const on: RequestRelay[] = [];
    for (const r of this.byWorkerRequest.values()) if (r.worker === worker) on.push(r);
    return on;
  }

  addForClient(r: RequestRelay): void {
    this.byClient.get(r.client)?.set(r.clientRequestId.toString('hex'), r);
  }

  bindWorker(r: RequestRelay): void {
    this.byWorkerRequest.set(r.workerRequestId.toString('hex'), r);
  }

  unbindWorker(r: RequestRelay): void {
    this.byWorkerRequest.delete(r.workerRequestId.toString('hex'));
  }

  remove(r: RequestRelay): void {
    this.byWorkerRequest.delete(r.workerRequestId.toString('hex'));
    this.byClient.get(r.client)?.delete(r.clientRequestId.toString('hex'));
  }

  /** The client's connection closed: its queries end (each charged for what reached it). */
  closeClient(client: PeerLink): void {
    const requests = this.byClient.get(client);
    if (!requests) return;
    for (const r of [...requests.values()]) r.clientGone();
    this.byClient.delete(client);
  }
}

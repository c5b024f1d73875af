/**
 * Unit tests of the proxy's routing, retry, cancellation and admission (router.ts,
 * request-relay.ts, answer-payments.ts) without a network. The router, worker pool, in-flight
 * table, answer payments and admission arithmetic are the real ones. Stand-ins, for the
 * neighbouring roles only: the workers and the client are recorders of the frames the proxy
 * sends them (what the real runner would write to their connections), and the settling
 * proxy's chain-backed payments (LedgerProxySettlement needs a chain) are replaced by
 * `chainlessPayments`, which runs the real admission arithmetic on a client contract state
 * given by the test and records every `answerEnded`.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../log.ts';
import { ErrorCode, tokensUsed } from '../protocol/messages.ts';
import { noSettlementProxy } from '../protocol/settlement.ts';
import type { TlObject } from '../protocol/tl-codec.ts';
import { admit } from '../payments/admission.ts';
import { DEFAULT_PRICING, type TokenCounts } from '../payments/pricing.ts';
import type { AnswerEnd, ProxyPayments } from '../payments/proxy-settlement.ts';
import { AnswerPayments } from './answer-payments.ts';
import { InFlightRequests, RequestRelay, type ModelCounters, type RelayContext } from './request-relay.ts';
import { Router } from './router.ts';
import type { WorkerEntry } from './worker-pool.ts';

const MODEL = 'Qwen/Qwen3-8B';
const log = createLogger('request-relay-test');

/** A peer's connection as the proxy sees it: it records what is sent. */
function recorder() {
  const sent: TlObject[] = [];
  return { sent, closed: false, send: (m: TlObject) => void sent.push(m) };
}
type Recorder = ReturnType<typeof recorder>;

function chainlessPayments(contract: { balanceNano: bigint; stakeNano: bigint }, opts: { holdCommits?: boolean } = {}) {
  const ended: AnswerEnd[] = [];
  /** With holdCommits, the ledger's group commit is the test's to run (as a 5 ms group would later). */
  const commits: Array<() => void> = [];
  const released: string[] = [];
  const admitted: number[] = [];
  const p: ProxyPayments = {
    pricing: DEFAULT_PRICING,
    async admit(r) {
      admitted.push(r.coefficient);
      const a = admit({ clientContract: 'EQclient', promptTokens: r.promptTokens, maxTokens: r.maxTokens, pricing: DEFAULT_PRICING, coefficient: r.coefficient,
        ledgerCounter: 0n, onChainCounter: 0n, reservedNano: 0n, ...contract });
      return a.ok ? { ok: true, release: () => void released.push(r.clientOwner) } : { ok: false, status: 402, body: a.body };
    },
    answerEnded: (a, committed) => {
      ended.push(a);
      if (committed) opts.holdCommits ? commits.push(committed) : committed();
    },
    onSigned: () => undefined,
    signPending: () => 0,
  };
  return { p, ended, released, admitted, commits };
}

function proxy(opts: { payments?: ProxyPayments; maxAttempts?: number } = {}) {
  const router = new Router(opts.maxAttempts ?? 3);
  const stats = new Map<string, ModelCounters>();
  const ctx: RelayContext = {
    router, log, inFlight: new InFlightRequests(),
    answers: new AnswerPayments(noSettlementProxy(), opts.payments ?? null, DEFAULT_PRICING.multipliers, log),
    statsFor: (m) => stats.get(m) ?? stats.set(m, { requests: 0, completed: 0, failed: 0, retries: 0, tokens: 0 }).get(m)!,
  };
  const workers: Array<{ entry: WorkerEntry; link: Recorder }> = [];
  const addWorker = (o: { coefficient?: number; extensions?: boolean } = {}) => {
    const link = recorder();
    const entry = router.pool.add({ connection: link, owner: `EQworker${workers.length}`, model: MODEL, coefficient: o.coefficient ?? 1000, maxActive: 4, disabled: false, extensions: o.extensions ?? false });
    workers.push({ entry, link });
    return { entry, link };
  };
  const client = recorder();
  ctx.inFlight.openClient(client);
  let n = 0;
  const query = (q: { maxTokens?: number; timeoutSeconds?: number } = {}) => {
    const relay = new RequestRelay(ctx, client, 'EQclientOwner', {
      requestId: Buffer.from([++n]), model: MODEL, query: Buffer.from('a serialized http.request'), maxCoefficient: 2000,
      maxTokens: q.maxTokens ?? 100, timeoutSeconds: q.timeoutSeconds ?? 60,
    });
    relay.start(0n);
    return relay;
  };
  return { ctx, router, stats, addWorker, client, query };
}

/** The last proxy.runQueryEx a worker got (what it would answer to). */
const lastQueryTo = (w: { link: Recorder }) => w.link.sent.filter((m) => m._ === 'proxy.runQueryEx').at(-1);
const usageChunk = (u: { prompt: number; completion: number }) =>
  Buffer.from(`{"choices":[{"delta":{"content":"hi"}}],"usage":{"prompt_tokens":${u.prompt},"completion_tokens":${u.completion},"total_tokens":${u.prompt + u.completion}}}`);
const final = (requestId: Buffer, t: TokenCounts): TlObject & { request_id: Buffer } =>
  ({ _: 'proxy.queryAnswerPartEx', request_id: requestId, answer: Buffer.from('[DONE]'), flags: 1, final_info: { _: 'proxy.queryFinalInfo', flags: 0, tokens_used: tokensUsed(t) } });
const head = (requestId: Buffer): TlObject & { request_id: Buffer } => ({ _: 'proxy.queryAnswerEx', request_id: requestId, answer: Buffer.from('http.response'), flags: 0 });
const failure = (requestId: Buffer, code: number = ErrorCode.workerFailed): TlObject & { request_id: Buffer } =>
  ({ _: 'proxy.queryAnswerErrorEx', request_id: requestId, error_code: code, error: 'engine crashed', flags: 0 });
const flush = () => new Promise((r) => setImmediate(r));

afterEach(() => vi.useRealTimers());

describe('router', () => {
  it('sends a query to the least loaded worker, and says why when none can take it', () => {
    const { router, addWorker } = proxy();
    expect(router.pick(MODEL, 2000, new Set())).toBe(`no worker serves model "${MODEL}"`);
    const busy = addWorker();
    busy.entry.active = 2;
    const idle = addWorker();
    expect(router.pick(MODEL, 2000, new Set())).toBe(idle.entry);
    expect(router.pick(MODEL, 2000, new Set([idle.entry.id]))).toBe(busy.entry);
    expect(router.pick(MODEL, 500, new Set())).toMatch(/no worker for model .* has free capacity at coefficient ≤ 500/);
    expect(router.pick(MODEL, 2000, new Set([idle.entry.id, busy.entry.id]))).toMatch(/all 2 worker\(s\) tried/);
  });

  it('retries only before the first part, never a bad request or a cancellation, and within the attempt budget', () => {
    const router = new Router(3);
    expect(router.mayRetry(false, ErrorCode.workerFailed, 1)).toBe(true);
    expect(router.mayRetry(true, ErrorCode.workerFailed, 1)).toBe(false);
    expect(router.mayRetry(false, ErrorCode.badRequest, 1)).toBe(false);
    expect(router.mayRetry(false, ErrorCode.cancelled, 1)).toBe(false);
    expect(router.mayRetry(false, ErrorCode.workerFailed, 3)).toBe(false);
  });
});

describe('request relay', () => {
  it('forwards the query to the picked worker and relays its answer to the client, then pays both sides', () => {
    const { ctx, addWorker, client, query, stats } = proxy();
    const busy = addWorker();
    busy.entry.active = 3;
    const idle = addWorker();
    const relay = query();
    expect(busy.link.sent).toEqual([]);
    const q = lastQueryTo(idle)!;
    expect(q).toMatchObject({ query: Buffer.from('a serialized http.request'), coefficient: 1000n, timeout: 57, flags: 1 });
    expect(idle.entry.active).toBe(1);
    const id = q.request_id as Buffer;
    expect(id).toEqual(relay.workerRequestId);
    ctx.inFlight.deliver(idle.entry, head(id));
    ctx.inFlight.deliver(idle.entry, final(id, { prompt: 10, cached: 0, completion: 5, reasoning: 0 }));
    expect(client.sent.map((m) => [m._, m.flags])).toEqual([['client.queryAnswerEx', 0], ['client.queryAnswerPartEx', 1], ['proxy.clientRequestPayment', undefined]]);
    expect(client.sent[0]!.request_id).toEqual(Buffer.from([1]));
    expect((client.sent[1]!.final_info as TlObject).tokens_used).toMatchObject({ total_tokens_used: 15n });
    expect(idle.link.sent.at(-1)).toMatchObject({ _: 'proxy.workerRequestPayment', request_tokens: 15n, request_client_owner: 'EQclientOwner' });
    expect(idle.entry.active).toBe(0);
    expect(idle.entry.successes).toBe(1);
    expect(stats.get(MODEL)).toMatchObject({ requests: 1, completed: 1, failed: 0, retries: 0, tokens: 15 });
  });

  it('retries on another worker when the first fails before its first token, and ignores the failed attempt afterwards', () => {
    const { ctx, addWorker, client, query, stats } = proxy();
    const a = addWorker();
    const b = addWorker();
    query();
    const [first, second] = lastQueryTo(a) ? [a, b] : [b, a];
    const firstId = lastQueryTo(first)!.request_id as Buffer;
    ctx.inFlight.deliver(first.entry, failure(firstId));
    expect(client.sent).toEqual([]);
    const secondId = lastQueryTo(second)!.request_id as Buffer;
    expect(secondId).not.toEqual(firstId);
    expect(first.entry.failures).toBe(1);
    expect(first.entry.active).toBe(0);
    expect(second.entry.active).toBe(1);
    // The failed worker's late parts belong to no query any more.
    ctx.inFlight.deliver(first.entry, head(firstId));
    expect(client.sent).toEqual([]);
    ctx.inFlight.deliver(second.entry, head(secondId));
    ctx.inFlight.deliver(second.entry, final(secondId, { prompt: 1, cached: 0, completion: 1, reasoning: 0 }));
    expect(client.sent.map((m) => m._)).toEqual(['client.queryAnswerEx', 'client.queryAnswerPartEx', 'proxy.clientRequestPayment']);
    expect(stats.get(MODEL)).toMatchObject({ retries: 1, completed: 1, failed: 0 });
  });

  it('gives up after maxAttempts workers failed before answering', () => {
    const { ctx, addWorker, client, query, stats } = proxy({ maxAttempts: 2 });
    const ws = [addWorker(), addWorker(), addWorker()];
    const relay = query();
    for (let i = 0; i < 2; i++) ctx.inFlight.deliver(relay.worker!, failure(relay.workerRequestId));
    expect(ws.filter((w) => lastQueryTo(w)).length).toBe(2);
    expect(client.sent).toEqual([expect.objectContaining({ _: 'client.queryAnswerErrorEx', error_code: ErrorCode.workerFailed, error: 'worker failed: engine crashed' })]);
    expect(stats.get(MODEL)).toMatchObject({ retries: 1, failed: 1 });
  });

  it('does not retry once the client has the first part: the error reaches the client', () => {
    const { ctx, addWorker, client, query } = proxy();
    const a = addWorker();
    const b = addWorker();
    const relay = query();
    const [first, second] = relay.worker === a.entry ? [a, b] : [b, a];
    ctx.inFlight.deliver(first.entry, head(relay.workerRequestId));
    ctx.inFlight.deliver(first.entry, failure(relay.workerRequestId));
    expect(lastQueryTo(second)).toBeUndefined();
    expect(client.sent.map((m) => m._)).toEqual(['client.queryAnswerEx', 'client.queryAnswerErrorEx']);
    expect(client.sent[1]).toMatchObject({ error_code: ErrorCode.workerFailed, flags: 1 });
    expect(first.entry.active).toBe(0);
  });

  it("a client's cancel reaches the worker and ends the query with what reached the client committed", () => {
    const pay = chainlessPayments({ balanceNano: 10n ** 12n, stakeNano: 10n ** 12n });
    const { ctx, addWorker, client, query, stats } = proxy({ payments: pay.p });
    const w = addWorker({ extensions: true });
    const relay = query();
    return flush().then(() => {
      const id = lastQueryTo(w)!.request_id as Buffer;
      ctx.inFlight.deliver(w.entry, head(id));
      ctx.inFlight.deliver(w.entry, { _: 'proxy.queryAnswerPartEx', request_id: id, answer: usageChunk({ prompt: 12, completion: 3 }), flags: 0 });
      ctx.inFlight.forClient(client, relay.clientRequestId.toString('hex'))!.cancelByClient();
      expect(w.link.sent.find((m) => m._ === 'cocoonx.cancelQuery')).toEqual({ _: 'cocoonx.cancelQuery', request_id: id });
      const end = client.sent.find((m) => m._ === 'client.queryAnswerErrorEx')!;
      expect(end).toMatchObject({ error_code: ErrorCode.cancelled, flags: 1 });
      expect(pay.ended).toHaveLength(1);
      expect(pay.ended[0]).toMatchObject({ requestId: id.toString('hex'), clientOwner: 'EQclientOwner', workerOwner: w.entry.owner, outcome: 'cancelled' });
      const charged = pay.ended[0]!.tokens;
      expect(charged.completion).toBeGreaterThan(0);
      expect((end.final_info as TlObject).tokens_used).toMatchObject({ total_tokens_used: BigInt(charged.prompt + charged.cached + charged.completion + charged.reasoning) });
      expect(pay.released).toEqual(['EQclientOwner']);
      expect(w.entry.active).toBe(0);
      expect(ctx.inFlight.forClient(client, relay.clientRequestId.toString('hex'))).toBeUndefined();
      // The worker's answers after the cancel go nowhere.
      const before = client.sent.length;
      ctx.inFlight.deliver(w.entry, final(id, { prompt: 12, cached: 0, completion: 9, reasoning: 0 }));
      expect(client.sent.length).toBe(before);
      expect(stats.get(MODEL)).toMatchObject({ completed: 0, failed: 0 });
    });
  });

  it('a reference worker (no extensions) is not sent the cancel it does not know', () => {
    const { ctx, addWorker, client, query } = proxy();
    const w = addWorker({ extensions: false });
    const relay = query();
    ctx.inFlight.forClient(client, relay.clientRequestId.toString('hex'))!.cancelByClient();
    expect(w.link.sent.map((m) => m._)).toEqual(['proxy.runQueryEx']);
    expect(client.sent).toEqual([expect.objectContaining({ _: 'client.queryAnswerErrorEx', error_code: ErrorCode.cancelled })]);
  });

  it('a client that goes away stops its queries on their workers and commits what reached it', () => {
    const pay = chainlessPayments({ balanceNano: 10n ** 12n, stakeNano: 10n ** 12n });
    const { ctx, addWorker, client, query } = proxy({ payments: pay.p });
    const w = addWorker({ extensions: true });
    query();
    return flush().then(() => {
      const id = lastQueryTo(w)!.request_id as Buffer;
      ctx.inFlight.deliver(w.entry, head(id));
      ctx.inFlight.deliver(w.entry, { _: 'proxy.queryAnswerPartEx', request_id: id, answer: usageChunk({ prompt: 4, completion: 2 }), flags: 0 });
      ctx.inFlight.closeClient(client);
      expect(w.link.sent.map((m) => m._)).toEqual(['proxy.runQueryEx', 'cocoonx.cancelQuery', 'proxy.workerRequestPayment']);
      expect(pay.ended.map((e) => e.outcome)).toEqual(['cancelled']);
      expect(ctx.inFlight.isClient(client)).toBe(false);
      expect(w.entry.active).toBe(0);
    });
  });

  it('a query that times out is stopped on its worker and fails to the client', () => {
    vi.useFakeTimers();
    const { addWorker, client, query } = proxy();
    const w = addWorker({ extensions: true });
    const relay = query({ timeoutSeconds: 2 });
    vi.advanceTimersByTime(1999);
    expect(client.sent).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(w.link.sent.at(-1)).toEqual({ _: 'cocoonx.cancelQuery', request_id: relay.workerRequestId });
    expect(client.sent).toEqual([expect.objectContaining({ _: 'client.queryAnswerErrorEx', error_code: ErrorCode.timeout, error: 'query timed out after 2 s' })]);
  });
});

describe('admission', () => {
  it('refuses with 402 before any worker is asked when the client contract cannot pay the worst case', async () => {
    const pay = chainlessPayments({ balanceNano: 0n, stakeNano: 0n });
    const { addWorker, client, query, stats } = proxy({ payments: pay.p });
    const w = addWorker({ coefficient: 1500 });
    query({ maxTokens: 1000 });
    expect(w.link.sent).toEqual([]); // admission is asynchronous: nothing left before it answered
    await flush();
    expect(pay.admitted).toEqual([1500]); // priced at the coefficient of the worker it would get
    expect(w.link.sent).toEqual([]);
    expect(w.entry.active).toBe(0);
    expect(client.sent).toHaveLength(1);
    expect(client.sent[0]).toMatchObject({ _: 'client.queryAnswerErrorEx', error_code: 402, flags: 0 });
    expect(JSON.parse(client.sent[0]!.error as string)).toMatchObject({ error: { type: 'insufficient_quota', code: 'insufficient_balance' } });
    expect(pay.ended).toEqual([]);
    expect(stats.get(MODEL)).toMatchObject({ requests: 1, failed: 1 });
  });

  it('admits a client that can pay, and releases its reservation when the answer ends', async () => {
    const pay = chainlessPayments({ balanceNano: 10n ** 12n, stakeNano: 10n ** 12n });
    const { ctx, addWorker, client, query } = proxy({ payments: pay.p });
    const w = addWorker();
    query();
    await flush();
    const id = lastQueryTo(w)!.request_id as Buffer;
    expect(pay.released).toEqual([]);
    ctx.inFlight.deliver(w.entry, head(id));
    ctx.inFlight.deliver(w.entry, final(id, { prompt: 10, cached: 0, completion: 5, reasoning: 0 }));
    expect(pay.released).toEqual(['EQclientOwner']);
    expect(pay.ended).toEqual([expect.objectContaining({ outcome: 'completed', tokens: { prompt: 10, cached: 0, completion: 5, reasoning: 0 } })]);
    expect(client.sent.at(-1)!._).toBe('proxy.clientRequestPayment');
  });

  it('a query cancelled while its admission is pending never reaches a worker, and its reservation is given back', async () => {
    const pay = chainlessPayments({ balanceNano: 10n ** 12n, stakeNano: 10n ** 12n });
    const { ctx, addWorker, client, query } = proxy({ payments: pay.p });
    const w = addWorker();
    const relay = query();
    ctx.inFlight.forClient(client, relay.clientRequestId.toString('hex'))!.cancelByClient();
    await flush();
    expect(w.link.sent).toEqual([]);
    expect(pay.released).toEqual(['EQclientOwner']);
  });

  it('charges a worker report above the reserved worst case as the worst case, and sends signed counters only after the ledger commit', async () => {
    const pay = chainlessPayments({ balanceNano: 10n ** 12n, stakeNano: 10n ** 12n }, { holdCommits: true });
    const { ctx, addWorker, client, query } = proxy({ payments: pay.p });
    const w = addWorker();
    query({ maxTokens: 4 });
    await flush();
    const id = lastQueryTo(w)!.request_id as Buffer;
    const reported = { prompt: 10, cached: 0, completion: 100_000, reasoning: 50 };
    ctx.inFlight.deliver(w.entry, head(id));
    ctx.inFlight.deliver(w.entry, final(id, reported));
    const charged = pay.ended[0]!.tokens;
    const total = charged.prompt + charged.cached + charged.completion + charged.reasoning;
    // The worst case of 4 completion tokens and a 25-byte prompt is far below what was reported.
    expect(total).toBeGreaterThan(0);
    expect(total).toBeLessThan(1000);
    // The excess comes off reasoning first, then completion; the prompt stays.
    expect(charged).toMatchObject({ prompt: 10, reasoning: 0 });
    // The client's final info says what is charged, not what the worker claimed.
    const finalInfo = client.sent.find((m) => m.flags === 1)!.final_info as TlObject;
    expect((finalInfo.tokens_used as TlObject).total_tokens_used).toBe(BigInt(total));
    // Nobody holds a signed counter for an answer the ledger has not committed yet.
    expect(client.sent.some((m) => m._ === 'proxy.clientRequestPayment')).toBe(false);
    expect(w.link.sent.some((m) => m._ === 'proxy.workerRequestPayment')).toBe(false);
    pay.commits.splice(0).forEach((c) => c());
    expect(client.sent.at(-1)).toMatchObject({ _: 'proxy.clientRequestPayment', request_tokens: BigInt(total) });
    expect(w.link.sent.at(-1)).toMatchObject({ _: 'proxy.workerRequestPayment', request_tokens: BigInt(total) });
  });
});


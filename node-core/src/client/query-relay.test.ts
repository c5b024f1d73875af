/**
 * Unit tests of the client's query relay (query-relay.ts): retry while every worker is busy,
 * no retry once the developer has part of the answer, and cancellation when the developer goes
 * away. Real HTTP on loopback and the real capacity queue; the proxy link is a stand-in for the
 * neighbouring role (the proxy behind it), scripted per test: it records each `runQuery` and
 * answers through the callbacks the way ProxyLink reports the proxy's frames.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../log.ts';
import { DEFAULT_PRICING } from '../payments/pricing.ts';
import { ErrorCode } from '../protocol/messages.ts';
import { CapacityQueue } from './capacity-queue.ts';
import type { ProxyLink, QueryCallbacks, RunningQuery } from './proxy-link.ts';
import { relayQuery, type RelayRequest } from './query-relay.ts';

const log = createLogger('query-relay-test');
const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => { s.closeAllConnections(); s.close(r); })));
});

interface Attempt { cb: QueryCallbacks; cancelled: number }

/** The proxy link stand-in: each runQuery is an attempt the test answers through `cb`. */
function scriptedLink(onAttempt: (a: Attempt, n: number) => void) {
  const attempts: Attempt[] = [];
  const link = {
    runQuery(_q: unknown, cb: QueryCallbacks): RunningQuery {
      const a: Attempt = { cb, cancelled: 0 };
      attempts.push(a);
      queueMicrotask(() => onAttempt(a, attempts.length));
      return { id: `req${attempts.length}`, cancel: () => void a.cancelled++ };
    },
  };
  return { link: link as unknown as ProxyLink, attempts };
}

async function serve(link: ProxyLink, queue: CapacityQueue, r: Partial<RelayRequest> = {}): Promise<string> {
  const server = createServer((_req, res) => relayQuery(
    { link, queue, pricing: () => DEFAULT_PRICING, maxCoefficient: 4000, timeoutSeconds: 30, log },
    res,
    { endpoint: 'chat', model: 'm', body: { model: 'm', messages: [] }, stream: true, includeUsage: false, maxTokens: 10, ...r },
  ));
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

const chunk = (text: string) => JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content: text } }] });
const tokens = { prompt: 3, cached: 0, completion: 2, reasoning: 0 };
const until = async (what: string, f: () => boolean) => {
  for (const end = Date.now() + 5000; !f();) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe('client query relay', () => {
  it('while every worker is busy the request waits and tries again, then streams the answer', async () => {
    const queue = new CapacityQueue({ pollMs: 20 });
    const { link, attempts } = scriptedLink((a, n) => {
      if (n < 3) return a.cb.onError(ErrorCode.noWorker, 'no worker has free capacity');
      a.cb.onPart([chunk('he'), chunk('llo')]);
      a.cb.onFinal(tokens, tokens);
    });
    const res = await fetch(await serve(link, queue), { method: 'POST' });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toBe(`data: ${chunk('he')}\n\ndata: ${chunk('llo')}\n\ndata: [DONE]\n\n`);
    expect(attempts).toHaveLength(3);
    expect(queue.waiting).toBe(0);
    expect(queue.open).toBe(true);
  });

  it('once the developer has part of the answer a failure is not retried: it ends the stream as an error event', async () => {
    const { link, attempts } = scriptedLink((a) => {
      a.cb.onPart([chunk('he')]);
      a.cb.onError(ErrorCode.noWorker, 'worker went away', tokens, tokens);
    });
    const res = await fetch(await serve(link, new CapacityQueue({ pollMs: 20 })), { method: 'POST' });
    const text = await res.text();
    expect(attempts).toHaveLength(1);
    const events = text.trim().split('\n\n');
    expect(events[0]).toBe(`data: ${chunk('he')}`);
    expect(JSON.parse(events[1]!.slice('data: '.length))).toMatchObject({ error: { message: 'worker went away', code: String(ErrorCode.noWorker) }, usage: { prompt_tokens: 3, completion_tokens: 2 } });
  });

  it('a non-streamed answer that already had a part is not retried either: the developer gets the error', async () => {
    const { link, attempts } = scriptedLink((a, n) => {
      if (n > 1) return a.cb.onFinal(tokens, tokens);
      a.cb.onPart([chunk('he')]);
      a.cb.onError(ErrorCode.noWorker, 'worker went away', tokens, tokens);
    });
    const res = await fetch(await serve(link, new CapacityQueue({ pollMs: 20 }), { stream: false }), { method: 'POST' });
    expect(res.status).not.toBe(200);
    expect(await res.json()).toMatchObject({ error: { message: 'worker went away' } });
    expect(attempts).toHaveLength(1);
  });

  it("the proxy's admission refusal reaches the developer as 402 with its OpenAI error body, without a retry", async () => {
    const body = { error: { message: 'Insufficient balance', type: 'insufficient_quota', code: 'insufficient_balance' } };
    const { link, attempts } = scriptedLink((a) => a.cb.onError(402, JSON.stringify(body)));
    const res = await fetch(await serve(link, new CapacityQueue()), { method: 'POST' });
    expect(res.status).toBe(402);
    expect(await res.json()).toEqual(body);
    expect(attempts).toHaveLength(1);
  });

  it('a developer who goes away mid-answer cancels the query on the proxy link, once', async () => {
    const { link, attempts } = scriptedLink((a) => a.cb.onPart([chunk('he')]));
    const ac = new AbortController();
    const res = await fetch(await serve(link, new CapacityQueue()), { method: 'POST', signal: ac.signal });
    const reader = res.body!.getReader();
    await reader.read();
    ac.abort();
    await until('the cancel', () => attempts[0]!.cancelled > 0);
    await new Promise((r) => setTimeout(r, 50));
    expect(attempts.map((a) => a.cancelled)).toEqual([1]);
  });

  it('a developer who goes away while the request waits for capacity leaves the queue and nothing more is tried', async () => {
    const queue = new CapacityQueue({ pollMs: 10_000 });
    const { link, attempts } = scriptedLink((a) => a.cb.onError(ErrorCode.noWorker, 'busy'));
    const ac = new AbortController();
    const url = await serve(link, queue);
    const pending = fetch(url, { method: 'POST', signal: ac.signal }).catch((e: unknown) => e);
    await until('the request to wait', () => queue.waiting === 1);
    ac.abort();
    await pending;
    await until('the queue to empty', () => queue.waiting === 0);
    queue.released();
    await new Promise((r) => setTimeout(r, 30));
    expect(attempts).toHaveLength(1);
  });
});

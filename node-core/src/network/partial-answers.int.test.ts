/**
 * Answers that end early are paid for, exactly what reached the client, once: the local network
 * with settlement on (real ledger and stores in SQLite files, real contracts on the embedded
 * chain), the official openai client. A developer stops a stream; a worker process is SIGKILLed
 * mid-answer. Each time the proxy ledger moves by exactly the tokens the client received, the
 * client holds a signed charge for it, and the client's answer log shows the stopped answer's
 * usage and cost. Also: the client's own caps refuse before anything leaves, and a client that
 * stopped trusting its proxy refuses to use it and says so in its status.
 */
import OpenAI from 'openai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnRole, stopRole } from '../../bench/spawn-role.ts';
import { startLocalNetwork, type LocalNetwork } from './local-network.ts';
import { createLogger } from '../log.ts';
import type { AnswerCost } from '../client/answer-log.ts';
import { worstCaseNano } from '../payments/admission.ts';
import { tokenCountsFromUsage } from '../payments/pricing.ts';
import type { ClientStatus } from '../client/status.ts';

const log = createLogger('test');

async function answerOf(net: LocalNetwork, id: string): Promise<AnswerCost> {
  const res = await fetch(`${net.openaiUrl}/cocoon/answers/${id}?wait_ms=10000`);
  expect(res.status).toBe(200);
  return (await res.json()) as AnswerCost;
}

/**
 * The reference's arithmetic written out independently of payments/ (CountTokens.cpp, Ton.h
 * adjust_tokens): per answer and per kind, trunc(n × (coefficient × 0.001) × multiplier × 0.0001)
 * in doubles, prompt without cached, completion without reasoning; an answer's total is the sum.
 * The dev workers here run at coefficient 1000.
 */
function referenceAdjustedTotal(u: { prompt_tokens: number; completion_tokens: number; prompt_tokens_details?: { cached_tokens?: number } | null; completion_tokens_details?: { reasoning_tokens?: number } | null }, m: { prompt: number; cached: number; completion: number; reasoning: number }, coefficient = 1000): number {
  const cached = u.prompt_tokens_details?.cached_tokens ?? 0;
  const reasoning = u.completion_tokens_details?.reasoning_tokens ?? 0;
  const adj = (n: number, multiplier: number) => Math.trunc(n * (coefficient * 0.001) * multiplier * 0.0001);
  return adj(u.prompt_tokens - cached, m.prompt) + adj(cached, m.cached) + adj(u.completion_tokens - reasoning, m.completion) + adj(reasoning, m.reasoning);
}

describe('answers that end early', () => {
  const dirs: string[] = [];
  const nets: LocalNetwork[] = [];
  afterAll(async () => {
    for (const n of nets) await n.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  const start = async (o: Parameters<typeof startLocalNetwork>[0] = {}) => {
    const dir = mkdtempSync(join(tmpdir(), 'cocoon-partial-'));
    dirs.push(dir);
    const net = await startLocalNetwork({ workers: 1, tokenDelayMs: 25, chainDataDir: join(dir, 'local-chain'), chainAnnounceFile: false, log, ...o });
    nets.push(net);
    return net;
  };

  it('a stopped stream is charged exactly what reached the client, signed, and its cost is shown', async () => {
    const net = await start();
    const s = net.settlement!;
    const before = s.proxy.ledger.account('client', s.contracts.client);
    const workerBefore = s.workers[0]!.store.holding(s.contracts.proxy, s.contracts.worker)?.ownTokens.completion ?? 0;
    const openai = new OpenAI({ baseURL: net.openaiUrl, apiKey: 'unused', maxRetries: 0 });
    const ac = new AbortController();
    const { data: stream, response } = await openai.chat.completions.create({
      model: net.models[0]!, messages: [{ role: 'user', content: 'tell me a long story' }], max_tokens: 400, stream: true,
    }, { signal: ac.signal }).withResponse();
    const id = response.headers.get('x-cocoon-request-id')!;
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    let parts = 0;
    try {
      for await (const chunk of stream) {
        // The developer's stream is OpenAI's: no running usage in content chunks.
        expect(chunk.usage ?? null).toBeNull();
        if (chunk.choices[0]?.delta.content && ++parts === 6) ac.abort();
      }
    } catch (err) {
      expect((err as Error).name).toMatch(/Abort/);
    }
    const answer = await answerOf(net, id);
    expect(answer.outcome).toBe('stopped');
    expect(answer.usage!.completion_tokens).toBeGreaterThanOrEqual(6);
    expect(answer.usage!.completion_tokens).toBeLessThan(400);
    expect(answer.usage!.prompt_tokens).toBeGreaterThan(0);
    // Charged = what this client received by its own count, to the token.
    expect(answer.received).toEqual(answer.usage);
    expect(answer.cost!.totalNanoTon).toBeGreaterThan(0);
    expect(answer.charge.state).toBe('signed');
    // The ledger moved by exactly those tokens, in one answer.
    const after = s.proxy.ledger.account('client', s.contracts.client)!;
    const tokens = tokenCountsFromUsage(answer.usage!);
    const adjusted = referenceAdjustedTotal(answer.usage!, net.pricing.multipliers);
    expect(after.units - (before?.units ?? 0n)).toBe(BigInt(adjusted) * 10_000n);
    expect(answer.cost!.totalNanoTon).toBe(adjusted * net.pricing.pricePerToken);
    // The ledger keeps adjusted tokens per kind: completion at 1× and coefficient 1000 is the raw count.
    expect(after.tokens.completion - (before?.tokens.completion ?? 0)).toBe(Math.trunc(tokens.completion * (1000 * 0.001) * net.pricing.multipliers.completion * 0.0001));
    expect(after.answers - (before?.answers ?? 0)).toBe(1);
    expect(BigInt(answer.charge.signedCounter!)).toBe(after.counter);
    expect(s.client.store.holding(s.contracts.proxy, s.contracts.client)).toMatchObject({ signedCounter: after.counter, rollback: null });
    expect(s.proxy.ledger.audit().ok).toBe(true);
    // The engine stopped generating; the worker reported and counted what it had produced (at
    // least what reached the client: a chunk or two may have been in flight when the cancel came).
    await expect.poll(() => net.engine!.stats().cancelled).toBeGreaterThanOrEqual(1);
    await expect.poll(() => (s.workers[0]!.store.holding(s.contracts.proxy, s.contracts.worker)?.ownTokens.completion ?? 0) - workerBefore).toBeGreaterThanOrEqual(tokens.completion);
    expect((s.workers[0]!.store.holding(s.contracts.proxy, s.contracts.worker)?.ownTokens.completion ?? 0) - workerBefore).toBeLessThan(tokens.completion + 10);
    // The history lists it, newest first.
    const list = (await (await fetch(`${net.openaiUrl}/cocoon/answers?limit=5`)).json()) as { data: AnswerCost[] };
    expect(list.data[0]!.id).toBe(id);
    // Settled on chain: the state follows the client contract's counter.
    await s.client.scheduler?.settleNow();
    await expect.poll(async () => (await answerOf(net, id)).charge.state, { timeout: 20_000 }).toBe('settled');
  }, 240_000);

  it('a worker process killed mid-answer: the client is charged for the tokens it received, the stream ends with an error', async () => {
    const net = await start({ workers: 0 });
    const s = net.settlement!;
    const worker = await spawnRole(['worker', '--proxy', `127.0.0.1:${net.proxy.workerEndpoint.port}`, '--token-delay-ms', '40', '--quote', 'fake', '--policy', 'fake', '--allow-image', net.imageHashes.proxy]);
    try {
      await expect.poll(() => net.proxy.stats().workers.length, { timeout: 15_000 }).toBe(1);
      const before = s.proxy.ledger.account('client', s.contracts.client);
      // Raw SSE here (the openai package's handling of the error event is covered by worker-killed.int.test.ts).
      const res = await fetch(`${net.openaiUrl}/chat/completions`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: net.models[0]!, messages: [{ role: 'user', content: 'die mid-stream' }], max_tokens: 300, stream: true }),
      });
      const id = res.headers.get('x-cocoon-request-id')!;
      const decoder = new TextDecoder();
      let text = '';
      let parts = 0;
      for await (const bytes of res.body as unknown as AsyncIterable<Uint8Array>) {
        text += decoder.decode(bytes, { stream: true });
        const now = (text.match(/"content":"[^"]/g) ?? []).length;
        if (parts < 4 && now >= 4) worker.child.kill('SIGKILL');
        parts = now;
      }
      const events = text.split('\n\n').filter((e) => e.startsWith('data: ')).map((e) => e.slice(6));
      const last = JSON.parse(events.at(-1)!) as { error: { message: string }; usage: { completion_tokens: number }; cost: { totalNanoTon: number } };
      expect(last.error.message).toMatch(/worker/);
      const answer = await answerOf(net, id);
      expect(answer.outcome).toBe('interrupted');
      expect(answer.usage!.completion_tokens).toBeGreaterThanOrEqual(4);
      // The stream's error event carried the same usage and cost.
      expect(last.usage).toEqual(answer.usage);
      expect(last.cost.totalNanoTon).toBe(answer.cost!.totalNanoTon);
      expect(answer.received).toEqual(answer.usage);
      expect(answer.charge.state).toBe('signed');
      const after = s.proxy.ledger.account('client', s.contracts.client)!;
      expect(after.units - (before?.units ?? 0n)).toBe(BigInt(referenceAdjustedTotal(answer.usage!, net.pricing.multipliers)) * 10_000n);
      expect(after.answers - (before?.answers ?? 0)).toBe(1);
      expect(s.proxy.ledger.audit().ok).toBe(true);
    } finally {
      await stopRole(worker.child);
    }
  }, 240_000);

  it('the client refuses a request above its own caps before it leaves, naming the cap and the flag', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cocoon-caps-'));
    dirs.push(dir);
    const body = (maxTokens: number) => JSON.stringify({ model: 'Qwen/Qwen3-0.6B', messages: [{ role: 'user', content: 'hi' }], max_tokens: maxTokens });
    // Caps sized on the network's pricing: one request of max_tokens 8 fits, a second does not fit the session.
    const { DEFAULT_PRICING } = await import('../payments/pricing.ts');
    const w = worstCaseNano(Buffer.byteLength(body(8)), 8, DEFAULT_PRICING, 4000);
    const net = await start({ clientLimits: { maxRequestNano: w + 1n, maxSessionNano: w + 1n, maxCoefficient: 4000 }, chainDataDir: join(dir, 'chain') });
    expect(net.models[0]).toBe('Qwen/Qwen3-0.6B');
    const calls = net.engine!.stats().requests;
    const post = (b: string) => fetch(`${net.openaiUrl}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: b });
    const big = await post(body(1000).replace('"max_tokens":1000', '"max_tokens":1000'));
    expect(big.status).toBe(400);
    const bigErr = ((await big.json()) as { error: { code: string; message: string } }).error;
    expect(bigErr.code).toBe('request_cost_cap');
    expect(bigErr.message).toMatch(/--max-cost-per-request/);
    expect(net.engine!.stats().requests).toBe(calls);
    expect((await post(body(8))).status).toBe(200);
    const second = await post(body(8));
    expect(second.status).toBe(429);
    expect(((await second.json()) as { error: { code: string; message: string } }).error).toMatchObject({ code: 'session_cost_cap', message: expect.stringMatching(/--max-cost-per-session/) });
    expect(net.engine!.stats().requests).toBe(calls + 1);
    const status = (await (await fetch(`${net.openaiUrl}/cocoon/status`)).json()) as ClientStatus;
    expect(status.payments.limits.maxCostPerSessionNano).toBe((w + 1n).toString());
    expect(BigInt(status.payments.spentNano)).toBeGreaterThan(0n);
  }, 240_000);

  it('a client that stopped trusting its proxy refuses to use it, says why in its status, and keeps the flag across restarts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cocoon-blocked-'));
    dirs.push(dir);
    const opts = { chainDataDir: join(dir, 'chain'), paymentsDataDir: join(dir, 'payments') };
    let net = await start(opts);
    const s = net.settlement!;
    // What StoreClientSettlement.onPayment does on a charge above what was received (tested in payments/party-settlement.test.ts).
    s.client.store.flag(s.contracts.proxy, 'proxy charged more than this client received: test');
    const res = await fetch(`${net.openaiUrl}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: net.models[0], messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 }) });
    expect(res.status).toBe(503);
    const err = ((await res.json()) as { error: { code: string; message: string } }).error;
    expect(err.code).toBe('proxy_blocked');
    expect(err.message).toMatch(/stopped using proxy .*charged more than this client received/);
    const status = (await (await fetch(`${net.openaiUrl}/cocoon/status`)).json()) as ClientStatus;
    expect(status.payments.blocked).toMatch(/charged more than this client received/);
    await net.stop();
    nets.splice(nets.indexOf(net), 1);
    net = await start(opts);
    const again = (await (await fetch(`${net.openaiUrl}/cocoon/status`)).json()) as ClientStatus;
    expect(again.payments.blocked).toMatch(/charged more than this client received/);
  }, 240_000);
});

/**
 * Money end to end on the embedded chain: the local network with settlement on (real ledger and
 * party stores in SQLite files, real contracts in the sandbox chain), requests through the
 * official openai client, then settlement. The client contract is charged exactly the value of
 * the cumulative adjusted tokens of what it received, the worker contract paid exactly its share,
 * the proxy contract earned the rest. A client with no contract gets 402 before any engine call.
 * (In-process roles; the crash and rollback tests with separate processes are not written yet.)
 */
import OpenAI from 'openai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Address } from '@ton/core';
import { afterAll, describe, expect, it } from 'vitest';
import { startLocalNetwork, type LocalNetwork } from './local-network.ts';
import { Chain } from '../chain/chain.ts';
import { readClientData, readProxyData, readWorkerData } from '../chain/contract-state.ts';
import { createLogger } from '../log.ts';

const log = createLogger('test');

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

describe('every token is paid for on the local chain', () => {
  const dirs: string[] = [];
  const nets: LocalNetwork[] = [];
  afterAll(async () => {
    for (const n of nets) await n.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  const start = async (o: { openClientContract?: boolean } = {}) => {
    const dir = mkdtempSync(join(tmpdir(), 'cocoon-money-'));
    dirs.push(dir);
    const net = await startLocalNetwork({ workers: 2, chainDataDir: join(dir, 'local-chain'), chainAnnounceFile: false, log, ...o });
    nets.push(net);
    return net;
  };

  it('charges the client exactly Σ cost, pays the worker its share, the proxy keeps the rest', async () => {
    const net = await start();
    const s = net.settlement!;
    const chain = new Chain({ network: 'local', endpoint: net.chain!.endpoint });
    const before = { client: (await readClientData(chain, Address.parse(s.contracts.client)))!, proxy: (await readProxyData(chain, Address.parse(s.contracts.proxy)))! };
    const openai = new OpenAI({ baseURL: net.openaiUrl, apiKey: 'unused', maxRetries: 0 });
    const multipliers = net.pricing.multipliers;
    let adjusted = 0;
    for (let i = 0; i < 6; i++) {
      const res = await openai.chat.completions.create({ model: net.models[0]!, messages: [{ role: 'user', content: `question number ${i} ${'x'.repeat(i * 7)}` }], max_tokens: 5 + i * 3 });
      // OpenAI usage is the engine's raw count; the cost breakdown is the adjusted tokens charged.
      const one = referenceAdjustedTotal(res.usage!, multipliers);
      expect((res as unknown as { cost: { totalNanoTon: number } }).cost.totalNanoTon).toBe(one * net.pricing.pricePerToken);
      adjusted += one;
    }
    const tokens = BigInt(adjusted);
    // The proxy commits ended answers in groups (within a few ms of the answer's end).
    await expect.poll(() => s.proxy.ledger.account('client', s.contracts.client)?.counter, { timeout: 1_000 }).toBe(tokens);
    // The client holds a signed charge for exactly that and accepted it (no refusal, no rollback);
    // the proxy signs in batches, so the charge covering the last answer comes within its window.
    await expect.poll(() => s.client.store.holding(s.contracts.proxy, s.contracts.client), { timeout: 3_000 }).toMatchObject({ signedCounter: tokens, rollback: null });

    const results = await s.proxy.scheduler.settleNow();
    expect(results.map((r) => r.outcome.status).every((x) => x === 'confirmed')).toBe(true);
    const after = (await readClientData(chain, Address.parse(s.contracts.client)))!;
    expect(after.tokensUsed - before.client.tokensUsed).toBe(tokens);
    expect(before.client.balance - after.balance).toBe(tokens * BigInt(net.pricing.pricePerToken));
    const w = (await readWorkerData(chain, Address.parse(s.contracts.worker)))!;
    expect(w.tokens).toBe(s.proxy.ledger.account('worker', s.contracts.worker)!.counter);
    // Both dev workers share the worker wallet, so one worker contract holds all answers.
    expect(w.tokens).toBe(tokens);
    let p = (await readProxyData(chain, Address.parse(s.contracts.proxy)))!;
    for (let i = 0; i < 50 && p.balance === before.proxy.balance; i++) { await new Promise((r) => setTimeout(r, 100)); p = (await readProxyData(chain, Address.parse(s.contracts.proxy)))!; }
    expect(p.balance - before.proxy.balance).toBe(tokens * BigInt(net.pricing.pricePerToken - net.pricing.workerFeePerToken));
    expect(s.proxy.ledger.audit().ok).toBe(true);
  }, 240_000);

  it('answers 402 in the OpenAI error shape before any engine call when the client contract cannot pay', async () => {
    const net = await start({ openClientContract: false });
    const calls = net.engine!.stats().requests;
    const res = await fetch(`${net.openaiUrl}/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: net.models[0], messages: [{ role: 'user', content: 'hello' }], max_tokens: 16 }),
    });
    expect(res.status).toBe(402);
    const body = (await res.json()) as { error: { type: string; code: string; needed_nano: string; balance_nano: string; message: string } };
    expect(body.error).toMatchObject({ type: 'insufficient_quota', code: 'insufficient_balance', balance_nano: '0' });
    expect(BigInt(body.error.needed_nano)).toBeGreaterThan(0n);
    expect(body.error.message).toMatch(/Top up at least/);
    expect(net.engine!.stats().requests).toBe(calls);
  }, 240_000);
});

describe('a proxy restarted from an older copy of its ledger', () => {
  it('refuses to start: its ledger is older than the state it committed on chain (workers, which check too, never see it)', async () => {
    const { copyFileSync, existsSync, rmSync: rm } = await import('node:fs');
    const dir = mkdtempSync(join(tmpdir(), 'cocoon-rollback-'));
    const opts = { workers: 1, chainDataDir: join(dir, 'local-chain'), chainAnnounceFile: false as const, log };
    const ask = async (net: LocalNetwork, n: number) => {
      const openai = new OpenAI({ baseURL: net.openaiUrl, apiKey: 'unused', maxRetries: 0 });
      for (let i = 0; i < n; i++) await openai.chat.completions.create({ model: net.models[0]!, messages: [{ role: 'user', content: `q${i}` }], max_tokens: 6 });
    };
    try {
      let net = await startLocalNetwork(opts);
      await ask(net, 2);
      const ledgerPath = join(net.settlement!.dirs.proxy, 'proxy-ledger.sqlite');
      await net.stop();
      copyFileSync(ledgerPath, join(dir, 'old-ledger.sqlite'));
      net = await startLocalNetwork(opts);
      await ask(net, 2);
      await net.stop();
      // The operator restores the older copy.
      for (const suffix of ['-wal', '-shm']) if (existsSync(ledgerPath + suffix)) rm(ledgerPath + suffix);
      copyFileSync(join(dir, 'old-ledger.sqlite'), ledgerPath);
      // The proxy compares its ledger's commits with the newest one on its contract (proxy_save_state).
      await expect(startLocalNetwork(opts)).rejects.toThrow(/older than the state this proxy committed on chain: the ledger's last commit is seqno \d+, the chain holds seqno \d+/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);
});

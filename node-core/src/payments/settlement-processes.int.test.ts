/**
 * Money with the roles as separate processes: `cocoon proxy|worker|client --settle` each in its
 * own process, talking to the embedded chain over its loopback TON HTTP API. The chain runs in
 * this test process (it is the one thing the proxy's crash must not take down: the real network
 * outlives a proxy too), announced in the children's COCOON_HOME as `cocoon chain up` does.
 * Two workers with different owners, real SQLite files, real contracts.
 *
 * N requests → the proxy is killed with SIGKILL while answers stream → restarted on the same
 * ledger → more requests → graceful stop (which settles). Then, to the nanoTON: the client
 * contract was charged exactly Σ cost of the answers the client completed, each worker contract
 * holds exactly what its worker counted itself, the proxy contract earned exactly the rest, and
 * no answer was recorded twice.
 */
import OpenAI from 'openai';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Address, toNano } from '@ton/core';
import { mnemonicNew } from '@ton/crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { startLocalChain, type LocalChain } from '../chain/local/local-chain.ts';
import { Chain } from '../chain/chain.ts';
import { readClientData, readProxyData, readRootData, readWorkerData } from '../chain/contract-state.ts';
import { clientContractFor, workerContractFor } from '../chain/settlement.ts';
import { pricingOf } from '../../../contracts/wrappers/Root.ts';
import { createLogger } from '../log.ts';
import { ClientAccount } from './client-account.ts';
import { ProxyLedger } from './proxy-ledger.ts';
import { WorkerPaymentStore } from './worker-payment-store.ts';
import { ClientPaymentStore } from './client-payment-store.ts';

const CLI = fileURLToPath(new URL('../../bin/cocoon.mjs', import.meta.url));

interface Role { child: ChildProcess; info: Record<string, unknown>; stderr: () => string }

function spawnRole(home: string, args: string[]): Promise<Role> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, COCOON_HOME: home, COCOON_LOG_LEVEL: 'warn' };
    for (const k of ['COCOON_NETWORK', 'COCOON_TON_ENDPOINT', 'COCOON_ROOT_ADDRESS', 'COCOON_WALLET_MNEMONIC']) delete env[k];
    const child = spawn(process.execPath, [CLI, ...args, '--json'], { stdio: ['ignore', 'pipe', 'pipe'], env });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr = (stderr + d).slice(-6000)));
    createInterface({ input: child.stdout! }).once('line', (line) => {
      try {
        resolve({ child, info: JSON.parse(line) as Record<string, unknown>, stderr: () => stderr });
      } catch {
        reject(new Error(`${args[0]} printed "${line.slice(0, 200)}":\n${stderr}`));
      }
    });
    child.once('exit', (code) => reject(new Error(`${args[0]} exited with ${code} before it was ready:\n${stderr}`)));
  });
}

async function stop(r: Role | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!r || r.child.exitCode !== null || r.child.signalCode !== null) return;
  const exited = new Promise((res) => r.child.once('exit', res));
  r.child.kill(signal);
  const t = setTimeout(() => r.child.kill('SIGKILL'), 30_000);
  await exited;
  clearTimeout(t);
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

describe('settlement with every role in its own process', () => {
  const home = mkdtempSync(join(tmpdir(), 'cocoon-procs-'));
  const roles: Role[] = [];
  let local: LocalChain | undefined;
  afterAll(async () => {
    for (const r of roles.reverse()) await stop(r, 'SIGKILL');
    await local?.stop();
    rmSync(home, { recursive: true, force: true });
  });

  it('charges Σ cost, pays each worker owner its share, proxy keeps the rest; a proxy killed mid-stream charges nothing twice', async () => {
    local = await startLocalChain({ dataDir: join(home, 'chain'), port: 0, announceFile: join(home, 'local-chain.json'), log: createLogger('chain') });
    const chain = new Chain({ network: 'local', endpoint: local.endpoint, rootAddress: local.rootAddress });
    const pricing = pricingOf((await readRootData(chain.config, Address.parse(local.rootAddress))).params);
    // The second worker's owner: a fresh wallet, funded on the development chain.
    const words = await mnemonicNew(24);
    const ownerB = await chain.wallet(words);
    await local.fund(ownerB.address.toString(), toNano('50'));
    writeFileSync(join(home, 'owner-b.words'), words.join(' '), { mode: 0o600 });
    const ownerA = local.wallets.find((w) => w.name === 'worker')!;

    const dev = ['--quote', 'fake', '--policy', 'any'];
    const proxyArgs = ['proxy', ...dev, '--pow-difficulty', '0', '--settle', '--local-wallet', 'proxy', '--data-dir', join(home, 'proxy')];
    let proxy = await spawnRole(home, proxyArgs);
    roles.push(proxy);
    const proxyContract = Address.parse((proxy.info.settlement as { proxyContract: string }).proxyContract);
    const workerPort = proxy.info.workerPort as number;
    const clientPort = proxy.info.clientPort as number;

    // The client's owner opens its contract (as the app's wallet panel does), with room for the test's answers.
    const account = await ClientAccount.openLocal({ endpoint: local.endpoint, rootAddress: local.rootAddress, chainDataDir: join(home, 'chain') });
    await account.stake((await account.state()).minStakeNano);
    const clientContract = (await clientContractFor(chain, proxyContract, Address.parse(local.wallets.find((w) => w.name === 'client')!.address))).address;
    const workerContracts = [
      (await workerContractFor(chain, proxyContract, Address.parse(ownerA.address))).address,
      (await workerContractFor(chain, proxyContract, ownerB.address)).address,
    ];

    const workerArgs = (i: number) => ['worker', ...dev, '--proxy', `127.0.0.1:${workerPort}`, '--token-delay-ms', '15', '--max-active', '4', '--settle',
      ...(i === 0 ? ['--local-wallet', 'worker'] : ['--wallet-mnemonic-file', join(home, 'owner-b.words')]), '--data-dir', join(home, `worker-${i}`)];
    for (let i = 0; i < 2; i++) roles.push(await spawnRole(home, workerArgs(i)));
    const client = await spawnRole(home, ['client', '--policy', 'any', '--proxy', `127.0.0.1:${clientPort}`, '--no-api-key', '--settle', '--local-wallet', 'client', '--data-dir', join(home, 'client')]);
    roles.push(client);

    const before = {
      client: (await readClientData(chain, clientContract))!,
      proxy: (await readProxyData(chain, proxyContract))!,
      ownerA: (await chain.getAccount(Address.parse(ownerA.address))).balance,
      ownerB: (await chain.getAccount(ownerB.address)).balance,
    };
    const openai = new OpenAI({ baseURL: client.info.openai as string, apiKey: 'unused', maxRetries: 0 });
    const models = await openai.models.list();
    const model = models.data[0]!.id;
    let adjusted = 0;
    let completed = 0;
    const ask = async (i: number) => {
      const res = await openai.chat.completions.create({ model, messages: [{ role: 'user', content: `question ${i} ${'y'.repeat(i * 5)}` }], max_tokens: 3 + (i % 5) * 2 });
      adjusted += referenceAdjustedTotal(res.usage!, pricing.multipliers);
      completed++;
    };
    for (let i = 0; i < 6; i++) await ask(i);

    // Streams in flight, then the proxy process dies at once.
    const streams = await Promise.all([0, 1, 2].map(() => openai.chat.completions.create({ model, messages: [{ role: 'user', content: 'a long answer please' }], max_tokens: 400, stream: true })));
    const firstChunks = await Promise.all(streams.map(async (s) => (await s[Symbol.asyncIterator]().next()).done === false));
    expect(firstChunks.every(Boolean)).toBe(true);
    await stop(proxy, 'SIGKILL');
    await Promise.all(streams.map(async (s) => {
      try {
        for await (const chunk of s) void chunk;
      } catch {
        // the stream breaks with the proxy: nothing of it is charged (the answer never ended at the proxy)
      }
    }));

    // Restarted on the same ledger file and port; the workers and the client redial on their own.
    proxy = await spawnRole(home, [...proxyArgs, '--port', String(clientPort), '--worker-port', String(workerPort)]);
    roles.push(proxy);
    expect(proxy.info.clientPort).toBe(clientPort);
    for (let i = 6, tries = 0; i < 11; tries++) {
      try {
        await ask(i);
        i++;
      } catch (err) {
        if (tries > 60) throw new Error(`${String(err)}\n${roles.map((r) => `--- ${String(r.child.spawnargs[2])}\n${r.stderr()}`).join('\n')}`);
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    // A graceful stop settles everything outstanding (scheduler flush), then the chain is read.
    await stop(proxy);
    const tokens = BigInt(adjusted);

    const ledger = ProxyLedger.openForReading(join(home, 'proxy', 'proxy-ledger.sqlite'));
    let workerCounters: bigint[];
    try {
      workerCounters = workerContracts.map((c) => ledger.account('worker', c.toString())?.counter ?? 0n);
      expect(ledger.audit().ok).toBe(true);
      const acct = ledger.account('client', clientContract.toString())!;
      // Exactly the answers the client completed: none of the killed streams, none twice.
      expect(Number(acct.answers)).toBe(completed);
      expect(acct.counter).toBe(tokens);
    } finally {
      ledger.close();
    }
    const after = { client: (await readClientData(chain, clientContract))!, proxy: (await readProxyData(chain, proxyContract))! };
    expect(after.client.tokensUsed - before.client.tokensUsed).toBe(tokens);
    expect(before.client.balance - after.client.balance).toBe(tokens * BigInt(pricing.pricePerToken));

    let paidNano = 0n;
    for (let i = 0; i < 2; i++) {
      const own = WorkerPaymentStore.open(join(home, `worker-${i}`, 'worker-payments.sqlite'), { readonly: true });
      const h = own.holdings()[0]!;
      own.close();
      const w = (await readWorkerData(chain, workerContracts[i]!))!;
      // Each worker contract was paid exactly the proxy's signed counter for it, which the worker
      // holds, and never more than the worker counted itself (its own count also has the answers
      // cut by the kill, which the proxy never recorded and nobody is charged for).
      expect(h.rollback).toBeNull();
      expect(w.tokens).toBe(workerCounters[i]);
      expect(h.signedCounter).toBe(w.tokens);
      expect(w.tokens).toBeGreaterThan(0n);
      expect(w.tokens).toBeLessThanOrEqual(h.ownCounter);
      paidNano += w.tokens * BigInt(pricing.workerFeePerToken);
      const ownerNow = (await chain.getAccount(i === 0 ? Address.parse(ownerA.address) : ownerB.address)).balance;
      const share = w.tokens * BigInt(pricing.workerFeePerToken);
      // The payout lands at the owner's wallet (less the forwarding fees of the last hop).
      expect(ownerNow - (i === 0 ? before.ownerA : before.ownerB)).toBeGreaterThan(share - toNano('0.05'));
    }
    // The proxy contract: its owner's earnings rose by exactly price − fee per token; the worker reserve holds what is not yet paid out.
    const charged = tokens * BigInt(pricing.pricePerToken);
    expect(after.proxy.balance - before.proxy.balance).toBe(tokens * BigInt(pricing.pricePerToken - pricing.workerFeePerToken));
    expect(after.proxy.workerReserve - before.proxy.workerReserve).toBe(charged - (after.proxy.balance - before.proxy.balance) - paidNano);
    // The client accepted every signed charge (none above what it received) and holds the final one.
    await stop(client);
    const cs = ClientPaymentStore.open(join(home, 'client', 'client-payments.sqlite'), { readonly: true });
    try {
      expect(cs.holdings()[0]).toMatchObject({ signedCounter: tokens, rollback: null });
    } finally {
      cs.close();
    }
  }, 300_000);
});


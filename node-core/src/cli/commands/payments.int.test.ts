/**
 * `cocoon status` and `cocoon settle` as separate processes against real store files and the
 * embedded chain: status shows ledger/signed/on-chain amounts as decimal nanoTON strings; settle
 * without a wallet fails saying what is missing; settle with the proxy's wallet puts every signed
 * counter on chain and status then shows it there.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startLocalChain, type LocalChain } from '../../chain/local/local-chain.ts';
import { ProxyLedger } from '../../payments/proxy-ledger.ts';
import { WorkerPaymentStore } from '../../payments/worker-payment-store.ts';
import { deployLocalContracts, signLedgerCounter } from '../../payments/testing/local-contracts.ts';
import { readClientData } from '../../chain/contract-state.ts';

const CLI = fileURLToPath(new URL('../../../bin/cocoon.mjs', import.meta.url));

describe('cocoon status / settle', () => {
  let home: string;
  let local: LocalChain;
  // Asynchronous on purpose: the local chain answers from this process's event loop.
  const cocoon = (...args: string[]) => new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, COCOON_HOME: home, COCOON_LOG_LEVEL: 'silent', COCOON_WALLET_MNEMONIC: '', COCOON_NETWORK: '' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'cocoon-pay-cli-'));
    local = await startLocalChain({ dataDir: join(home, 'local-chain'), announceFile: join(home, 'local-chain.json') });
  });
  afterAll(async () => {
    await local?.stop();
    rmSync(home, { recursive: true, force: true });
  });

  it('reports, refuses to settle without a wallet, settles with one, and reports it on chain', async () => {
    const net = await deployLocalContracts(local);
    const C = net.client.address.toString();
    const W = net.worker.address.toString();
    const ledger = ProxyLedger.open(join(home, 'proxy', 'proxy-ledger.sqlite'), { pricing: net.pricing });
    ledger.recordAnswer({ requestId: 'a', clientContract: C, workerContract: W, tokens: { prompt: 900, cached: 100, completion: 400, reasoning: 50 }, outcome: 'completed' });
    ledger.recordAnswer({ requestId: 'b', clientContract: C, workerContract: W, tokens: { prompt: 10, cached: 0, completion: 3, reasoning: 0 }, coefficient: 1200, outcome: 'failed' });
    signLedgerCounter(ledger, net.proxyKey, 'client', net.client.address);
    signLedgerCounter(ledger, net.proxyKey, 'worker', net.worker.address);
    ledger.recordAnswer({ requestId: 'c', clientContract: C, workerContract: W, tokens: { prompt: 5, cached: 0, completion: 5, reasoning: 0 }, outcome: 'completed' });
    const client = ledger.account('client', C)!;
    const worker = ledger.account('worker', W)!;
    ledger.close();
    // A worker data dir beside it: an empty store is reported without error.
    WorkerPaymentStore.open(join(home, 'worker', 'worker-payments.sqlite')).close();

    const before = await cocoon('status', '--json', '--data-dir', home);
    expect(before.stderr).toBe('');
    expect(before.status).toBe(0);
    const s1 = JSON.parse(before.stdout);
    expect(s1.client.charged).toEqual({ ledger: client.nano.toString(), signed: client.signedNano.toString(), onChain: '0' });
    expect(BigInt(s1.client.charged.ledger)).toBeGreaterThan(BigInt(s1.client.charged.signed));
    expect(s1.client.unsettled).toBe(client.signedNano.toString());
    expect(s1.workers).toEqual([expect.objectContaining({ contract: W, paid: { ledger: worker.nano.toString(), signed: worker.signedNano.toString(), onChain: '0' }, source: 'proxy' })]);
    expect(s1.proxy).toMatchObject({ answers: 3, earned: { ledger: (client.nano - worker.nano).toString(), onChain: null }, invariant: { ok: true } });
    expect(s1.settlement.map((x: { kind: string; due: boolean }) => x.kind).sort()).toEqual(['charge', 'payout']);

    const human = await cocoon('status', '--data-dir', home);
    expect(human.stdout).toMatch(/charged +ledger [\d.]+ TON · signed [\d.]+ TON · on chain 0 TON/);

    const noWallet = await cocoon('settle', '--data-dir', home);
    expect(noWallet.status).toBe(1);
    expect(noWallet.stderr).toMatch(/no wallet was given to pay their fees/);
    expect(noWallet.stderr).toMatch(/--wallet-mnemonic-file/);

    const settled = await cocoon('settle', '--json', '--data-dir', home, '--local-wallet', 'proxy');
    expect(settled.stderr).toBe('');
    expect(settled.status, settled.stdout).toBe(0);
    expect(JSON.parse(settled.stdout)).toMatchObject({ submitted: 2, confirmed: 2, failed: 0 });

    const s2 = JSON.parse((await cocoon('status', '--json', '--data-dir', home)).stdout);
    expect(s2.client.charged.onChain).toBe(client.signedNano.toString());
    expect(s2.workers[0].paid.onChain).toBe(worker.signedNano.toString());
    expect(s2.client.unsettled).toBe('0');
    expect(s2.settlement).toEqual([]);
    const onChain = (await readClientData(net.chain, net.client.address))!;
    expect(onChain.tokensUsed).toBe(client.signedCounter);

    expect((await cocoon('settle', '--data-dir', home)).stdout).toMatch(/nothing to settle/);
  }, 180_000);
});

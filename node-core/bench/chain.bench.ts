/**
 * Contracts and local chain figures: gas per operation (sandbox), and the embedded local chain's
 * latency through TonClient (get method, a confirmed wallet transfer, a confirmed charge).
 *   npx tsx -e "import('./node-core/bench/chain.bench.ts').then(m => m.run([]))"
 * or `npm run bench -- chain` once registered in scripts/bench.mjs. Writes bench-results/chain.json.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Address, beginCell, toNano } from '@ton/core';
import { mnemonicToPrivateKey } from '@ton/crypto';
import { measureGas } from '../../contracts/gas.ts';
import { startLocalChain } from '../src/chain/local/local-chain.ts';
import { Chain } from '../src/chain/chain.ts';
import { Root } from '../../contracts/wrappers/Root.ts';
import { Body } from '../../contracts/wrappers/protocol.ts';
import { DEPLOY_VALUE, deployProxy } from '../src/chain/deploy.ts';
import { readRootData } from '../src/chain/contract-state.ts';
import { clientContractFor, signCharge, submitCharge } from '../src/chain/settlement.ts';

function quantiles(ms: number[]) {
  const s = [...ms].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  return { n: s.length, p50: +q(0.5).toFixed(2), p95: +q(0.95).toFixed(2), max: +s[s.length - 1]!.toFixed(2) };
}

async function timed(n: number, fn: (i: number) => Promise<unknown>) {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn(i);
    ms.push(performance.now() - t);
  }
  return quantiles(ms);
}

export async function run(args: string[]): Promise<void> {
  const rounds = Number(args[0] ?? 20);
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 1000) throw new Error(`rounds must be 1..1000, got ${args[0]}`);
  const gas = Object.fromEntries((await measureGas()).map((c) => [c.operation, Number(c.totalFees)]));

  const dir = mkdtempSync(join(tmpdir(), 'cocoon-chain-bench-'));
  const startT = performance.now();
  const local = await startLocalChain({ dataDir: dir, announceFile: false });
  const genesisMs = performance.now() - startT;
  try {
    const chain = new Chain({ network: 'local', endpoint: local.endpoint });
    const root = chain.open(Root.createFromAddress(Address.parse(local.rootAddress)));
    const getMethod = await timed(rounds, () => readRootData(chain.config, root.address));
    const [proxyW, clientW] = await Promise.all([1, 2].map((i) => chain.wallet(local.wallets[i]!.mnemonic)));
    const sink = Address.parse(local.wallets[3]!.address);
    const transfer = await timed(rounds, () => clientW!.sendAndWait([{ to: sink, value: 1000n, bounce: false }]));

    const proxyKey = await mnemonicToPrivateKey(local.wallets[1]!.mnemonic);
    const { address: proxy } = await deployProxy(chain, proxyW!, { root: root.address, publicKey: proxyKey.publicKey });
    const client = await clientContractFor(chain, proxy, clientW!.address);
    await clientW!.sendAndWait([
      { to: client.address, value: DEPLOY_VALUE, init: client.init, body: beginCell().endCell() },
      { to: client.address, value: toNano('16'), body: Body.clientTopUp(1n, toNano('15'), clientW!.address) },
    ]);
    const charge = await timed(rounds, (i) => submitCharge(chain, proxyW!, signCharge(client.address, BigInt(150 * (i + 1)), proxyKey)));

    const result = { gasNanoTon: gas, localChain: { genesisMs: +genesisMs.toFixed(0), getMethodMs: getMethod, confirmedTransferMs: transfer, confirmedChargeMs: charge } };
    const rows = [
      ['local chain genesis (compile + deploy)', `${result.localChain.genesisMs} ms`],
      ['root state read (parse data cell) p50/p95', `${getMethod.p50} / ${getMethod.p95} ms`],
      ['confirmed wallet transfer p50/p95', `${transfer.p50} / ${transfer.p95} ms`],
      ['confirmed charge (sign+submit+verify) p50/p95', `${charge.p50} / ${charge.p95} ms`],
      ...Object.entries(gas).map(([op, nano]) => [`gas ${op}`, `${nano} nanoTON`]),
    ];
    for (const [k, v] of rows) process.stdout.write(`${k!.padEnd(48)} ${v}\n`);
    mkdirSync('bench-results', { recursive: true });
    writeFileSync(join('bench-results', 'chain.json'), JSON.stringify(result, null, 2) + '\n');
  } finally {
    await local.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

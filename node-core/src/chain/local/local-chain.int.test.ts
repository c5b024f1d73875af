import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, mkdirSync, rmSync, statSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Address, beginCell, toNano } from '@ton/core';
import { WalletContractV4 } from '@ton/ton';
import { mnemonicToPrivateKey } from '@ton/crypto';
import { startLocalChain, type LocalChain } from './local-chain.ts';
import { Chain } from '../chain.ts';
import { Root, DEFAULT_ROOT_PARAMS, rootHashBody } from '../../../../contracts/wrappers/Root.ts';
import { Proxy } from '../../../../contracts/wrappers/Proxy.ts';
import { compileAll } from '../../../../contracts/compile.ts';
import { Body } from '../../../../contracts/wrappers/protocol.ts';
import { readRootData } from '../contract-state.ts';

describe('embedded local chain through TonClient', () => {
  let dir: string;
  let local: LocalChain;
  let chain: Chain;
  const announce = () => join(dir, 'home', 'local-chain.json');

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cocoon-chain-'));
    local = await startLocalChain({ dataDir: join(dir, 'data'), port: 0, announceFile: announce() });
    chain = new Chain({ network: 'local', endpoint: local.endpoint, rootAddress: local.rootAddress });
  });

  afterAll(async () => {
    await local?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves on loopback, announces itself, and keeps wallet mnemonics private', () => {
    expect(local.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/jsonRPC$/);
    const a = JSON.parse(readFileSync(announce(), 'utf8')) as { endpoint: string; rootAddress: string; pid: number };
    expect(a).toMatchObject({ endpoint: local.endpoint, rootAddress: local.rootAddress, pid: process.pid });
    expect(statSync(join(dir, 'data', 'wallets.json')).mode & 0o077).toBe(0);
    expect(local.wallets.map((w) => w.name)).toEqual(['owner', 'proxy', 'client', 'worker']);
  });

  it('reads the root configuration by parsing its data cell, as on mainnet', async () => {
    const root = await readRootData(chain.config, Address.parse(local.rootAddress));
    const { uniqueId, ...rest } = root.params;
    const { uniqueId: _u, ...defaults } = DEFAULT_ROOT_PARAMS;
    expect(rest).toEqual(defaults);
    expect(uniqueId).toBeGreaterThan(0); // random per chain: binds signatures to this network
    expect(root.owner.equals(Address.parse(local.wallets[0]!.address))).toBe(true);
    const codes = await compileAll();
    expect(root.codes.client?.equals(codes.client)).toBe(true);
    const info = await chain.client.getMasterchainInfo();
    expect(info.latestSeqno).toBeGreaterThan(0);
  });

  it('mints development funds to any address, refusing bad input', async () => {
    const fresh = Address.parse('0:' + 'ab'.repeat(32));
    await local.fund(fresh.toString(), toNano('3'));
    expect((await chain.getAccount(fresh)).balance).toBe(toNano('3'));
    await expect(local.fund('nope', 1n)).rejects.toMatchObject({ code: 'bad_address' });
    await expect(local.fund(fresh.toString(), 0n)).rejects.toMatchObject({ code: 'bad_amount' });
  });

  it('funds the dev wallets', async () => {
    for (const w of local.wallets) {
      const acct = await chain.getAccount(Address.parse(w.address));
      expect(acct.balance).toBe(toNano('100000'));
    }
  });

  it('sends a real signed wallet transaction that updates the root, visible in getTransactions', async () => {
    const owner = await chain.wallet(local.wallets[0]!.mnemonic);
    const root = chain.open(Root.createFromAddress(Address.parse(local.rootAddress)));
    const before = await chain.getAccount(root.address);
    const body = rootHashBody('model', 0x1234n);
    await owner.sendAndWait([{ to: root.address, value: toNano('0.05'), body }]);
    const tx = await chain.waitForTransaction(root.address, { afterLt: before.lastTransaction?.lt ?? 0n, timeoutMs: 20_000 });
    expect(tx.inMessage?.info.src?.toString()).toBe(owner.address.toString());
    expect((await readRootData(chain.config, root.address)).modelHashes).toEqual([0x1234n]);
    expect(await root.getVersion()).toBe(1);
    expect(await owner.seqno()).toBe(1);
    // A second transfer exercises the deployed-wallet path (seqno 1).
    await owner.sendAndWait([{ to: root.address, value: toNano('0.05'), body: rootHashBody('model', 7n) }]);
    expect(await root.getVersion()).toBe(2);
  });

  it('deploys a proxy contract with its state init through a wallet', async () => {
    const codes = await compileAll();
    const proxyWallet = await chain.wallet(local.wallets[1]!.mnemonic);
    const key = await mnemonicToPrivateKey(local.wallets[1]!.mnemonic);
    const { params } = await readRootData(chain.config, Address.parse(local.rootAddress));
    const proxy = Proxy.createFromConfig({
      owner: proxyWallet.address, publicKey: key.publicKey, root: Address.parse(local.rootAddress), params,
      clientCode: codes.client, workerCode: codes.worker,
    }, codes.proxy);
    await proxyWallet.sendAndWait([
      { to: proxy.address, value: toNano('0.8'), init: proxy.init, body: beginCell().endCell() },
      { to: proxy.address, value: toNano('15.2'), body: Body.proxyIncreaseStake(1n, toNano('15'), proxyWallet.address) },
    ]);
    await chain.waitForTransaction(proxy.address, { timeoutMs: 20_000 });
    for (let i = 0; i < 50 && (await chain.open(proxy).getData()).stake === 0n; i++) await new Promise((r) => setTimeout(r, 100));
    const state = await chain.open(proxy).getData();
    expect(state.stake).toBeGreaterThanOrEqual(toNano('15'));
    expect(state.owner.equals(proxyWallet.address)).toBe(true);
  });

  it('estimates the fee of an external message by running it on a throwaway copy', async () => {
    const key = await mnemonicToPrivateKey(local.wallets[2]!.mnemonic);
    const wallet = WalletContractV4.create({ workchain: 0, publicKey: key.publicKey });
    const transfer = wallet.createTransfer({ seqno: 0, secretKey: key.secretKey, messages: [] });
    const fee = await chain.client.estimateExternalMessageFee(wallet.address, { body: transfer, initCode: wallet.init.code, initData: wallet.init.data, ignoreSignature: true });
    expect(fee.source_fees.gas_fee).toBeGreaterThan(0);
    expect(fee.source_fees.in_fwd_fee).toBeGreaterThan(0);
    // Nothing was committed.
    expect((await chain.getAccount(wallet.address)).state).toBe('uninitialized');
  });

  it('pages back through history and locates the transaction a message caused', async () => {
    const client = await chain.wallet(local.wallets[2]!.mnemonic);
    const sink = Address.parse(local.wallets[3]!.address);
    const start = await chain.getAccount(sink);
    const sent: bigint[] = [];
    for (let i = 0; i < 23; i++) {
      const tx = await client.sendAndWait([{ to: sink, value: BigInt(1000 + i), bounce: false }]);
      sent.push(tx.lt);
    }
    const received = await chain.transactionsSince(sink, start.lastTransaction?.lt ?? 0n);
    expect(received.map((t) => (t.inMessage?.info.type === 'internal' ? t.inMessage.info.value.coins : -1n)))
      .toEqual(Array.from({ length: 23 }, (_, i) => BigInt(1000 + i)));
    const first = received[0]!;
    const info = first.inMessage!.info;
    if (info.type !== 'internal') throw new Error('expected an internal message');
    const located = await chain.client.tryLocateResultTx(client.address, sink, info.createdLt.toString());
    expect(located.lt).toBe(first.lt);
    const source = await chain.client.tryLocateSourceTx(client.address, sink, info.createdLt.toString());
    expect(source.lt).toBe(sent[0]);
  });

  it('answers the GET form of the API', async () => {
    const r = await fetch(`${local.baseUrl}/getAddressBalance?address=${encodeURIComponent(local.wallets[0]!.address)}`);
    const j = (await r.json()) as { ok: boolean; result: string };
    expect(j.ok).toBe(true);
    expect(BigInt(j.result)).toBeGreaterThan(0n);
  });

  it('rejects malformed requests with a readable error', async () => {
    const r = await fetch(local.endpoint, { method: 'POST', body: JSON.stringify({ id: 1, method: 'getAddressInformation', params: { address: 'nope' } }) });
    const j = (await r.json()) as { ok: boolean; error: string };
    expect(j.ok).toBe(false);
    expect(j.error).toMatch(/not a TON address/);
    const unknown = await fetch(`${local.baseUrl}/getBlockHeader`);
    expect(unknown.status).toBe(404);
    const badBoc = await fetch(local.endpoint, { method: 'POST', body: JSON.stringify({ id: 2, method: 'sendBoc', params: { boc: 'AAAA' } }) });
    expect(((await badBoc.json()) as { error: string }).error).toMatch(/boc/i);
  });

  it('refuses a data directory that another live process holds', async () => {
    const other = join(dir, 'held');
    mkdirSync(other, { recursive: true });
    writeFileSync(join(other, 'LOCK'), String(process.ppid)); // the parent process is alive
    await expect(startLocalChain({ dataDir: other, announceFile: false })).rejects.toMatchObject({ code: 'local_chain_busy' });
  });

  it('persists state across a restart', async () => {
    const version = await chain.open(Root.createFromAddress(Address.parse(local.rootAddress))).getVersion();
    const wallets = local.wallets;
    await local.stop();
    expect(existsSync(announce())).toBe(false);
    local = await startLocalChain({ dataDir: join(dir, 'data'), port: 0, announceFile: announce() });
    chain = new Chain({ network: 'local', endpoint: local.endpoint, rootAddress: local.rootAddress });
    expect(local.wallets).toEqual(wallets);
    const root = chain.open(Root.createFromAddress(Address.parse(local.rootAddress)));
    expect(await root.getVersion()).toBe(version);
    const owner = await chain.wallet(local.wallets[0]!.mnemonic);
    expect(await owner.seqno()).toBe(2);
    const txs = await chain.client.getTransactions(root.address, { limit: 10 });
    expect(txs.length).toBeGreaterThanOrEqual(3);
  });
});

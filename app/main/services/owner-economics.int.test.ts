import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Address, toNano } from '@ton/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Chain, type ChainWallet } from '../../../node-core/src/chain/chain.ts';
import { startLocalChain, type LocalChain } from '../../../node-core/src/chain/local/local-chain.ts';
import { signCharge, submitCharge, workerContractFor } from '../../../node-core/src/chain/settlement.ts';
import { readRootData } from '../../../node-core/src/chain/contract-state.ts';
import { pricingOf } from '../../../contracts/wrappers/Root.ts';
import { ProxyLedger } from '../../../node-core/src/payments/proxy-ledger.ts';
import { ProxyPaymentSigner, signLatest } from '../../../node-core/src/payments/signed-payments.ts';
import { ClientAccount } from '../../../node-core/src/payments/client-account.ts';
import { chainWalletSigner } from '../../../node-core/src/payments/wallet-signer.ts';
import { bucketUsage, ProxyLedgerEarnings } from './earnings-ledger.ts';
import { OwnerEconomics } from './owner-economics.ts';

/**
 * Owner economics on the embedded chain with the real contracts and a real proxy ledger file
 * (answers recorded at chosen times, the payout signed with the proxy contract's key exactly as
 * the running proxy signs it); the chain side is real: a client charged on chain, the payout
 * claimed by the worker's owner, the proxy's stake, withdraw and close. The app reading the
 * running proxy's ledger after real chat requests is tested in app/owner-economics.e2e.test.ts.
 */
let dir: string;
let local: LocalChain;
let chain: Chain;
let proxyContract: Address;
let proxyKey: { publicKey: Buffer; secretKey: Buffer };
let proxyWallet: ChainWallet;
let workerWallet: ChainWallet;
let proxyLedger: ProxyLedger;
let clock = 0;
const NOW = new Date('2026-11-23T12:30:00Z');
let economics: OwnerEconomics;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'owner-economics-'));
  local = await startLocalChain({ dataDir: dir, announceFile: false });
  chain = new Chain({ network: 'local', endpoint: local.endpoint, rootAddress: local.rootAddress });
  const mnemonic = (name: string) => local.wallets.find((w) => w.name === name)!.mnemonic;
  proxyWallet = await chain.wallet(mnemonic('proxy'));
  workerWallet = await chain.wallet(mnemonic('worker'));
  proxyContract = await ClientAccount.localProxyContract(chain, { rootAddress: local.rootAddress, chainDataDir: dir });
  const saved = JSON.parse(readFileSync(join(dir, 'proxy-contract.json'), 'utf8')) as { publicKey: string; secretKey: string };
  proxyKey = { publicKey: Buffer.from(saved.publicKey, 'hex'), secretKey: Buffer.from(saved.secretKey, 'hex') };
  // A client pays for 40,000 tokens: the proxy keeps its share, the worker's share goes to the reserve.
  const account = await ClientAccount.openLocal({ endpoint: local.endpoint, rootAddress: local.rootAddress, chainDataDir: dir });
  await account.stake(toNano('15'));
  await account.topUp(toNano('5'));
  await submitCharge(chain, proxyWallet, signCharge(Address.parse((await account.state()).contract), 40_000n, proxyKey, proxyWallet.address));
  const { params } = await readRootData(chain.config, Address.parse(local.rootAddress));
  proxyLedger = ProxyLedger.open(join(dir, 'proxy-ledger.sqlite'), { pricing: pricingOf(params), now: () => clock });
  economics = new OwnerEconomics({ network: 'local', chain, proxyContract, ledger: new ProxyLedgerEarnings(proxyLedger), now: () => NOW });
}, 180_000);

afterAll(async () => {
  proxyLedger?.close();
  await local?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('owner economics', () => {
  it('without the proxy ledger shows what the chain holds and says what is pending', async () => {
    const bare = new OwnerEconomics({ network: 'local', chain, proxyContract, ledger: null });
    const w = await bare.worker(workerWallet.address, 'day');
    expect(w).toMatchObject({ deployed: false, paidTon: '0', tokensServed: null, signedTon: null, pendingTon: null, claimable: false });
    expect(w.notes[0]).toMatch(/settlement ledger, which this app cannot read/);
    await expect(bare.claim(workerWallet.address, chainWalletSigner(workerWallet))).rejects.toMatchObject({ code: 'no_ledger' });
  });

  it('shows tokens served, TON signed, paid and pending; claim now submits the latest signed payout', async () => {
    const worker = await workerContractFor(chain, proxyContract, workerWallet.address);
    const answer = (requestId: string, at: string, prompt: number, completion: number) => {
      clock = Date.parse(at);
      proxyLedger.recordAnswer({ requestId, clientContract: 'client-contract-of-the-test', workerContract: worker.address.toString(), tokens: { prompt, cached: 0, completion, reasoning: 0 }, outcome: 'completed' });
      signLatest(proxyLedger, new ProxyPaymentSigner(proxyKey), 'worker', worker.address.toString());
    };
    answer('a', '2026-11-23T09:00:00Z', 2_000, 500);
    answer('b', '2026-11-23T12:05:00Z', 4_000, 3_000);
    answer('c', '2026-11-23T12:20:00Z', 6_000, 2_000);
    const account = proxyLedger.account('worker', worker.address.toString())!;
    const ton = (nano: bigint) => String(Number(nano) / 1e9);
    const before = await economics.worker(workerWallet.address, 'hour');
    expect(account.signedCounter).toBe(account.counter);
    expect(before).toMatchObject({ tokensServed: '17500', signedTon: ton(account.nano), paidTon: '0', pendingTon: ton(account.nano), claimable: true });
    expect(before.series).toHaveLength(60);
    expect(before.series.reduce((a, b) => a + b.tokens, 0)).toBe(15_000); // the 09:00 answer is outside the last hour
    const inHour = proxyLedger.answersFor('worker', worker.address.toString(), Date.parse('2026-11-23T11:00:00Z')).reduce((n, a) => n + a.nano, 0n);
    expect(before.series.reduce((a, b) => a + Number(b.earnedTon) * 1e9, 0)).toBeCloseTo(Number(inHour), 3);
    expect(before.payouts).toMatchObject([{ tokens: account.counter.toString(), claimed: false, signedAt: '2026-11-23T12:20:00.000Z' }]);

    // Someone else's wallet cannot claim for this owner.
    await expect(economics.claim(workerWallet.address, chainWalletSigner(proxyWallet))).rejects.toMatchObject({ code: 'wrong_wallet' });
    const { hash, tokens } = await economics.claim(workerWallet.address, chainWalletSigner(workerWallet));
    expect(tokens).toBe(account.counter);
    const after = await economics.worker(workerWallet.address, 'day');
    expect(after).toMatchObject({ deployed: true, paidTon: before.signedTon, pendingTon: '0', claimable: false });
    expect(after.payouts[0]).toMatchObject({ tokens: account.counter.toString(), claimed: true, hash });
    expect(after.series).toHaveLength(24);
    await expect(economics.claim(workerWallet.address, chainWalletSigner(workerWallet))).rejects.toMatchObject({ code: 'nothing_to_claim' });
  });

  it('proxy operator: sees stake, earnings, reserve; stakes, withdraws earnings, requests the close with its delay', async () => {
    const p = await economics.proxy();
    expect(p.deployed).toBe(true);
    expect(Number(p.earningsTon)).toBeGreaterThan(0);
    expect(Number(p.stakeTon)).toBeGreaterThanOrEqual(Number(p.minStakeTon));
    await expect(economics.proxyAct('stake', toNano('1'), chainWalletSigner(workerWallet))).rejects.toMatchObject({ code: 'wrong_wallet' });
    await economics.proxyAct('stake', toNano('1'), chainWalletSigner(proxyWallet));
    expect(Number((await economics.proxy()).stakeTon)).toBe(Number(p.stakeTon) + 1);
    await economics.proxyAct('withdraw', null, chainWalletSigner(proxyWallet));
    expect((await economics.proxy()).earningsTon).toBe('0');
    await economics.proxyAct('close', null, chainWalletSigner(proxyWallet));
    const closing = await economics.proxy();
    expect(closing.state).toBe('closing');
    expect(closing.unlockAt).toBeGreaterThan(Math.floor(Date.now() / 1000));
  });

  it('buckets usage by minute, hour or day, zeros included', () => {
    const recs = [{ at: new Date('2026-11-23T12:00:30Z'), tokens: 3n, earnedNano: 57n }, { at: new Date('2026-11-23T12:00:50Z'), tokens: 4n, earnedNano: 76n }, { at: new Date('2026-11-20T00:00:00Z'), tokens: 9n, earnedNano: 171n }];
    const hour = bucketUsage(recs, 'hour', new Date('2026-11-23T12:01:00Z'));
    expect(hour).toHaveLength(60);
    expect(hour.at(-1)).toEqual({ at: '2026-11-23T12:00:00.000Z', tokens: 7, earnedNano: '133' });
    const week = bucketUsage(recs, 'week', new Date('2026-11-23T12:01:00Z'));
    expect(week).toHaveLength(7);
    expect(week.reduce((a, b) => a + b.tokens, 0)).toBe(16);
  });
});

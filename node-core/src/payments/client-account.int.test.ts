import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toNano } from '@ton/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalChain, type LocalChain } from '../chain/local/local-chain.ts';
import { ClientAccount } from './client-account.ts';
import { Address } from '@ton/core';
import { Chain } from '../chain/chain.ts';
import { chainWalletSigner, WALLET_FEE_ESTIMATE_NANO, type TransactionSigner } from './wallet-signer.ts';

describe('client account on the embedded local chain', () => {
  let chain: LocalChain;
  let account: ClientAccount;
  let dataDir: string;
  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'client-account-'));
    chain = await startLocalChain({ dataDir, announceFile: false });
    account = await ClientAccount.openLocal({ endpoint: chain.endpoint, rootAddress: chain.rootAddress, chainDataDir: dataDir });
  });
  afterAll(() => chain.stop());

  it('is closed at first, and refuses to open below the minimum stake', async () => {
    const s = await account.state();
    expect(s).toMatchObject({ deployed: false, balanceNano: 0n, stakeNano: 0n });
    expect(s.minStakeNano).toBe(toNano('15'));
    await expect(account.stake(toNano('10'))).rejects.toMatchObject({ code: 'stake_too_low' });
    await expect(account.topUp(toNano('1'))).rejects.toMatchObject({ code: 'account_not_open' });
    await expect(account.stake(0n)).rejects.toMatchObject({ code: 'bad_amount' });
  });

  it('opens with a stake, takes top-ups, and withdraws only the free balance', async () => {
    const opened = await account.stake(toNano('15'));
    expect(opened.deployed).toBe(true);
    expect(opened.stakeNano).toBe(toNano('15'));
    const topped = await account.topUp(toNano('5'));
    expect(topped.balanceNano).toBe(toNano('5'));
    await expect(account.withdraw(toNano('6'))).rejects.toMatchObject({ code: 'insufficient_balance', message: expect.stringMatching(/stake stays locked/) });
    const after = await account.withdraw(toNano('2'));
    expect(after.balanceNano).toBe(topped.balanceNano - toNano('2'));
    expect(after.stakeNano).toBe(toNano('15'));
  });

  it('plans an action as messages with its fee before anything is sent, and a declining signer changes nothing', async () => {
    const before = await account.state();
    const plan = await account.plan('topUp', toNano('3'));
    expect(plan.messages).toHaveLength(1);
    expect(plan.messages[0]!.to.toString()).toBe(before.contract);
    expect(plan.attachedNano).toBe(toNano('3') + toNano('0.1'));
    expect(plan.feeEstimateNano).toBe(toNano('0.1') + WALLET_FEE_ESTIMATE_NANO);
    const declining: TransactionSigner = { address: account.owner, send: async () => { throw Object.assign(new Error('the user declined'), { code: 'declined' }); } };
    await expect(account.execute(plan, declining)).rejects.toThrow(/declined/);
    expect(await account.state()).toEqual(before);
    const worker = Address.parse(chain.wallets.find((w) => w.name === 'worker')!.address);
    await expect(account.execute(plan, { address: worker, send: async () => ({ hash: '' }) })).rejects.toMatchObject({ code: 'wrong_wallet' });
  });

  it('opens above the minimum stake in one transfer (deploy, top-up, raise the stake) for another owner', async () => {
    const c = new Chain({ network: 'local', endpoint: chain.endpoint, rootAddress: chain.rootAddress });
    const worker = await c.wallet(chain.wallets.find((w) => w.name === 'worker')!.mnemonic);
    const proxyContract = await ClientAccount.localProxyContract(c, { rootAddress: chain.rootAddress, chainDataDir: dataDir });
    const theirs = await ClientAccount.open({ chain: c, proxyContract, owner: worker.address, signer: chainWalletSigner(worker) });
    expect(theirs.owner.equals(account.owner)).toBe(false);
    const plan = await theirs.plan('stake', toNano('20'));
    expect(plan.messages.map((m) => m.stateInit !== null)).toEqual([true, false, false]);
    const { state, hash } = await theirs.execute(plan);
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(state).toMatchObject({ deployed: true, stakeNano: toNano('20'), balanceNano: 0n });
  });

  it('lists the contract\'s transactions from the chain, newest first, with what each asked', async () => {
    const history = await account.history();
    const actions = history.map((h) => h.action);
    // Opened (deploy + top-up in one transfer), topped up, withdrawn: newest first.
    expect(actions).toEqual(['ownerClientWithdraw', 'extClientTopUp', 'extClientTopUp', 'deploy']);
    expect(history.every((h) => h.ok)).toBe(true);
    expect(history[2]!.valueNano).toBe(toNano('15.1'));
    expect(history.every((h) => /^[0-9a-f]{64}$/.test(h.hash))).toBe(true);
    const withdraw = history.find((h) => h.action === 'ownerClientWithdraw')!;
    expect(withdraw.sentNano).toBeGreaterThanOrEqual(toNano('2'));
  });
});

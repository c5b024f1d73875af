import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toNano } from '@ton/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalChain, type LocalChain } from '../chain/local/local-chain.ts';
import { ClientAccount } from './client-account.ts';

describe('client account on the embedded local chain', () => {
  let chain: LocalChain;
  let account: ClientAccount;
  beforeAll(async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'client-account-'));
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
});

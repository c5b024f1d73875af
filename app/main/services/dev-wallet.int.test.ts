import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromNano } from '@ton/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_WALLET_FUNDS } from '../../../node-core/src/chain/local/local-chain.ts';
import { startLocalNetwork, type LocalNetwork } from '../../../node-core/src/network/local-network.ts';
import { ClientAccount } from '../../../node-core/src/payments/client-account.ts';
import { AppService } from './app-service.ts';
import { openDevWallet } from './dev-wallet.ts';

/** The wallet panel's data in local mode, against the real embedded chain the app starts. */
describe('local development wallet', () => {
  let net: LocalNetwork;
  let chainDataDir: string;
  const previousHome = process.env.COCOON_HOME;
  beforeAll(async () => {
    // The chain announces itself under COCOON_HOME; keep that inside the test's temp dir.
    const home = mkdtempSync(join(tmpdir(), 'app-wallet-'));
    process.env.COCOON_HOME = home;
    chainDataDir = join(home, 'chain');
    net = await startLocalNetwork({ chainDataDir, openClientContract: false }); // as the app: it opens the client contract itself
  }, 120_000);
  afterAll(async () => {
    await net?.stop();
    if (previousHome === undefined) delete process.env.COCOON_HOME;
    else process.env.COCOON_HOME = previousHome;
  });

  it('shows the chain\'s client dev wallet with the balance the chain reports', async () => {
    const wallet = await openDevWallet(chainDataDir, net.chain!.endpoint);
    expect(wallet.address).toMatch(/^[UE]Q[A-Za-z0-9_-]{46}$/);
    const balance = await wallet.balanceNano();
    expect(balance).toBeGreaterThan(0n);
    expect(balance).toBeLessThanOrEqual(DEV_WALLET_FUNDS);

    const service = new AppService({ openaiUrl: net.openaiUrl, client: net.client, dataDir: mkdtempSync(join(tmpdir(), 'app-w-')), network: 'local', devWallet: wallet });
    try {
      const info = await service.handle('wallet.get', []) as { mode: string; address: string; balanceTon: string; contractActionsDisabledReason: string };
      expect(info).toMatchObject({ mode: 'development', address: wallet.address, balanceTon: fromNano(balance) });
      // Without a client account the contract actions say why they are unavailable…
      expect(info.contractActionsDisabledReason).toMatch(/client contract cannot be reached/);
    } finally {
      service.close();
    }
    // …and with one they are available, and the contract's state is shown.
    const clientAccount = await ClientAccount.openLocal({ ...net.chain!, chainDataDir });
    const withAccount = new AppService({ openaiUrl: net.openaiUrl, client: net.client, dataDir: mkdtempSync(join(tmpdir(), 'app-w-')), network: 'local', devWallet: wallet, clientAccount });
    try {
      const info = await withAccount.handle('wallet.get', []) as { contractActionsDisabledReason: string | null; clientAccount: { deployed: boolean; minStakeTon: string } };
      expect(info.contractActionsDisabledReason).toBeNull();
      expect(info.clientAccount).toMatchObject({ deployed: false, minStakeTon: '15' });
      await expect(withAccount.handle('account.topUp', [{ amountTon: '-1' }])).rejects.toMatchObject({ code: 'bad_arguments' });
      await expect(withAccount.handle('account.topUp', [{ amountTon: '1e3' }])).rejects.toMatchObject({ code: 'bad_arguments' });
      await expect(withAccount.handle('account.topUp', [{ amountTon: '1' }])).rejects.toMatchObject({ code: 'account_not_open' });
    } finally {
      withAccount.close();
    }
  });

  it('names the file when the chain has no such wallet', async () => {
    await expect(openDevWallet(chainDataDir, net.chain!.endpoint, 'nobody')).rejects.toMatchObject({ code: 'dev_wallet_missing', message: expect.stringContaining('wallets.json') });
    await expect(openDevWallet(join(chainDataDir, 'absent'), net.chain!.endpoint)).rejects.toMatchObject({ code: 'dev_wallet_missing' });
  });

  it('says why the balance is unknown when the chain does not answer', async () => {
    const wallet = await openDevWallet(chainDataDir, 'http://127.0.0.1:9/jsonRPC');
    const service = new AppService({ openaiUrl: net.openaiUrl, client: net.client, dataDir: mkdtempSync(join(tmpdir(), 'app-w-')), network: 'local', devWallet: wallet });
    try {
      const info = await service.handle('wallet.get', []) as { balanceTon: string | null; contractActionsDisabledReason: string };
      expect(info.balanceTon).toBeNull();
      expect(info.contractActionsDisabledReason).toMatch(/local chain did not answer/);
    } finally {
      service.close();
    }
  });
});

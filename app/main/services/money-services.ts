import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Address } from '@ton/core';
import { Chain } from '../../../node-core/src/chain/chain.ts';
import type { Logger } from '../../../node-core/src/log.ts';
import { ClientAccount } from '../../../node-core/src/payments/client-account.ts';
import { chainWalletSigner, type TransactionSigner } from '../../../node-core/src/payments/wallet-signer.ts';
import type { AppServiceOptions } from './app-service.ts';
import { openDevWallet } from './dev-wallet.ts';
import type { EarningsLedger } from './earnings-ledger.ts';
import type { NetworkSettings } from './network-settings.ts';
import { OwnerEconomics } from './owner-economics.ts';
import { WalletSession } from './wallet-session.ts';

/**
 * Everything money in the app, set up once per run for the chosen network (web mode and Electron
 * alike): the TON Connect session, the chain, the developer's client account, owner economics, and
 * on the local network the development wallets that sign when no wallet is connected.
 *
 * Testnet/mainnet: the wallet session and chain reads use the configured endpoint; which proxy
 * contract a client account or a worker belongs to is not chosen yet, so those views say so.
 */
export interface MoneyServices {
  options: Pick<AppServiceOptions, 'devWallet' | 'clientAccount' | 'walletSession' | 'accountFor' | 'balanceOf' | 'economics' | 'devSigners'>;
  walletSession: WalletSession;
  close(): Promise<void>;
}

export async function startMoneyServices(opts: {
  tonNetwork: NetworkSettings;
  /** The embedded chain when it runs (local network). */
  localChain: { endpoint: string; rootAddress: string } | null;
  chainDataDir: string | undefined;
  appDataDir: string;
  log: Logger;
  earningsLedger?: EarningsLedger;
}): Promise<MoneyServices> {
  const { tonNetwork, localChain, chainDataDir } = opts;
  const local = tonNetwork.name === 'local';
  const chain = local
    ? localChain && new Chain({ network: 'local', endpoint: localChain.endpoint, rootAddress: localChain.rootAddress })
    : new Chain({ network: tonNetwork.name, endpoint: tonNetwork.endpoint!, ...(tonNetwork.apiKey && { apiKey: tonNetwork.apiKey }), rootAddress: tonNetwork.rootAddress! });
  const walletSession = new WalletSession({ network: tonNetwork.name, appDataDir: opts.appDataDir, log: opts.log });
  await walletSession.start();
  try {
    const devChain = local && localChain && chainDataDir ? { ...localChain, chainDataDir } : null;
    const devWallet = devChain ? await openDevWallet(devChain.chainDataDir, devChain.endpoint) : undefined;
    const clientAccount = devChain ? await ClientAccount.openLocal(devChain) : undefined;
    const proxyContract = devChain && chain ? await ClientAccount.localProxyContract(chain, devChain) : null;
    const accounts = new Map<string, Promise<ClientAccount>>();
    const accountFor = proxyContract && chain ? (owner: Address) => {
      const key = owner.toRawString();
      if (!accounts.has(key)) accounts.set(key, ClientAccount.open({ chain, proxyContract, owner, signer: null }));
      return accounts.get(key)!;
    } : undefined;
    const economics = proxyContract && chain ? new OwnerEconomics({ network: tonNetwork.name, chain, proxyContract, ledger: opts.earningsLedger ?? null }) : undefined;
    let devSigners: { worker?: TransactionSigner; proxy?: TransactionSigner } | undefined;
    if (devChain && chain) {
      const stored = JSON.parse(await readFile(join(devChain.chainDataDir, 'wallets.json'), 'utf8')) as Array<{ name: string; mnemonic: string[] }>;
      const signer = async (name: string) => {
        const m = stored.find((w) => w.name === name)?.mnemonic;
        return m ? chainWalletSigner(await chain.wallet(m)) : undefined;
      };
      const [worker, proxy] = [await signer('worker'), await signer('proxy')];
      devSigners = { ...(worker && { worker }), ...(proxy && { proxy }) };
    }
    return {
      walletSession,
      options: {
        walletSession,
        ...(devWallet && { devWallet }), ...(clientAccount && { clientAccount }), ...(accountFor && { accountFor }),
        ...(economics && { economics }), ...(devSigners && { devSigners }),
        ...(chain && { balanceOf: async (a: Address) => (await chain.getAccount(a)).balance }),
      },
      close: () => walletSession.close(),
    };
  } catch (err) {
    await walletSession.close();
    throw err;
  }
}

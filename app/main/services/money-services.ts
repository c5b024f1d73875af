import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Address } from '@ton/core';
import { createPeerVerifier, createPolicy } from '../../../node-core/src/attestation/index.ts';
import { readRootConfig } from '../../../node-core/src/network/root-config.ts';
import { readRootData } from '../../../node-core/src/chain/contract-state.ts';
import { chooseProxyContract, clientGreeter, type ChosenProxy } from './proxy-directory.ts';
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
 * Testnet/mainnet: the wallet session and chain reads use the configured endpoint; the proxy
 * contract client accounts and worker earnings belong to is chosen from the root's proxies list
 * (proxy-directory.ts), in the background: until it is known those views wait, and if none can be
 * used they say why. The proxy's ledger is not readable there, so earnings show the chain's side.
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
  const walletSession = new WalletSession({
    network: tonNetwork.name, appDataDir: opts.appDataDir, log: opts.log,
    ...(tonNetwork.tonConnectManifestUrl && { publicManifestUrl: tonNetwork.tonConnectManifestUrl }),
  });
  if (!local && !tonNetwork.tonConnectManifestUrl) opts.log.warn({ network: tonNetwork.name }, 'no public TON Connect manifest URL is set (Settings → Network): phone wallets cannot fetch the loopback manifest, so only wallets on this machine can connect');
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
    let economics: OwnerEconomics | Promise<OwnerEconomics> | undefined = proxyContract && chain ? new OwnerEconomics({ network: tonNetwork.name, chain, proxyContract, ledger: opts.earningsLedger ?? null }) : undefined;
    let accountForNetwork = accountFor;
    if (!local && chain) {
      const chosen = chooseNetworkProxy(chain, opts.log);
      economics = chosen.then((p) => new OwnerEconomics({ network: tonNetwork.name, chain, proxyContract: p.proxyContract, ledger: null }));
      economics.catch(() => undefined); // awaited by each request, which reports the reason
      accountForNetwork = async (owner: Address) => {
        const key = owner.toRawString();
        if (!accounts.has(key)) accounts.set(key, chosen.then((p) => ClientAccount.open({ chain, proxyContract: p.proxyContract, owner, signer: null })));
        return accounts.get(key)!;
      };
    }
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
        ...(devWallet && { devWallet }), ...(clientAccount && { clientAccount }), ...(accountForNetwork && { accountFor: accountForNetwork }),
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

/**
 * Testnet/mainnet: the proxy contract from the root's proxies list, greeting each proxy as a client
 * under the network's attestation policy (the root's proxy image allowlist). Started once per run.
 */
function chooseNetworkProxy(chain: Chain, log: Logger): Promise<ChosenProxy> {
  const p = (async () => {
    const rootAddress = chain.config.rootAddress!;
    const [config, root] = await Promise.all([readRootConfig({ ...chain.config, rootAddress }), readRootData(chain.config, Address.parse(rootAddress))]);
    const network = chain.config.network === 'mainnet' ? 'mainnet' : 'testnet';
    // This greeting only learns which contract the proxy uses, and the chain must confirm it; the
    // TCB collateral is not fetched for it (inference traffic runs under the client's full policy).
    const verifier = createPeerVerifier(createPolicy({ name: 'tdx', network, allowedImageHashes: config.allowedProxyImages, requireCollateral: false }), { expectedRole: 'proxy' });
    const chosen = await chooseProxyContract({ chain, root: Address.parse(rootAddress), greet: clientGreeter({ verifier, isTest: root.params.isTest }) });
    log.info({ proxy: chosen.proxyContract.toString(), endpoint: chosen.endpoint, seqno: chosen.seqno }, 'proxy contract chosen from the root');
    return chosen;
  })();
  p.catch((err: unknown) => log.warn({ err: String(err) }, 'no proxy contract could be chosen from the root: client accounts and worker earnings are unavailable'));
  return p;
}

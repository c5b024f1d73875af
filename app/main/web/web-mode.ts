import { join } from 'node:path';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { createLogger, logToFile } from '../../../node-core/src/log.ts';
import { SettingsStore } from '../services/settings-store.ts';
import { startLocalNetwork, type LocalNetwork, type LocalNetworkOptions } from '../../../node-core/src/network/local-network.ts';
import { AppService } from '../services/app-service.ts';
import { openDevWallet } from '../services/dev-wallet.ts';
import { OwnerService } from '../services/owner-service.ts';
import { PtyService } from '../services/pty-service.ts';
import type { TdSupervisorApi } from '../../shared/api-contract.ts';
import { ClientAccount } from '../../../node-core/src/payments/client-account.ts';
import type { Address } from '@ton/core';
import { Chain } from '../../../node-core/src/chain/chain.ts';
import { chainWalletSigner, type TransactionSigner } from '../../../node-core/src/payments/wallet-signer.ts';
import { checkNetworkSettings } from '../services/network-settings.ts';
import { WalletSession } from '../services/wallet-session.ts';
import { OwnerEconomics } from '../services/owner-economics.ts';
import type { EarningsLedger } from '../services/earnings-ledger.ts';
import { readFile as readFileAsync } from 'node:fs/promises';
import { contentSecurityPolicy } from '../security.ts';
import { ensureRendererBuilt } from './renderer-build.ts';
import { startWebServer, type WebServer } from './web-server.ts';

/** Web mode end to end: the local network, the app services and the web server. */
export interface WebModeOptions {
  port?: number;
  dataDir: string;
  network?: LocalNetworkOptions;
  /** Skip the embedded local TON chain (faster start; the wallet panel then has no dev wallet). */
  noChain?: boolean;
  /** Owner mode reads this host tree (default `$COCOON_HOST_ROOT` or `/`). */
  hostRoot?: string;
  /** Opt-in: the embedded terminal (a shell for whoever holds the access token). */
  terminal?: boolean;
  /** The TD guest launcher (owner mode step 4). */
  td?: TdSupervisorApi;
  /** The proxy's settlement ledger for owner economics (absent: the views show the chain side only and say so). */
  earningsLedger?: EarningsLedger;
}

export interface WebMode {
  url: string;
  web: WebServer;
  network: LocalNetwork;
  service: AppService;
  /** TON Connect in main; on the local network it runs the local bridge the development wallet uses. */
  walletSession: WalletSession;
  stop(): Promise<void>;
}

export async function startWebMode(opts: WebModeOptions): Promise<WebMode> {
  const appDir = join(opts.dataDir, 'app');
  const settings = await new SettingsStore(appDir).read();
  // The Settings screen's level applies unless the environment asks for another one.
  process.env.COCOON_LOG_LEVEL ??= settings.logLevel;
  const logFile = join(appDir, 'app.log');
  logToFile(logFile);
  const log = createLogger('app');
  const rendererDir = await ensureRendererBuilt((m) => log.info(m));
  // A flag wins over the saved setting; the saved backend applies from the next start.
  const backendUrl = opts.network?.backendUrl ?? settings.backendUrl ?? undefined;
  // The app's chain lives under its own data dir so it never contends for `cocoon up`'s chain lock.
  const chainDataDir = opts.noChain ? undefined : join(opts.dataDir, 'app', 'chain');
  // The TON network (Settings, applies at start): local is the embedded chain; on testnet/mainnet
  // the wallet and the chain reads go to the configured endpoint, the inference network stays local.
  const tonNetwork = checkNetworkSettings(settings.network);
  const network = await startLocalNetwork({ log, ...(chainDataDir && { chainDataDir }), ...opts.network, ...(backendUrl && { backendUrl }) });
  let service: AppService | null = null;
  let walletSession: WalletSession | null = null;
  try {
    const local = tonNetwork.name === 'local';
    const devWallet = local && network.chain && chainDataDir ? await openDevWallet(chainDataDir, network.chain.endpoint) : undefined;
    const clientAccount = local && network.chain && chainDataDir ? await ClientAccount.openLocal({ ...network.chain, chainDataDir }) : undefined;
    const chain = local
      ? network.chain && new Chain({ network: 'local', endpoint: network.chain.endpoint, rootAddress: network.chain.rootAddress })
      : new Chain({ network: tonNetwork.name, endpoint: tonNetwork.endpoint!, ...(tonNetwork.apiKey && { apiKey: tonNetwork.apiKey }), rootAddress: tonNetwork.rootAddress! });
    walletSession = new WalletSession({ network: tonNetwork.name, appDataDir: appDir, log });
    await walletSession.start();
    // Local: accounts at the local proxy contract. Testnet/mainnet: no proxy contract is chosen yet (see README).
    const proxyContract = local && chain && chainDataDir ? await ClientAccount.localProxyContract(chain, { rootAddress: network.chain!.rootAddress, chainDataDir }) : null;
    const accounts = new Map<string, Promise<ClientAccount>>();
    const accountFor = proxyContract && chain ? (owner: Address) => {
      const key = owner.toRawString();
      if (!accounts.has(key)) accounts.set(key, ClientAccount.open({ chain, proxyContract, owner, signer: null }));
      return accounts.get(key)!;
    } : undefined;
    const owner = new OwnerService({ hostRoot: opts.hostRoot ?? process.env.COCOON_HOST_ROOT ?? '/', network: 'local', ...(opts.td && { td: opts.td }) });
    // Owner economics on the local proxy contract; the development "worker" and "proxy" wallets sign when no wallet is connected.
    const economics = proxyContract && chain ? new OwnerEconomics({ network: tonNetwork.name, chain, proxyContract, ledger: opts.earningsLedger ?? null }) : undefined;
    let devSigners: { worker?: TransactionSigner; proxy?: TransactionSigner } | undefined;
    if (local && chain && chainDataDir) {
      const stored = JSON.parse(await readFileAsync(join(chainDataDir, 'wallets.json'), 'utf8')) as Array<{ name: string; mnemonic: string[] }>;
      const signer = async (name: string) => {
        const m = stored.find((w) => w.name === name)?.mnemonic;
        return m ? chainWalletSigner(await chain.wallet(m)) : undefined;
      };
      devSigners = { ...(await signer('worker').then((w) => w && { worker: w })), ...(await signer('proxy').then((p) => p && { proxy: p })) };
    }
    const pty = new PtyService({ enabled: opts.terminal ?? process.env.COCOON_TERMINAL === '1' });
    service = new AppService({
      openaiUrl: network.openaiUrl, client: network.client, dataDir: appDir, network: tonNetwork.name, activeBackendUrl: backendUrl ?? null, logFile,
      ...(devWallet && { devWallet }), ...(clientAccount && { clientAccount }), owner, pty, walletSession,
      ...(accountFor && { accountFor }), ...(economics && { economics }), ...(devSigners && { devSigners }), ...(chain && { balanceOf: async (a: Address) => (await chain.getAccount(a)).balance }),
    });
    const token = await persistentToken(appDir);
    const web = await startWebServer({ service, rendererDir, log, token, contentSecurityPolicy: contentSecurityPolicy(tonNetwork.name), ...(opts.port !== undefined && { port: opts.port }) });
    const running = service;
    const session = walletSession;
    return {
      url: web.url, web, network, service: running, walletSession: session,
      async stop() {
        running.close();
        await web.close();
        await session.close();
        await network.stop();
      },
    };
  } catch (err) {
    service?.close();
    await walletSession?.close();
    await network.stop();
    throw err;
  }
}

/**
 * The access token survives restarts (kept in the data dir, mode 0600), so a bookmarked URL keeps
 * working; deleting the file issues a new one on the next start.
 */
async function persistentToken(appDir: string): Promise<string> {
  const file = join(appDir, 'web-token');
  try {
    const saved = (await readFile(file, 'utf8')).trim();
    if (/^[\w-]{32}$/.test(saved)) return saved;
  } catch { /* first start */ }
  const token = randomBytes(24).toString('base64url');
  await mkdir(appDir, { recursive: true });
  await writeFile(file, token + '\n', { mode: 0o600 });
  await chmod(file, 0o600);
  return token;
}

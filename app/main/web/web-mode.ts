import { join } from 'node:path';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { createLogger, logToFile } from '../../../node-core/src/log.ts';
import { SettingsStore } from '../services/settings-store.ts';
import { startLocalNetwork, type LocalNetwork, type LocalNetworkOptions } from '../../../node-core/src/network/local-network.ts';
import { AppService } from '../services/app-service.ts';
import { OwnerService } from '../services/owner-service.ts';
import { PtyService } from '../services/pty-service.ts';
import { createTdAdapter } from '../services/td-adapter.ts';
import type { TdSupervisorApi } from '../../shared/api-contract.ts';
import { checkNetworkSettings, type NetworkSettings } from '../services/network-settings.ts';
import { CocoonError, errorMessage } from '../../../node-core/src/errors.ts';
import type { WalletSession } from '../services/wallet-session.ts';
import { startMoneyServices, type MoneyServices } from '../services/money-services.ts';
import type { EarningsLedger } from '../services/earnings-ledger.ts';
import { APP_SETTLEMENT_POLICY, localPaymentViews } from '../services/local-payments.ts';
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
  /**
   * The TD guest launcher (owner mode step 4). Default: node-core's launcher over `tdConfigFile`,
   * or the development guest in emulation on this local network; `false` for none.
   */
  td?: TdSupervisorApi | false;
  /** A worker config file (`cocoon td config --example`) the owner's answers are laid over. */
  tdConfigFile?: string;
  /** Where owner economics reads the proxy's signed side (default: the local network's proxy ledger; none without the chain). */
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
  // The developer opens their client contract in the wallet panel (every answer is paid for).
  const chainDataDir = opts.noChain ? undefined : join(opts.dataDir, 'app', 'chain');
  // The TON network (Settings, applies at start): local is the embedded chain; on testnet/mainnet
  // the wallet and the chain reads go to the configured endpoint, the inference network stays local.
  let tonNetwork: NetworkSettings;
  try {
    tonNetwork = checkNetworkSettings(settings.network);
  } catch (err) {
    throw new CocoonError('bad_network_settings', `${join(appDir, 'settings.json')}: ${errorMessage(err)}; fix it or delete the "network" entry (local)`);
  }
  const network = await startLocalNetwork({ log, ...(chainDataDir && { chainDataDir }), openClientContract: false, settlementPolicy: APP_SETTLEMENT_POLICY, ...opts.network, ...(backendUrl && { backendUrl }) });
  let service: AppService | null = null;
  let stopGuest = async () => {};
  let money: MoneyServices | null = null;
  // Owner economics reads the running proxy's own ledger; the cost viewer the client's charges.
  const views = localPaymentViews(network);
  const earningsLedger = opts.earningsLedger ?? views.earningsLedger;
  const charges = views.charges;
  try {
    money = await startMoneyServices({ tonNetwork, localChain: network.chain ?? null, chainDataDir, appDataDir: appDir, log, ...(earningsLedger && { earningsLedger }) });
    const adapter = opts.td === undefined ? createTdAdapter({
      ...(opts.tdConfigFile && { configFile: opts.tdConfigFile }), log: log.child({ source: 'td' }),
      localNetwork: { proxyWorkerPort: network.proxy.workerEndpoint.port, engineUrl: network.engine?.url ?? backendUrl ?? null, rootAddress: network.chain?.rootAddress ?? null, chainEndpoint: network.chain?.endpoint ?? null },
    }) : null;
    const td = opts.td === false ? undefined : opts.td ?? adapter!;
    if (adapter) stopGuest = () => adapter.close();
    const owner = new OwnerService({
      hostRoot: opts.hostRoot ?? process.env.COCOON_HOST_ROOT ?? '/', network: 'local', ...(td && { td }),
      // The local network's chain and proxy; its workers run the development image.
      why: { ...(network.chain && { chain: { network: 'local', ...network.chain } }), proxies: [`127.0.0.1:${network.proxy.workerEndpoint.port}`], imageHash: network.imageHashes.worker },
    });
    const pty = new PtyService({ enabled: opts.terminal ?? process.env.COCOON_TERMINAL === '1' });
    service = new AppService({
      openaiUrl: network.openaiUrl, apiKey: network.apiKey, client: network.client, dataDir: appDir, network: tonNetwork.name, activeBackendUrl: backendUrl ?? null, logFile,
      owner, pty, ...money.options, ...(charges && { charges }),
    });
    const token = await persistentToken(appDir);
    const web = await startWebServer({ service, rendererDir, log, token, contentSecurityPolicy: contentSecurityPolicy(tonNetwork.name), ...(opts.port !== undefined && { port: opts.port }) });
    const running = service;
    const started = money;
    return {
      url: web.url, web, network, service: running, walletSession: started.walletSession,
      async stop() {
        // The guest first: its worker dials this process's proxy.
        await stopGuest().catch((err: unknown) => log.warn({ err: String(err) }, 'stopping the TD guest failed'));
        running.close();
        await web.close();
        await started.close();
        await network.stop();
      },
    };
  } catch (err) {
    await stopGuest().catch(() => undefined);
    service?.close();
    await money?.close();
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

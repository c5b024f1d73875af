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
}

export interface WebMode {
  url: string;
  web: WebServer;
  network: LocalNetwork;
  service: AppService;
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
  const network = await startLocalNetwork({ log, ...(chainDataDir && { chainDataDir }), openClientContract: false, ...opts.network, ...(backendUrl && { backendUrl }) });
  let service: AppService | null = null;
  try {
    const devWallet = network.chain && chainDataDir ? await openDevWallet(chainDataDir, network.chain.endpoint) : undefined;
    const clientAccount = network.chain && chainDataDir ? await ClientAccount.openLocal({ ...network.chain, chainDataDir }) : undefined;
    const owner = new OwnerService({ hostRoot: opts.hostRoot ?? process.env.COCOON_HOST_ROOT ?? '/', network: 'local', ...(opts.td && { td: opts.td }) });
    const pty = new PtyService({ enabled: opts.terminal ?? process.env.COCOON_TERMINAL === '1' });
    service = new AppService({
      openaiUrl: network.openaiUrl, client: network.client, dataDir: appDir, network: 'local', activeBackendUrl: backendUrl ?? null, logFile,
      ...(devWallet && { devWallet }), ...(clientAccount && { clientAccount }), owner, pty,
    });
    const token = await persistentToken(appDir);
    const web = await startWebServer({ service, rendererDir, log, token, ...(opts.port !== undefined && { port: opts.port }) });
    const running = service;
    return {
      url: web.url, web, network, service: running,
      async stop() {
        running.close();
        await web.close();
        await network.stop();
      },
    };
  } catch (err) {
    service?.close();
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

import { join } from 'node:path';
import { createLogger } from '../../../node-core/src/log.ts';
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
  const log = createLogger('app');
  const rendererDir = await ensureRendererBuilt((m) => log.info(m));
  // The app's chain lives under its own data dir so it never contends for `cocoon up`'s chain lock.
  const chainDataDir = opts.noChain ? undefined : join(opts.dataDir, 'app', 'chain');
  const network = await startLocalNetwork({ log, ...(chainDataDir && { chainDataDir }), ...opts.network });
  let service: AppService | null = null;
  try {
    const devWallet = network.chain && chainDataDir ? await openDevWallet(chainDataDir, network.chain.endpoint) : undefined;
    const clientAccount = network.chain && chainDataDir ? await ClientAccount.openLocal({ ...network.chain, chainDataDir }) : undefined;
    const owner = new OwnerService({ hostRoot: opts.hostRoot ?? process.env.COCOON_HOST_ROOT ?? '/', network: 'local', ...(opts.td && { td: opts.td }) });
    const pty = new PtyService({ enabled: opts.terminal ?? process.env.COCOON_TERMINAL === '1' });
    service = new AppService({
      openaiUrl: network.openaiUrl, client: network.client, dataDir: join(opts.dataDir, 'app'), network: 'local',
      ...(devWallet && { devWallet }), ...(clientAccount && { clientAccount }), owner, pty,
    });
    const web = await startWebServer({ service, rendererDir, log, ...(opts.port !== undefined && { port: opts.port }) });
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

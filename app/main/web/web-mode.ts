import { join } from 'node:path';
import { createLogger } from '../../../node-core/src/log.ts';
import { startLocalNetwork, type LocalNetwork, type LocalNetworkOptions } from '../../../node-core/src/network/local-network.ts';
import { AppService } from '../services/app-service.ts';
import { ensureRendererBuilt } from './renderer-build.ts';
import { startWebServer, type WebServer } from './web-server.ts';

/** Web mode end to end: the local network, the app services and the web server. */
export interface WebModeOptions {
  port?: number;
  dataDir: string;
  network?: LocalNetworkOptions;
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
  const network = await startLocalNetwork({ log, ...opts.network });
  const service = new AppService({ openaiUrl: network.openaiUrl, client: network.client, dataDir: join(opts.dataDir, 'app'), network: 'local' });
  try {
    const web = await startWebServer({ service, rendererDir, log, ...(opts.port !== undefined && { port: opts.port }) });
    return {
      url: web.url, web, network, service,
      async stop() {
        service.close();
        await web.close();
        await network.stop();
      },
    };
  } catch (err) {
    service.close();
    await network.stop();
    throw err;
  }
}

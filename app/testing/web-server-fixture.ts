import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../node-core/src/log.ts';
import { startLocalNetwork, type LocalNetwork } from '../../node-core/src/network/local-network.ts';
import { AppService } from '../main/services/app-service.ts';
import { startWebServer, type WebServer } from '../main/web/web-server.ts';

/**
 * The web-mode server in-process for its integration tests: a real local network, a real app
 * service on a temp data dir, and a two-file stand-in renderer (the guards are under test, not
 * the page; the browser tests serve the real build).
 */
export interface WebServerFixture {
  net: LocalNetwork;
  service: AppService;
  web: WebServer;
  stop(): Promise<void>;
}

export async function startWebServerFixture(): Promise<WebServerFixture> {
  const net = await startLocalNetwork();
  const service = new AppService({ openaiUrl: net.openaiUrl, client: net.client, dataDir: mkdtempSync(join(tmpdir(), 'web-srv-')), network: 'local' });
  const rendererDir = mkdtempSync(join(tmpdir(), 'web-renderer-'));
  mkdirSync(join(rendererDir, 'assets'));
  writeFileSync(join(rendererDir, 'index.html'), '<!doctype html><title>t</title>');
  writeFileSync(join(rendererDir, 'assets', 'a.js'), 'console.log(1)');
  const web = await startWebServer({ service, rendererDir, log: createLogger('test') });
  return {
    net, service, web,
    async stop() {
      await web.close();
      service.close();
      await net.stop();
    },
  };
}

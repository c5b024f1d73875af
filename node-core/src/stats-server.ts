import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hardenServer, HttpError, requestTarget, safeHandler } from './http/safe-http.ts';

/** `/jsonstats` on 127.0.0.1 for a role's counters; port 0 picks a free one. */
export async function serveJsonStats(port: number, stats: () => unknown): Promise<{ url: string; close(): Promise<void> }> {
  const server = hardenServer(createServer(safeHandler((req, res) => {
    const { path } = requestTarget(req);
    if (req.method !== 'GET' || path !== '/jsonstats') throw new HttpError(404, `no route ${req.method} ${path}; use GET /jsonstats`);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(stats()));
  })));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/jsonstats`,
    close: () => new Promise((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

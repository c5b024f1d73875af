import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** `/jsonstats` on 127.0.0.1 for a role's counters; port 0 picks a free one. */
export async function serveJsonStats(port: number, stats: () => unknown): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    if (req.url === '/jsonstats') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(stats()));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/jsonstats`,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

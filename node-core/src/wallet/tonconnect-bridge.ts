import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * TEST DOUBLE AT A BOUNDARY: a local TON Connect HTTP bridge. The public bridges that real
 * wallets use cannot be reached from the development machines, so the local network carries this
 * one. It speaks the bridge protocol the way `@tonconnect/sdk` and wallets use it:
 *
 *   GET  /bridge/events?client_id=HEX[,HEX…][&last_event_id=N]  → text/event-stream, one event per
 *        message: `id: N`, `data: {"from":HEX,"message":BASE64}`; `event: heartbeat` keeps it open.
 *   POST /bridge/message?client_id=FROM&to=TO&ttl=SECONDS&topic=T  body: BASE64 (an encrypted
 *        message the bridge cannot read) → {"message":"OK","statusCode":200}
 *
 * Messages wait up to their TTL (≤ 300 s) for a recipient that is not listening, and are replayed
 * after `last_event_id` on reconnect. Every parameter is validated; bad input is a 400 with a
 * reason. Loopback only.
 */
export interface TonConnectBridge {
  /** Base URL wallets and apps use, e.g. http://127.0.0.1:PORT/bridge */
  url: string;
  close(): Promise<void>;
}

interface Stored {
  id: number;
  to: string;
  from: string;
  message: string;
  expiresAt: number;
}

const CLIENT_ID = /^[0-9a-f]{64}$/;
const BASE64 = /^[A-Za-z0-9+/=_-]+$/;
const MAX_BODY = 64 * 1024;
const MAX_QUEUED_PER_CLIENT = 100;
const MAX_TTL_S = 300;
const HEARTBEAT_MS = 15_000;

export async function startTonConnectBridge(opts: { port?: number; heartbeatMs?: number } = {}): Promise<TonConnectBridge> {
  let nextId = 1;
  const queue: Stored[] = [];
  const listeners = new Map<string, Set<ServerResponse>>();

  const prune = () => {
    const now = Date.now();
    for (let i = queue.length - 1; i >= 0; i--) if (queue[i]!.expiresAt <= now) queue.splice(i, 1);
  };
  const send = (res: ServerResponse, m: Stored) => res.write(`id: ${m.id}\ndata: ${JSON.stringify({ from: m.from, message: m.message })}\n\n`);
  const fail = (res: ServerResponse, status: number, message: string) => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ message, statusCode: status }));
  };

  function events(url: URL, req: IncomingMessage, res: ServerResponse): void {
    const ids = (url.searchParams.get('client_id') ?? '').split(',').filter(Boolean);
    if (ids.length === 0 || ids.length > 16 || !ids.every((id) => CLIENT_ID.test(id))) return fail(res, 400, 'client_id must be one or more 64-digit lowercase hex session ids, comma-separated');
    const lastRaw = url.searchParams.get('last_event_id');
    const last = lastRaw === null ? 0 : Number(lastRaw);
    if (!Number.isSafeInteger(last) || last < 0) return fail(res, 400, 'last_event_id must be a non-negative integer');
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    res.write(': connected\n\n');
    prune();
    for (const m of queue) if (m.id > last && ids.includes(m.to)) send(res, m);
    for (const id of ids) {
      const set = listeners.get(id) ?? new Set();
      set.add(res);
      listeners.set(id, set);
    }
    const beat = setInterval(() => res.write('event: heartbeat\ndata: heartbeat\n\n'), opts.heartbeatMs ?? HEARTBEAT_MS);
    req.on('close', () => {
      clearInterval(beat);
      for (const id of ids) listeners.get(id)?.delete(res);
    });
  }

  function message(url: URL, req: IncomingMessage, res: ServerResponse): void {
    const from = url.searchParams.get('client_id') ?? '';
    const to = url.searchParams.get('to') ?? '';
    const ttl = Number(url.searchParams.get('ttl') ?? '300');
    if (!CLIENT_ID.test(from) || !CLIENT_ID.test(to)) return fail(res, 400, 'client_id and to must be 64-digit lowercase hex session ids');
    if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_TTL_S) return fail(res, 400, `ttl must be an integer from 1 to ${MAX_TTL_S} seconds`);
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        fail(res, 413, `message over ${MAX_BODY} bytes`);
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (res.headersSent) return;
      const body = Buffer.concat(chunks).toString('utf8').trim();
      if (!body || !BASE64.test(body)) return fail(res, 400, 'the body must be the base64 of an encrypted message');
      prune();
      if (queue.filter((m) => m.to === to).length >= MAX_QUEUED_PER_CLIENT) return fail(res, 429, 'too many undelivered messages for this recipient');
      const stored: Stored = { id: nextId++, from, to, message: body, expiresAt: Date.now() + ttl * 1000 };
      queue.push(stored);
      for (const listener of listeners.get(to) ?? []) send(listener, stored);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ message: 'OK', statusCode: 200 }));
    });
  }

  const server: Server = createServer((req, res) => {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://bridge');
    } catch {
      return fail(res, 400, 'malformed request URL');
    }
    // Apps in a browser (web mode) reach the bridge cross-origin; messages are end-to-end encrypted.
    res.setHeader('access-control-allow-origin', '*');
    if (req.method === 'OPTIONS') return void res.writeHead(204, { 'access-control-allow-methods': 'GET, POST', 'access-control-allow-headers': 'content-type' }).end();
    if (req.method === 'GET' && url.pathname === '/bridge/events') return events(url, req, res);
    if (req.method === 'POST' && url.pathname === '/bridge/message') return message(url, req, res);
    fail(res, 404, 'unknown bridge path: use GET /bridge/events or POST /bridge/message');
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/bridge`,
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

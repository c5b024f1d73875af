import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { CocoonError, errorMessage } from '../../../node-core/src/errors.ts';
import type { Logger } from '../../../node-core/src/log.ts';
import type { AppService } from '../services/app-service.ts';
import { CONTENT_SECURITY_POLICY } from '../security.ts';

/**
 * Web mode: the renderer and the app API contract over HTTP + WebSocket on 127.0.0.1, guarded by
 * a random access token (query `?token=` once, then an HttpOnly same-site cookie). For GPU
 * servers without a display (through an SSH tunnel) and for browser tests.
 */
export interface WebServerOptions {
  service: AppService;
  rendererDir: string;
  port?: number;
  log: Logger;
  /** The access token (web mode keeps one across restarts); a fresh random one when absent. */
  token?: string;
}

export interface WebServer {
  url: string;
  port: number;
  token: string;
  close(): Promise<void>;
}

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml',
  '.png': 'image/png', '.json': 'application/json', '.ico': 'image/x-icon', '.woff2': 'font/woff2',
};
const COOKIE = 'cocoon_token';

export async function startWebServer(opts: WebServerOptions): Promise<WebServer> {
  const token = opts.token ?? randomBytes(24).toString('base64url');
  const tokenBytes = Buffer.from(token);
  const sameToken = (candidate: string | null | undefined) => {
    if (!candidate) return false;
    const b = Buffer.from(candidate);
    return b.length === tokenBytes.length && timingSafeEqual(b, tokenBytes);
  };
  let port = 0;

  /** 401 without a token, 403 with a wrong one or a foreign Host (DNS rebinding). */
  function authorize(req: IncomingMessage): 200 | 401 | 403 {
    const host = req.headers.host ?? '';
    if (host !== `127.0.0.1:${port}` && host !== `localhost:${port}`) return 403;
    const url = new URL(req.url ?? '/', 'http://x');
    const fromQuery = url.searchParams.get('token');
    const fromCookie = /(?:^|;\s*)cocoon_token=([\w-]+)/.exec(req.headers.cookie ?? '')?.[1];
    if (!fromQuery && !fromCookie) return 401;
    return sameToken(fromQuery) || sameToken(fromCookie) ? 200 : 403;
  }

  function serveStatic(req: IncomingMessage, res: ServerResponse, fromQueryToken: boolean): void {
    const url = new URL(req.url ?? '/', 'http://x');
    const rel = url.pathname === '/' ? 'index.html' : normalize(decodeURIComponent(url.pathname)).replace(/^([/\\])+/, '');
    const file = join(opts.rendererDir, rel);
    if (!file.startsWith(opts.rendererDir) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    const headers: Record<string, string> = {
      'content-type': MIME[extname(file)] ?? 'application/octet-stream',
      'content-security-policy': CONTENT_SECURITY_POLICY,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'cache-control': rel === 'index.html' ? 'no-store' : 'max-age=3600',
    };
    if (fromQueryToken) headers['set-cookie'] = `${COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/`;
    res.writeHead(200, headers);
    createReadStream(file).pipe(res);
  }

  const server: Server = createServer((req, res) => {
    const verdict = authorize(req);
    if (verdict !== 200) {
      res.writeHead(verdict, { 'content-type': 'text/plain' }).end(verdict === 401 ? 'access token required: open the URL printed by `cocoon app --web`' : 'forbidden: wrong access token or host');
      return;
    }
    if (req.url === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    if (req.method !== 'GET') {
      res.writeHead(405).end();
      return;
    }
    serveStatic(req, res, new URL(req.url ?? '/', 'http://x').searchParams.has('token'));
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: 1024 * 1024 });
  server.on('upgrade', (req, socket, head) => {
    const verdict = authorize(req);
    if (verdict !== 200 || new URL(req.url ?? '/', 'http://x').pathname !== '/api') {
      socket.end(`HTTP/1.1 ${verdict === 401 ? '401 Unauthorized' : verdict === 403 ? '403 Forbidden' : '404 Not Found'}\r\n\r\n`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => onClient(ws));
  });

  function onClient(ws: WebSocket): void {
    const forward = (event: string, payload: unknown) => ws.send(JSON.stringify({ event, payload }));
    opts.service.on('event', forward);
    ws.on('close', () => opts.service.off('event', forward));
    ws.on('message', async (data) => {
      let msg: { id?: unknown; method?: unknown; args?: unknown };
      try {
        msg = JSON.parse(String(data));
      } catch {
        return ws.send(JSON.stringify({ id: null, error: { code: 'bad_message', message: 'message is not JSON' } }));
      }
      if (typeof msg.id !== 'number' || typeof msg.method !== 'string' || !Array.isArray(msg.args)) {
        return ws.send(JSON.stringify({ id: msg.id ?? null, error: { code: 'bad_message', message: 'expected {id: number, method: string, args: array}' } }));
      }
      try {
        ws.send(JSON.stringify({ id: msg.id, result: await opts.service.handle(msg.method, msg.args) }));
      } catch (err) {
        const code = err instanceof CocoonError ? err.code : 'internal';
        ws.send(JSON.stringify({ id: msg.id, error: { code, message: errorMessage(err) } }));
      }
    });
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', resolve);
  });
  port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/?token=${token}`,
    port,
    token,
    async close() {
      for (const c of wss.clients) c.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

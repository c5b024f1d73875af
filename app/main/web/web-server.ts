import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { errorMessage } from '../../../node-core/src/errors.ts';
import { decodePath, hardenServer, HttpError, parseJson, requestTarget, safeHandler, safeUpgrade } from '../../../node-core/src/http/safe-http.ts';
import type { Logger } from '../../../node-core/src/log.ts';
import { requestFrameSchema, TRANSPORT_ERRORS, WEB_API_PATH, WEB_MAX_FRAME_BYTES, type EventFrame, type EventName, type ReplyFrame } from '../../shared/api-contract.ts';
import type { AppService } from '../services/app-service.ts';
import { toApiError } from '../services/user-errors.ts';
import { CONTENT_SECURITY_POLICY, withMetaPolicy } from '../security.ts';

/**
 * Web mode: the renderer and the app API contract over HTTP + WebSocket on 127.0.0.1. For GPU
 * servers without a display (through an SSH tunnel) and for browser tests.
 *
 * Guards: the Host must be this listener (DNS rebinding); every WebSocket upgrade and every
 * non-GET request must come from this listener's own Origin (a page on another 127.0.0.1 port is
 * another origin); the API needs the random access token, which travels in the page URL and the
 * WebSocket URL only. There is no cookie: cookies ignore ports, so a cookie would be sent to (and
 * usable from) every other server on 127.0.0.1. The static renderer files hold no secrets; the
 * page itself still needs the token so a stray link shows the "token required" answer.
 */
export interface WebServerOptions {
  service: AppService;
  rendererDir: string;
  port?: number;
  log: Logger;
  /** The access token (web mode keeps one across restarts); a fresh random one when absent. */
  token?: string;
  /** The running network's policy (`contentSecurityPolicy(network)`); default: the local one. */
  contentSecurityPolicy?: string;
  /** Bytes a socket may have queued unread before it is dropped (default WEB_MAX_BUFFERED_BYTES). */
  maxBufferedBytes?: number;
}

/**
 * A page that stops reading (a frozen tab, a stalled SSH tunnel) would otherwise make main queue
 * every event and reply for it without limit. Past this much unsent data the socket is dropped;
 * the page reconnects and reloads its state, which is cheaper than holding a backlog of deltas.
 */
export const WEB_MAX_BUFFERED_BYTES = 8 * 1024 * 1024;

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

export async function startWebServer(opts: WebServerOptions): Promise<WebServer> {
  const token = opts.token ?? randomBytes(24).toString('base64url');
  const tokenBytes = Buffer.from(token);
  const sameToken = (candidate: string | null | undefined) => {
    if (!candidate) return false;
    const b = Buffer.from(candidate);
    return b.length === tokenBytes.length && timingSafeEqual(b, tokenBytes);
  };
  let port = 0;

  /** Host (DNS rebinding) and Origin (other sites, other local ports) checks; throws 403. */
  function checkOrigin(req: IncomingMessage, stateChanging: boolean): void {
    const host = req.headers.host ?? '';
    if (host !== `127.0.0.1:${port}` && host !== `localhost:${port}`) throw new HttpError(403, 'forbidden: wrong host');
    const origin = req.headers.origin;
    // Browsers always send Origin on WebSocket upgrades and cross-origin requests; tools may not.
    if (stateChanging && origin !== undefined && origin !== `http://127.0.0.1:${port}` && origin !== `http://localhost:${port}`) {
      throw new HttpError(403, `forbidden: requests from origin ${origin.slice(0, 100)} are refused`);
    }
  }

  /** 401 without the token, 403 with a wrong one. */
  function checkToken(query: URLSearchParams): void {
    const presented = query.get('token');
    if (!presented) throw new HttpError(401, 'access token required: open the URL printed by `cocoon app --web`');
    if (!sameToken(presented)) throw new HttpError(403, 'forbidden: wrong access token');
  }

  function serveStatic(res: ServerResponse, path: string): void {
    const rel = path === '/' ? 'index.html' : normalize(decodePath(path)).replace(/^([/\\])+/, '');
    const file = join(opts.rendererDir, rel);
    if (rel.includes('\0') || !file.startsWith(opts.rendererDir) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    const csp = opts.contentSecurityPolicy ?? CONTENT_SECURITY_POLICY;
    res.writeHead(200, {
      'content-type': MIME[extname(file)] ?? 'application/octet-stream',
      'content-security-policy': csp,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'cache-control': rel === 'index.html' ? 'no-store' : 'max-age=3600',
    });
    if (rel === 'index.html') return void res.end(withMetaPolicy(readFileSync(file, 'utf8'), csp));
    const stream = createReadStream(file);
    stream.on('error', () => res.destroy());
    stream.pipe(res);
  }

  const renderText = (res: ServerResponse, err: HttpError) => {
    res.writeHead(err.status, { ...err.headers, 'content-type': 'text/plain' }).end(err.message);
  };
  const server: Server = hardenServer(createServer(safeHandler((req, res) => {
    const { path, query } = requestTarget(req);
    const reading = req.method === 'GET' || req.method === 'HEAD';
    checkOrigin(req, !reading);
    if (!reading) throw new HttpError(405, 'only GET is served; the API is the WebSocket at /api');
    if (path === '/favicon.ico') return void res.writeHead(204).end();
    if (path === '/' || path === '/index.html') checkToken(query);
    serveStatic(res, path);
  }, { log: opts.log, render: renderText })), { log: opts.log });

  // One listener on the service for all clients: events fan out to the open sockets.
  const clients = new Set<WebSocket>();
  const maxBuffered = opts.maxBufferedBytes ?? WEB_MAX_BUFFERED_BYTES;
  const send = (ws: WebSocket, frame: string) => {
    if (ws.readyState !== ws.OPEN) return;
    if (ws.bufferedAmount + frame.length > maxBuffered) {
      opts.log.warn({ buffered: ws.bufferedAmount, limit: maxBuffered }, 'web-mode page stopped reading its socket; dropping it (it reconnects)');
      clients.delete(ws);
      ws.terminate();
      return;
    }
    ws.send(frame);
  };
  const broadcast = (event: EventName, payload: unknown) => {
    const frame = JSON.stringify({ event, payload } as EventFrame);
    for (const ws of clients) send(ws, frame);
  };
  opts.service.on('event', broadcast);

  const wss = new WebSocketServer({ noServer: true, maxPayload: WEB_MAX_FRAME_BYTES });
  server.on('upgrade', safeUpgrade((req, socket, head) => {
    const { path, query } = requestTarget(req);
    checkOrigin(req, true);
    checkToken(query);
    if (path !== WEB_API_PATH) throw new HttpError(404, 'not found');
    wss.handleUpgrade(req, socket, head, (ws) => onClient(ws));
  }, opts.log));

  function onClient(ws: WebSocket): void {
    clients.add(ws);
    ws.on('close', () => clients.delete(ws));
    ws.on('error', (err) => opts.log.debug({ err: err.message }, 'web-mode socket error'));
    const reply = (frame: ReplyFrame) => send(ws, JSON.stringify(frame));
    ws.on('message', async (data) => {
      let raw: unknown;
      try {
        raw = parseJson(String(data));
      } catch (err) {
        return reply({ id: null, error: { code: TRANSPORT_ERRORS.badMessage, message: errorMessage(err) } });
      }
      const frame = requestFrameSchema.safeParse(raw);
      if (!frame.success) {
        const id = typeof raw === 'object' && raw !== null && Number.isSafeInteger((raw as { id?: unknown }).id) ? (raw as { id: number }).id : null;
        return reply({ id, error: { code: TRANSPORT_ERRORS.badMessage, message: 'expected {id: number, method: string, args: array}' } });
      }
      const { id, method, args } = frame.data;
      try {
        reply({ id, result: await opts.service.handle(method, args) });
      } catch (err) {
        reply({ id, error: toApiError(err) });
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
      opts.service.off('event', broadcast);
      for (const c of wss.clients) c.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { rawHttp } from '../../../node-core/src/http/raw-http.ts';
import type { LocalNetwork } from '../../../node-core/src/network/local-network.ts';
import { startWebServerFixture, type WebServerFixture } from '../../testing/web-server-fixture.ts';
import type { AppService } from '../services/app-service.ts';
import { startWebServer, type WebServer } from './web-server.ts';
import { createLogger } from '../../../node-core/src/log.ts';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The web-mode server's guards, against a real app service and local network on loopback. */
let net: LocalNetwork;
let service: AppService;
let web: WebServer;
let fixture: WebServerFixture | undefined;

beforeAll(async () => {
  fixture = await startWebServerFixture();
  ({ net, service, web } = fixture);
}, 60_000);

afterAll(async () => {
  await fixture?.stop();
});

/** Raw GET so the Host header can be set (fetch forbids it). */
function get(path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: web.port, path, headers }, (res) => {
      res.resume();
      resolve({ status: res.statusCode!, headers: res.headers });
    });
    req.on('error', reject);
    req.end();
  });
}

function upgrade(path: string, headers: Record<string, string> = {}): Promise<WebSocket | number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${web.port}${path}`, { headers });
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode!));
    ws.on('open', () => resolve(ws));
  });
}

function call(ws: WebSocket, msg: unknown): Promise<{ id: unknown; result?: unknown; error?: { code: string; message: string } }> {
  return new Promise((resolve) => {
    const onMessage = (data: WebSocket.RawData) => {
      const m = JSON.parse(String(data));
      if ('event' in m) return;
      ws.off('message', onMessage);
      resolve(m);
    };
    ws.on('message', onMessage);
    ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg));
  });
}

describe('web mode server', () => {
  it('serves the page with the token and the CSP, and sets no cookie (cookies ignore ports)', async () => {
    const res = await get(`/?token=${web.token}`);
    expect(res.status).toBe(200);
    expect(res.headers['set-cookie']).toBeUndefined();
    expect(String(res.headers['content-security-policy'])).toMatch(/script-src 'self'/);
    expect((await get('/assets/a.js')).status).toBe(200);
  });

  it('refuses the page without a token with 401 and with a wrong one with 403', async () => {
    expect((await get('/')).status).toBe(401);
    expect((await get(`/?token=${web.token.slice(0, -1)}x`)).status).toBe(403);
    // A token in a cookie (as main set it) is no longer honoured by anything.
    expect(await upgrade('/api', { cookie: `cocoon_token=${web.token}` })).toBe(401);
  });

  it('refuses a foreign Host header even with the right token (DNS rebinding)', async () => {
    expect((await get(`/?token=${web.token}`, { host: `evil.example:${web.port}` })).status).toBe(403);
  });

  it('answers `GET http://[` and a malformed escape with 400 and keeps serving', async () => {
    expect((await rawHttp(web.port, `GET http://[ HTTP/1.1\r\nhost: 127.0.0.1:${web.port}\r\n\r\n`)).status).toBe(400);
    expect((await rawHttp(web.port, `GET /%E0%A4%A?token=${web.token} HTTP/1.1\r\nhost: 127.0.0.1:${web.port}\r\n\r\n`)).status).toBe(400);
    expect((await rawHttp(web.port, `GET /x HTTP/1.1\r\nhost: 127.0.0.1:${web.port}\r\nupgrade: websocket\r\nconnection: upgrade\r\nsec-websocket-key: x\r\nsec-websocket-version: 13\r\n\r\n`)).status).toBe(401);
    expect((await get(`/?token=${web.token}`)).status).toBe(200);
  });

  it('refuses WebSocket upgrades from another origin, such as a page on another 127.0.0.1 port', async () => {
    expect(await upgrade(`/api?token=${web.token}`, { origin: 'http://127.0.0.1:1' })).toBe(403);
    expect(await upgrade(`/api?token=${web.token}`, { origin: 'http://evil.example' })).toBe(403);
    const own = await upgrade(`/api?token=${web.token}`, { origin: `http://127.0.0.1:${web.port}` });
    expect(own).toBeInstanceOf(WebSocket);
    (own as WebSocket).close();
  });

  it('refuses state-changing requests from another origin', async () => {
    const res = await new Promise<number>((resolve, reject) => {
      const r = request({ host: '127.0.0.1', port: web.port, path: `/?token=${web.token}`, method: 'POST', headers: { origin: 'http://127.0.0.1:1', 'content-type': 'text/plain' } }, (res) => { res.resume(); resolve(res.statusCode!); });
      r.on('error', reject);
      r.end('x');
    });
    expect(res).toBe(403);
  });

  it('holds one service listener however many clients come and go', async () => {
    const before = service.listenerCount('event');
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    const sockets = await Promise.all(Array.from({ length: 20 }, () => upgrade(`/api?token=${web.token}`)));
    expect(sockets.every((s) => s instanceof WebSocket)).toBe(true);
    expect(service.listenerCount('event')).toBe(before);
    for (const s of sockets) (s as WebSocket).close();
    await new Promise((r) => setTimeout(r, 50));
    process.off('warning', onWarning);
    expect(warnings).not.toContain('MaxListenersExceededWarning');
    expect(before).toBe(1);
  });

  it('does not serve files outside the renderer directory', async () => {
    expect((await get(`/../../../../etc/passwd?token=${web.token}`)).status).toBe(404);
    expect((await get(`/%2e%2e/%2e%2e/etc/passwd?token=${web.token}`)).status).toBe(404);
  });

  it('refuses WebSocket upgrades without the token (401), with a wrong one (403) and on other paths', async () => {
    expect(await upgrade('/api')).toBe(401);
    expect(await upgrade('/api?token=wrong')).toBe(403);
    expect(await upgrade(`/other?token=${web.token}`)).toBe(404);
    const deep = await upgrade(`/api?token=${web.token}`);
    expect((await call(deep as WebSocket, '['.repeat(100_000))).error?.code).toBe('bad_message');
    (deep as WebSocket).close();
  });

  it('answers contract calls over the WebSocket and reports bad messages and arguments by name', async () => {
    const ws = await upgrade(`/api?token=${web.token}`);
    expect(ws).toBeInstanceOf(WebSocket);
    const socket = ws as WebSocket;
    try {
      expect((await call(socket, { id: 1, method: 'models.list', args: [] })).result).toEqual([{ id: net.models[0], workers: 1 }]);
      expect((await call(socket, 'not json')).error?.code).toBe('bad_message');
      expect((await call(socket, { id: 2, method: 'models.list' })).error?.code).toBe('bad_message');
      const bad = await call(socket, { id: 3, method: 'chat.start', args: [{ conversationId: 'c-1', model: 'm', messages: [{ role: 'user', content: 'x' }], temperature: 1, maxTokens: 0 }] });
      expect(bad).toMatchObject({ id: 3, error: { code: 'bad_arguments', message: expect.stringMatching(/^Max tokens: .*maxTokens/) } });
      expect((await call(socket, { id: 4, method: 'shell.exec', args: [] })).error?.code).toBe('unknown_request');
    } finally {
      socket.close();
    }
  });

  it('drops a page that stops reading once its unsent backlog passes the limit, and keeps serving the others', async () => {
    const limit = 256 * 1024;
    const small = await startWebServer({ service, rendererDir: mkdtempSync(join(tmpdir(), 'web-r-')), log: createLogger('test'), maxBufferedBytes: limit });
    try {
      const open = (path: string) => new Promise<WebSocket>((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${small.port}${path}`, { headers: { origin: `http://127.0.0.1:${small.port}` } });
        ws.once('open', () => resolve(ws));
        ws.once('error', reject);
      });
      const stalled = await open(`/api?token=${small.token}`);
      const reader = await open(`/api?token=${small.token}`);
      let readerBytes = 0;
      reader.on('message', (d) => { readerBytes += (d as Buffer).length; });
      const closed = new Promise<void>((resolve) => stalled.once('close', () => resolve()));
      // A frozen tab: its socket is never read, so the kernel buffers fill and the backlog grows in main.
      const stalledSocket = (stalled as unknown as { _socket: { pause(): void; resume(): void } })._socket;
      stalledSocket.pause();
      let stalledBytes = 0;
      stalled.on('message', (d) => { stalledBytes += (d as Buffer).length; });
      const chunk = 'x'.repeat(64 * 1024);
      for (let i = 0; i < 400; i++) {
        service.emitEvent('owner.td.console', { data: chunk });
        if (i % 20 === 0) await new Promise((r) => setImmediate(r));
      }
      // The tab wakes up: it reads what was sent before the drop, then sees the connection gone.
      stalledSocket.resume();
      await closed;
      expect(stalledBytes).toBeLessThan(400 * chunk.length);
      // The reading page got every event and still gets replies.
      await expect.poll(() => readerBytes, { timeout: 10_000 }).toBeGreaterThanOrEqual(400 * chunk.length);
      const answer = await call(reader, { id: 1, method: 'status.get', args: [] });
      expect(answer.error).toBeUndefined();
      reader.close();
    } finally {
      await small.close();
    }
  }, 60_000);
});


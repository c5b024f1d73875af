import { mkdtempSync } from 'node:fs';
import { getEventListeners } from 'node:events';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectRaTls, createPeerVerifier, createPolicy, createRaTlsIdentity, fakeQuoteProvider } from '../attestation/index.ts';
import { serveLocalApi } from '../chain/local/http-api.ts';
import { LocalLedger } from '../chain/local/ledger.ts';
import { attestationNow } from '../client/client-runner.ts';
import { createLogger } from '../log.ts';
import { startLocalNetwork, type LocalNetwork } from '../network/local-network.ts';
import { serveJsonStats } from '../stats-server.ts';
import { rawHttp } from './raw-http.ts';

/**
 * Regression tests for issue 13 against the real servers on loopback: each request here crashed a
 * process, reached the API from another origin, or answered 500 on main.
 */
const log = createLogger('test');
let net: LocalNetwork;
let chainPort: number;
let closeChain: () => Promise<void>;
let stats: { url: string; close(): Promise<void> };

beforeAll(async () => {
  net = await startLocalNetwork({ log });
  const { ledger } = await LocalLedger.open(mkdtempSync(join(tmpdir(), 'harden-chain-')));
  const chain = await serveLocalApi(ledger, 0, log);
  chainPort = Number(new URL(chain.baseUrl).port);
  closeChain = () => new Promise((r) => { chain.server.closeAllConnections(); chain.server.close(() => r()); });
  stats = await serveJsonStats(0, () => ({ ok: 1 }));
}, 60_000);

afterAll(async () => {
  await stats?.close();
  await closeChain?.();
  await net?.stop();
});

const clientPort = () => net.client.port;
const enginePort = () => Number(new URL(net.engine!.url).port);
const statsPort = () => Number(new URL(stats.url).port);

function post(port: number, path: string, body: string, headers: Record<string, string>): Promise<{ status: number | null; text: string }> {
  const lines = Object.entries({ host: `127.0.0.1:${port}`, 'content-length': String(Buffer.byteLength(body)), connection: 'close', ...headers }).map(([k, v]) => `${k}: ${v}`);
  return rawHttp(port, `POST ${path} HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n${body}`);
}

describe('every server answers malformed requests with 4xx and stays up', () => {
  it.each([
    ['chain API', () => chainPort],
    ['client API', clientPort],
    ['test engine', enginePort],
    ['stats', statsPort],
  ])('%s: `GET http://[`, a bad escape and a garbage request line', async (_name, port) => {
    expect((await rawHttp(port(), `GET http://[ HTTP/1.1\r\nhost: 127.0.0.1:${port()}\r\n\r\n`)).status).toBe(400);
    expect((await rawHttp(port(), `GET /%E0%A4%A HTTP/1.1\r\nhost: 127.0.0.1:${port()}\r\n\r\n`)).status).toBeGreaterThanOrEqual(400);
    expect((await rawHttp(port(), 'GARBAGE\r\n\r\n')).status).toBe(400);
    // Still serving afterwards.
    expect((await rawHttp(port(), `GET /nope HTTP/1.1\r\nhost: 127.0.0.1:${port()}\r\nconnection: close\r\n\r\n`)).status).toBeGreaterThanOrEqual(400);
  });

  it('chain API: a GET method name with a malformed escape is a 400, deeply nested JSON-RPC a 400', async () => {
    expect((await rawHttp(chainPort, `GET /getAddressState%E0%A4%A HTTP/1.1\r\nhost: x\r\n\r\n`)).status).toBe(400);
    const deep = `{"method":"getMasterchainInfo","params":${'['.repeat(50_000)}${']'.repeat(50_000)}}`;
    expect((await post(chainPort, '/jsonRPC', deep, { 'content-type': 'application/json' })).status).toBe(400);
  });

  it('test engine and client: deeply nested JSON is a 400, not a 500 "Maximum call stack"', async () => {
    const deep = `{"model":"m","messages":[{"role":"user","content":${'['.repeat(100_000)}${']'.repeat(100_000)}}]}`;
    for (const port of [enginePort(), clientPort()]) {
      const res = await post(port, '/v1/chat/completions', deep, { 'content-type': 'application/json' });
      expect(res.status).toBe(400);
      expect(res.text).toMatch(/nested/);
    }
  });

  it('413 early by Content-Length, before the body is sent', async () => {
    for (const [port, path] of [[chainPort, '/jsonRPC'], [enginePort(), '/v1/chat/completions'], [clientPort(), '/v1/chat/completions']] as const) {
      const res = await rawHttp(port, `POST ${path} HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\ncontent-type: application/json\r\ncontent-length: 999999999\r\n\r\n{`);
      expect(res.status).toBe(413);
    }
  });
});

describe('client API gate', () => {
  it('refuses a DNS-rebinding Host header', async () => {
    const res = await rawHttp(clientPort(), `GET /v1/models HTTP/1.1\r\nhost: attacker.example:${clientPort()}\r\nconnection: close\r\n\r\n`);
    expect(res.status).toBe(403);
    expect(res.text).toMatch(/DNS rebinding/);
  });

  it('refuses a cross-origin text/plain POST (the no-preflight spend) and sends no CORS headers', async () => {
    const body = JSON.stringify({ model: net.models[0], messages: [{ role: 'user', content: 'hi' }] });
    const crossOrigin = await post(clientPort(), '/v1/chat/completions', body, { 'content-type': 'text/plain', origin: 'http://evil.example' });
    expect(crossOrigin.status).toBe(403);
    expect(crossOrigin.text).not.toMatch(/access-control-allow-origin/i);
    const plain = await post(clientPort(), '/v1/chat/completions', body, { 'content-type': 'text/plain' });
    expect(plain.status).toBe(415);
    const preflight = await rawHttp(clientPort(), `OPTIONS /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1:${clientPort()}\r\norigin: http://evil.example\r\naccess-control-request-method: POST\r\nconnection: close\r\n\r\n`);
    expect(preflight.status).toBe(403);
  });

  it('still serves same-machine tools (no Origin, JSON)', async () => {
    const body = JSON.stringify({ model: net.models[0], messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 });
    expect((await post(clientPort(), '/v1/chat/completions', body, { 'content-type': 'application/json' })).status).toBe(200);
  });
});

describe('status and listeners', () => {
  it('a proxy attestation is not reported valid while the link is down', () => {
    const report = net.client.status().attestation!;
    expect(report.valid).toBe(true);
    const down = attestationNow({ connected: false, attestation: report, state: { endpoint: 'x', state: 'disconnected', since: '', error: 'socket closed' } });
    expect(down?.valid).toBe(false);
    expect(down?.error).toMatch(/socket closed/);
  });

  it('reconnect attempts on one stop signal leave no abort listeners behind', async () => {
    // A port that accepts and immediately closes: every attempt fails.
    const sink = createServer((s) => s.destroy());
    await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
    const port = (sink.address() as { port: number }).port;
    const identity = await createRaTlsIdentity({ provider: fakeQuoteProvider(), role: 'client' });
    const stop = new AbortController();
    for (let i = 0; i < 15; i++) {
      await connectRaTls({ host: '127.0.0.1', port, identity, verifier: createPeerVerifier(createPolicy({ name: 'any' })), signal: stop.signal }).catch(() => undefined);
    }
    sink.close();
    expect(getEventListeners(stop.signal, 'abort')).toHaveLength(0);
  });
});

describe('fuzz: raw request lines and headers (fixed seed, time-boxed)', () => {
  it('no server dies and RSS returns near its baseline', async () => {
    let seed = 0x13;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) % n);
    const pieces = ['GET', 'POST', 'OPTIONS', 'PUT', '\x00', ' ', '/', '//', 'http://[', '%', '%E0%A4%A', '?token=', '\r\n', 'HTTP/1.1', 'HTTP/9', 'host: 127.0.0.1', 'content-length: -1', 'content-length: 99999999999',
      'transfer-encoding: chunked', 'content-type: application/json', 'origin: null', '{', '['.repeat(5000), '\xff\xfe', 'a'.repeat(10_000), 'upgrade: websocket', 'connection: upgrade', ':'];
    const ports = [chainPort, clientPort(), enginePort(), statsPort()];
    global.gc?.();
    const baseline = process.memoryUsage().rss;
    const deadline = Date.now() + 15_000;
    let sent = 0;
    while (Date.now() < deadline && sent < 400) {
      const parts = Array.from({ length: 1 + rand(12) }, () => pieces[rand(pieces.length)]!);
      const req = rand(3) === 0 ? parts.join('') : `${parts.join(' ')}\r\n\r\n`;
      await Promise.all(ports.map((p) => rawHttp(p, Buffer.from(req, 'latin1'), 300)));
      sent++;
    }
    for (const p of ports) expect((await rawHttp(p, `GET /health HTTP/1.1\r\nhost: 127.0.0.1:${p}\r\nconnection: close\r\n\r\n`)).status).not.toBeNull();
    await new Promise((r) => setTimeout(r, 200));
    global.gc?.();
    const after = process.memoryUsage().rss;
    console.log(`fuzz: ${sent} requests × ${ports.length} servers; RSS ${(baseline / 2 ** 20).toFixed(1)} → ${(after / 2 ** 20).toFixed(1)} MiB`);
    expect(after - baseline).toBeLessThan(64 * 2 ** 20);
  }, 40_000);
});

import { randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';
import { CocoonError } from '../errors.ts';
import { HttpError, requireJson } from '../http/safe-http.ts';

/**
 * The client API's gate, run before any route: who may call the OpenAI endpoint on loopback.
 * A browser page must not be able to spend the user's inference budget, so
 * - the Host header must name this loopback listener (a DNS-rebinding page sends its own name);
 * - cross-origin requests are refused unless their Origin is configured (no CORS by default);
 * - bodies must be `application/json`, which a cross-origin page cannot send without a preflight;
 * - with an API key, `Authorization: Bearer <key>` is required (on by default when real money is
 *   at stake: testnet and mainnet).
 */
export interface ClientGateOptions {
  /** The bound port, known once listening. */
  port: () => number;
  /** Extra `host[:port]` values to accept (a reverse proxy in front of the client). */
  allowedHosts?: string[];
  /** Exact origins (`https://app.example`) that may call the API from a browser. */
  allowedOrigins?: string[];
  /** Required bearer token; null or absent: none. */
  apiKey?: string | null;
}

export type GateVerdict = 'pass' | 'answered';

export function createClientGate(opts: ClientGateOptions): (req: IncomingMessage, res: ServerResponse) => GateVerdict {
  const origins = new Set(opts.allowedOrigins ?? []);
  const extraHosts = new Set((opts.allowedHosts ?? []).map((h) => h.toLowerCase()));
  const key = opts.apiKey ? Buffer.from(opts.apiKey) : null;
  return (req, res) => {
    const port = opts.port();
    const host = (req.headers.host ?? '').toLowerCase();
    const loopback = [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`];
    if (!loopback.includes(host) && !extraHosts.has(host)) {
      throw new HttpError(403, `Host "${host.slice(0, 100)}" is not this API (expected 127.0.0.1:${port}); requests through other host names are refused to stop DNS rebinding`, 'host_not_allowed');
    }
    const origin = req.headers.origin;
    if (origin !== undefined) {
      if (!origins.has(origin)) {
        throw new HttpError(403, `cross-origin requests from "${origin.slice(0, 100)}" are refused; start the client with --allow-origin ${origin.slice(0, 100)} to permit it`, 'origin_not_allowed');
      }
      res.setHeader('access-control-allow-origin', origin);
      res.setHeader('vary', 'Origin');
      res.setHeader('access-control-expose-headers', 'x-cocoon-request-id');
      if (req.method === 'OPTIONS') {
        res.writeHead(204, {
          'access-control-allow-methods': 'GET, POST',
          'access-control-allow-headers': 'authorization, content-type',
          'access-control-max-age': '600',
        }).end();
        return 'answered';
      }
    }
    if (key) {
      const presented = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
      const b = presented ? Buffer.from(presented) : null;
      if (!b || b.length !== key.length || !timingSafeEqual(b, key)) {
        throw new HttpError(401, presented ? 'wrong API key' : 'this client requires an API key: send "Authorization: Bearer <key>" (the key is in <data dir>/client-api-key)', 'invalid_api_key', { 'www-authenticate': 'Bearer' });
      }
    }
    if (req.method === 'POST') requireJson(req);
    return 'pass';
  };
}

/** Networks where requests cost real TON: the API key is on unless explicitly turned off. */
export function apiKeyRequiredByDefault(network: 'local' | 'testnet' | 'mainnet'): boolean {
  return network !== 'local';
}

/** The client's API key, generated once and kept (mode 0600) in `<dataDir>/client-api-key`. */
export function loadOrCreateApiKey(dataDir: string): { key: string; path: string; created: boolean } {
  const path = join(dataDir, 'client-api-key');
  if (existsSync(path)) {
    const key = readFileSync(path, 'utf8').trim();
    if (!/^[\w-]{32,}$/.test(key)) throw new CocoonError('bad_api_key_file', `${path} does not hold an API key`, { hint: 'delete the file to generate a new key' });
    return { key, path, created: false };
  }
  mkdirSync(dirname(path), { recursive: true });
  const key = `cocoon-${randomBytes(24).toString('base64url')}`;
  writeFileSync(path, key + '\n', { mode: 0o600, flag: 'wx' });
  chmodSync(path, 0o600);
  return { key, path, created: true };
}

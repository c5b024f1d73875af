import { existsSync, readFileSync, statSync } from 'node:fs';
import { extname, join, normalize, sep } from 'node:path';
import { CONTENT_SECURITY_POLICY, withMetaPolicy } from '../security.ts';

/**
 * The renderer's origin in Electron: `app://cocoon/`, a custom standard+secure scheme served
 * from the bundled renderer directory, instead of file:// (where every local file shares one
 * origin). Pure functions so they are tested without the Electron binary; main.ts wires them to
 * `protocol.handle` and `ipcMain`.
 */
export const APP_SCHEME = 'app';
export const APP_ORIGIN = 'app://cocoon';
export const APP_ENTRY = `${APP_ORIGIN}/index.html`;

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml',
  '.png': 'image/png', '.json': 'application/json', '.ico': 'image/x-icon', '.woff2': 'font/woff2',
};

export interface AppResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** Answers an `app://` request from `rendererDir`: only that host, only files inside the directory. */
export function serveAppRequest(url: string, rendererDir: string, policy: string = CONTENT_SECURITY_POLICY): AppResponse {
  const notFound = (why: string): AppResponse => ({ status: 404, headers: { 'content-type': 'text/plain' }, body: Buffer.from(why) });
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return notFound('bad URL');
  }
  if (`${parsed.protocol}//${parsed.host}` !== APP_ORIGIN) return notFound('unknown host');
  let rel: string;
  try {
    rel = decodeURIComponent(parsed.pathname);
  } catch {
    return notFound('bad path');
  }
  if (rel === '/' || rel === '') rel = '/index.html';
  const root = normalize(rendererDir + sep);
  const file = normalize(join(root, rel));
  if (rel.includes('\0') || !file.startsWith(root) || !existsSync(file) || !statSync(file).isFile()) return notFound('not found');
  return {
    status: 200,
    headers: {
      'content-type': MIME[extname(file)] ?? 'application/octet-stream',
      'content-security-policy': policy,
      'x-content-type-options': 'nosniff',
    },
    body: rel === '/index.html' ? Buffer.from(withMetaPolicy(readFileSync(file, 'utf8'), policy)) : readFileSync(file),
  };
}

/**
 * IPC is answered only for our own page's main frame: a frame from elsewhere (an injected
 * iframe, a navigated-away page) gets nothing, whatever channel it guesses.
 */
export function isTrustedSender(frame: { url?: string; parent?: unknown } | null | undefined): boolean {
  if (!frame || frame.parent) return false;
  try {
    const u = new URL(frame.url ?? '');
    return `${u.protocol}//${u.host}` === APP_ORIGIN;
  } catch {
    return false;
  }
}

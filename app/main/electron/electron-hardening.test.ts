import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { APP_ROOT } from '../web/renderer-build.ts';
import { CONTENT_SECURITY_POLICY, META_CONTENT_SECURITY_POLICY } from '../security.ts';
import { APP_ENTRY, isTrustedSender, serveAppRequest } from './renderer-origin.ts';

/** The Electron checklist, tested without the Electron binary. */
const dir = mkdtempSync(join(tmpdir(), 'app-proto-'));
mkdirSync(join(dir, 'assets'));
writeFileSync(join(dir, 'index.html'), '<!doctype html>');
writeFileSync(join(dir, 'assets', 'a.js'), 'x');
writeFileSync(join(tmpdir(), 'outside-secret.txt'), 'secret');

describe('app:// protocol instead of file://', () => {
  it('serves the renderer files with the CSP header', () => {
    const page = serveAppRequest(APP_ENTRY, dir);
    expect(page.status).toBe(200);
    expect(page.headers['content-security-policy']).toBe(CONTENT_SECURITY_POLICY);
    expect(serveAppRequest('app://cocoon/assets/a.js', dir).headers['content-type']).toBe('text/javascript');
  });

  it('serves nothing outside the renderer directory or for another host', () => {
    expect(serveAppRequest('app://cocoon/../outside-secret.txt', dir).status).toBe(404);
    expect(serveAppRequest('app://cocoon/%2e%2e/outside-secret.txt', dir).status).toBe(404);
    expect(serveAppRequest('app://cocoon/%E0%A4%A', dir).status).toBe(404);
    expect(serveAppRequest('app://other/index.html', dir).status).toBe(404);
  });
});

describe('IPC sender check', () => {
  it('answers only the app page main frame', () => {
    expect(isTrustedSender({ url: 'app://cocoon/index.html', parent: null })).toBe(true);
    expect(isTrustedSender({ url: 'app://cocoon/index.html', parent: {} })).toBe(false);
    expect(isTrustedSender({ url: 'file:///tmp/evil.html', parent: null })).toBe(false);
    expect(isTrustedSender({ url: 'https://evil.example/', parent: null })).toBe(false);
    expect(isTrustedSender({ url: 'app://cocoon.evil/index.html', parent: null })).toBe(false);
    expect(isTrustedSender(null)).toBe(false);
  });

  it('main.ts checks the sender and loads the app:// entry, not a file', () => {
    const main = readFileSync(join(APP_ROOT, 'main', 'electron', 'main.ts'), 'utf8');
    expect(main).toMatch(/isTrustedSender\(e\.senderFrame\)/);
    expect(main).toMatch(/loadURL\(APP_ENTRY\)/);
    expect(main).not.toMatch(/loadFile\(/);
  });
});

describe('CSP by meta tag too', () => {
  it('index.html carries the same policy (minus header-only frame-ancestors)', () => {
    const html = readFileSync(join(APP_ROOT, 'renderer', 'index.html'), 'utf8');
    const meta = /<meta http-equiv="Content-Security-Policy" content="([^"]+)"/.exec(html)?.[1];
    expect(meta).toBe(META_CONTENT_SECURITY_POLICY);
    expect(META_CONTENT_SECURITY_POLICY).toMatch(/script-src 'self'/);
  });
});

describe('Electron fuses in the packaging config', () => {
  it('flips every fuse that turns the app into a general Node runtime or loads unchecked code', () => {
    const yml = readFileSync(join(APP_ROOT, '..', 'electron-builder.yml'), 'utf8');
    const block = /^electronFuses:\n((?: {2}\w+: \w+\n)+)/m.exec(yml)?.[1] ?? '';
    const fuses = Object.fromEntries(block.trim().split('\n').map((l) => l.trim().split(': ')));
    expect(fuses).toEqual({
      runAsNode: 'false',
      enableNodeOptionsEnvironmentVariable: 'false',
      enableNodeCliInspectArguments: 'false',
      onlyLoadAppFromAsar: 'true',
      enableEmbeddedAsarIntegrityValidation: 'true',
      enableCookieEncryption: 'true',
    });
    expect(yml).not.toMatch(/^asar: false/m);
  });
});

import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveApiKey } from './api-key.ts';

const dirs: string[] = [];
const dir = () => {
  const d = mkdtempSync(join(tmpdir(), 'cocoon-key-'));
  dirs.push(d);
  return d;
};
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });

describe('the client API key from flags', () => {
  it('is off on the local network unless one is given', () => {
    expect(resolveApiKey({ network: 'local', dataDir: dir() }).key).toBeNull();
    expect(resolveApiKey({ network: 'local', dataDir: dir(), apiKey: 'k'.repeat(20) }).key).toBe('k'.repeat(20));
  });

  it('is on by default on testnet and mainnet: generated once in the data dir (0600), the same key afterwards', () => {
    const d = dir();
    const first = resolveApiKey({ network: 'testnet', dataDir: d });
    expect(first.key).toMatch(/^cocoon-[\w-]{32,}$/);
    expect(first.created).toBe(true);
    expect(statSync(join(d, 'client-api-key')).mode & 0o777).toBe(0o600);
    const again = resolveApiKey({ network: 'mainnet', dataDir: d });
    expect(again).toMatchObject({ key: first.key, created: false, source: join(d, 'client-api-key') });
    expect(resolveApiKey({ network: 'mainnet', dataDir: d, noApiKey: true }).key).toBeNull();
  });

  it('reads --api-key-file, and refuses short keys, unreadable files and two sources at once', () => {
    const file = join(dir(), 'key');
    writeFileSync(file, 'abcdefghijklmnopqrstuvwx\n');
    expect(resolveApiKey({ network: 'testnet', dataDir: dir(), apiKeyFile: file })).toMatchObject({ key: 'abcdefghijklmnopqrstuvwx', source: file });
    expect(() => resolveApiKey({ network: 'local', dataDir: dir(), apiKey: 'short' })).toThrow(/16-256 printable/);
    expect(() => resolveApiKey({ network: 'local', dataDir: dir(), apiKeyFile: join(dir(), 'missing') })).toThrow(/cannot be read/);
    expect(() => resolveApiKey({ network: 'local', dataDir: dir(), apiKey: 'k'.repeat(20), apiKeyFile: file })).toThrow(/only one of/);
  });
});

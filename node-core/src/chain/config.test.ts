import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveChainConfig, DEFAULT_ENDPOINTS } from './config.ts';
import { writeAnnouncement, localChainStateFile } from './state-file.ts';

const ROOT = 'EQAUX60tZbK_nfm4OjTnp1Q76v7ytd6yufdZSXha5OJB3Y_C';

describe('chain configuration', () => {
  let home: string;
  beforeEach(() => {
    home = mkdtempSync(join(tmpdir(), 'cocoon-home-'));
  });
  afterEach(() => rmSync(home, { recursive: true, force: true }));

  it('uses an explicit endpoint, API key and root address', () => {
    const c = resolveChainConfig({ COCOON_HOME: home, COCOON_NETWORK: 'testnet', COCOON_TON_ENDPOINT: 'https://example.test/jsonRPC', COCOON_TON_API_KEY: 'k', COCOON_ROOT_ADDRESS: ROOT });
    expect(c).toEqual({ network: 'testnet', endpoint: 'https://example.test/jsonRPC', apiKey: 'k', rootAddress: ROOT });
  });

  it('defaults the public endpoint per network', () => {
    expect(resolveChainConfig({ COCOON_HOME: home, COCOON_NETWORK: 'mainnet' }).endpoint).toBe(DEFAULT_ENDPOINTS.mainnet);
  });

  it('falls back to the announced local chain while its process lives', () => {
    const file = localChainStateFile({ COCOON_HOME: home });
    writeAnnouncement(file, { endpoint: 'http://127.0.0.1:1234/jsonRPC', rootAddress: ROOT, dataDir: home, pid: process.pid, startedAt: 'now' });
    expect(resolveChainConfig({ COCOON_HOME: home })).toEqual({ network: 'local', endpoint: 'http://127.0.0.1:1234/jsonRPC', rootAddress: ROOT });
    writeAnnouncement(file, { endpoint: 'http://127.0.0.1:1234/jsonRPC', rootAddress: ROOT, dataDir: home, pid: 2 ** 22 + 12345, startedAt: 'now' });
    expect(() => resolveChainConfig({ COCOON_HOME: home })).toThrow(/no local chain is running/);
  });

  it('rejects bad values with the variable named', () => {
    expect(() => resolveChainConfig({ COCOON_HOME: home, COCOON_NETWORK: 'devnet' })).toThrow(/COCOON_NETWORK/);
    expect(() => resolveChainConfig({ COCOON_HOME: home, COCOON_TON_ENDPOINT: 'not a url' })).toThrow(/COCOON_TON_ENDPOINT/);
    expect(() => resolveChainConfig({ COCOON_HOME: home, COCOON_TON_ENDPOINT: 'ftp://x/y' })).toThrow(/http/);
    expect(() => resolveChainConfig({ COCOON_HOME: home, COCOON_NETWORK: 'testnet', COCOON_ROOT_ADDRESS: 'zzz' })).toThrow(/COCOON_ROOT_ADDRESS/);
  });
});

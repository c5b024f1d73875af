import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkNetworkSettings, networkSettingsErrors } from './network-settings.ts';
import { SettingsStore } from './settings-store.ts';

const MAINNET_ROOT = 'EQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAM9c';
const TESTONLY_ROOT = 'kQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAHTW';
const ok = { endpoint: 'https://toncenter.com/api/v2/jsonRPC', apiKey: null, rootAddress: MAINNET_ROOT };

describe('network settings validation', () => {
  it('local needs nothing and drops whatever else was typed', () => {
    expect(checkNetworkSettings({ name: 'local', endpoint: 'http://x', apiKey: 'k', rootAddress: 'junk' })).toEqual({ name: 'local', endpoint: null, apiKey: null, rootAddress: null, tonConnectManifestUrl: null });
  });

  it('accepts mainnet and testnet with an https endpoint and a root address', () => {
    expect(networkSettingsErrors({ name: 'mainnet', ...ok })).toEqual({});
    expect(networkSettingsErrors({ name: 'testnet', ...ok, endpoint: 'https://testnet.toncenter.com/api/v2/jsonRPC', rootAddress: TESTONLY_ROOT, apiKey: 'abcDEF-123_x' })).toEqual({});
    expect(networkSettingsErrors({ name: 'testnet', ...ok, rootAddress: '0:' + '0'.repeat(64) })).toEqual({});
  });

  it('names each bad field with what to do', () => {
    expect(networkSettingsErrors({ name: 'testnet', endpoint: null, apiKey: null, rootAddress: null })).toEqual({
      endpoint: expect.stringMatching(/endpoint is required for testnet.*https:\/\/testnet\.toncenter\.com/),
      rootAddress: expect.stringMatching(/root contract address on testnet is required/),
    });
    expect(networkSettingsErrors({ name: 'mainnet', ...ok, endpoint: 'http://toncenter.com/api/v2/jsonRPC' }).endpoint).toMatch(/must use https on mainnet/);
    expect(networkSettingsErrors({ name: 'mainnet', ...ok, endpoint: 'not a url' }).endpoint).toMatch(/not a URL/);
    expect(networkSettingsErrors({ name: 'mainnet', ...ok, endpoint: 'https://user:key@toncenter.com/' }).endpoint).toMatch(/API key in its own field/);
    expect(networkSettingsErrors({ name: 'mainnet', ...ok, apiKey: 'has spaces in it' }).apiKey).toMatch(/letters, digits/);
    expect(networkSettingsErrors({ name: 'mainnet', ...ok, rootAddress: 'EQ-nope' }).rootAddress).toMatch(/not a TON address/);
    expect(networkSettingsErrors({ name: 'mainnet', ...ok, rootAddress: TESTONLY_ROOT }).rootAddress).toMatch(/testnet-only address/);
    expect(networkSettingsErrors({ name: 'mainnet', ...ok, tonConnectManifestUrl: 'http://example.org/m.json' }).tonConnectManifestUrl).toMatch(/public https URL/);
    expect(networkSettingsErrors({ name: 'mainnet', ...ok, tonConnectManifestUrl: 'https://example.org/tonconnect-manifest.json' })).toEqual({});
    expect(() => checkNetworkSettings({ name: 'devnet' })).toThrow(/^network\.name: /);
    expect(() => checkNetworkSettings({ name: 'mainnet', ...ok, endpoint: 'http://x' })).toThrow(/^network\.endpoint: .*https/);
  });

  it('the settings store saves a checked network and refuses a bad one without losing the saved one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'net-settings-'));
    try {
      const store = new SettingsStore(dir);
      expect((await store.read()).network.name).toBe('local');
      await store.update({ network: { name: 'mainnet', ...ok, apiKey: '' } });
      expect((await store.read()).network).toEqual({ name: 'mainnet', ...ok, apiKey: null, tonConnectManifestUrl: null });
      await expect(store.update({ network: { name: 'testnet', endpoint: 'ftp://x', apiKey: null, rootAddress: null } })).rejects.toThrow(/network\.endpoint/);
      expect(JSON.parse(readFileSync(join(dir, 'settings.json'), 'utf8')).network.name).toBe('mainnet');
      expect(statSync(join(dir, 'settings.json')).mode & 0o777).toBe(0o600); // it holds the API key
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

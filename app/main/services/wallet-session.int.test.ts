import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Address } from '@ton/core';
import { mnemonicNew } from '@ton/crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../node-core/src/log.ts';
import { createHeadlessWallet, type HeadlessWallet } from '../../../node-core/src/wallet/headless-wallet.ts';
import type { WalletSessionState } from '../../shared/api-contract.ts';
import { WalletSession } from './wallet-session.ts';

/**
 * The app's TON Connect session (SDK in main) against the headless wallet on the local bridge: an
 * address is trusted only after its ton_proof verifies for this app's domain and payload.
 */
const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const o of open.splice(0)) await o.close();
});

async function session(): Promise<{ s: WalletSession; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'wallet-session-'));
  const s = new WalletSession({ network: 'local', appDataDir: dir, log: createLogger('test') });
  await s.start();
  open.push(s, { close: async () => rmSync(dir, { recursive: true, force: true }) });
  return { s, dir };
}

function until(s: WalletSession, done: (st: WalletSessionState) => boolean): Promise<WalletSessionState> {
  return new Promise((resolve) => {
    if (done(s.current())) return resolve(s.current());
    const on = (st: WalletSessionState) => { if (done(st)) { s.off('state', on); resolve(st); } };
    s.on('state', on);
  });
}

async function wallet(s: WalletSession, manifestUrl?: string): Promise<HeadlessWallet> {
  const w = await createHeadlessWallet({
    mnemonic: await mnemonicNew(), endpoint: 'http://127.0.0.1:1/unused', bridgeUrl: s.localBridgeUrl!, approve: () => true,
    ...(manifestUrl && { fetchManifest: async () => ({ url: manifestUrl, name: 'Elsewhere' }) }),
  });
  open.push(w);
  return w;
}

describe('WalletSession (TON Connect in main)', () => {
  it('lists only the development wallet on the local network and connects it after ton_proof', async () => {
    const { s, dir } = await session();
    expect(s.current().wallets.map((w) => w.appName)).toEqual(['cocoon-dev-wallet']);
    expect(s.current().wallets[0]!.image).toMatch(/^data:image\/svg\+xml;base64,/);
    const req = await s.connect('cocoon-dev-wallet');
    expect(req.state).toBe('connecting');
    expect(req.qrDataUrl).toMatch(/^data:image\/png;base64,/);
    const w = await wallet(s);
    await w.connect(req.universalLink!);
    const st = await until(s, (x) => x.state === 'connected');
    expect(Address.parse(st.address!).equals(w.address)).toBe(true);
    expect(st.error).toBeNull();
    expect(s.signer()!.address.equals(w.address)).toBe(true);
    expect(statSync(join(dir, 'tonconnect', 'session.json')).mode & 0o777).toBe(0o600);
    await expect(s.connect('cocoon-dev-wallet')).rejects.toMatchObject({ code: 'already_connected' });
    expect((await s.disconnect()).state).toBe('disconnected');
    expect(s.signer()).toBeNull();
  });

  it('refuses an address whose ton_proof is for another domain, and keeps no session', async () => {
    const { s } = await session();
    const req = await s.connect('cocoon-dev-wallet');
    const w = await wallet(s, 'https://evil.example');
    await w.connect(req.universalLink!);
    const st = await until(s, (x) => x.error !== null);
    expect(st).toMatchObject({ state: 'disconnected', address: null });
    expect(st.error).toMatch(/ton_proof did not verify \(the proof is for evil\.example, not 127\.0\.0\.1:\d+\)/);
    expect(s.signer()).toBeNull();
  });

  it('refuses a wallet that is not in this network\'s list', async () => {
    const { s } = await session();
    await expect(s.connect('tonkeeper')).rejects.toMatchObject({ code: 'unknown_wallet' });
  });
});

import '@tonconnect/isomorphic-eventsource';
import '@tonconnect/isomorphic-fetch';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Address, toNano } from '@ton/core';
import { TonClient } from '@ton/ton';
import { TonConnect, UserRejectsError, type IStorage, type Wallet } from '@tonconnect/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalChain, type LocalChain } from '../chain/local/local-chain.ts';
import { createHeadlessWallet, LOCAL_NETWORK_ID, type HeadlessWallet, type TransactionRequest } from './headless-wallet.ts';
import { startTonConnectBridge, type TonConnectBridge } from './tonconnect-bridge.ts';
import { verifyTonProof } from './ton-proof.ts';

/**
 * The TON Connect test doubles (local bridge, headless wallet) against `@tonconnect/sdk` itself —
 * the library the app uses — and the embedded local chain: connect with ton_proof, approve and
 * decline transactions, wrong network, a restored session.
 */
class MemoryStorage implements IStorage {
  readonly data = new Map<string, string>();
  async setItem(k: string, v: string) { this.data.set(k, v); }
  async getItem(k: string) { return this.data.get(k) ?? null; }
  async removeItem(k: string) { this.data.delete(k); }
}

let dir: string;
let chain: LocalChain;
let bridge: TonConnectBridge;
let manifestServer: Server;
let manifestUrl: string;
let wallet: HeadlessWallet;
let decide: (r: TransactionRequest) => boolean = () => true;
const storage = new MemoryStorage();
let connector: TonConnect;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cocoon-tonconnect-'));
  chain = await startLocalChain({ dataDir: join(dir, 'chain'), port: 0, announceFile: false });
  bridge = await startTonConnectBridge();
  // The app's manifest and wallet list, served on loopback (the SDK's default list is on the internet).
  manifestServer = createServer((req, res) => {
    const body = req.url === '/wallets.json'
      ? [{ app_name: 'cocoon-dev-wallet', name: 'Cocoon development wallet', image: 'http://cocoon.local/w.png', about_url: 'http://cocoon.local', universal_url: 'tc://', bridge: [{ type: 'sse', url: bridge.url }], platforms: ['linux'] }]
      : { url: 'http://cocoon.local', name: 'Cocoon Desktop', iconUrl: 'http://cocoon.local/icon.png' };
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  await new Promise<void>((r) => manifestServer.listen(0, '127.0.0.1', r));
  manifestUrl = `http://127.0.0.1:${(manifestServer.address() as AddressInfo).port}/tonconnect-manifest.json`;
  const client = chain.wallets.find((w) => w.name === 'client')!;
  wallet = await createHeadlessWallet({ mnemonic: client.mnemonic, endpoint: chain.endpoint, bridgeUrl: bridge.url, approve: (r) => decide(r) });
  connector = new TonConnect({ manifestUrl, storage, walletsListSource: manifestUrl.replace('tonconnect-manifest.json', 'wallets.json'), analytics: { mode: 'off' } });
}, 120_000);

afterAll(async () => {
  connector?.pauseConnection();
  await wallet?.close();
  await bridge?.close();
  manifestServer?.close();
  await chain?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function connected(c: TonConnect): Promise<Wallet> {
  return new Promise((resolve, reject) => {
    const off = c.onStatusChange((w) => { if (w) { off(); resolve(w); } }, reject);
  });
}

describe('TON Connect through the local bridge and the headless wallet', () => {
  it('connects by the universal link and proves the address with ton_proof', async () => {
    const link = connector.connect({ universalLink: 'tc://', bridgeUrl: bridge.url }, { request: { tonProof: 'cocoon-nonce-1' } }) as string;
    expect(link, link).toMatch(/^tc:\/\/\?v=2&id=[0-9a-f]{64}&.*r=/);
    const ready = connected(connector);
    await wallet.connect(link);
    const w = await ready;
    expect(Address.parse(w.account.address).equals(wallet.address)).toBe(true);
    expect(w.account.chain).toBe(LOCAL_NETWORK_ID);
    const proof = w.connectItems?.tonProof;
    expect(proof && 'proof' in proof).toBe(true);
    const check = { address: w.account.address, stateInit: w.account.walletStateInit, proof: (proof as { proof: Parameters<typeof verifyTonProof>[0]['proof'] }).proof, expectedPayload: 'cocoon-nonce-1', expectedDomain: 'cocoon.local' };
    expect(verifyTonProof(check)).toBeNull();
    expect(verifyTonProof({ ...check, expectedPayload: 'another' })).toMatch(/payload mismatch/);
    expect(verifyTonProof({ ...check, expectedDomain: 'evil.example' })).toMatch(/not evil.example/);
    const forged = { ...check.proof, signature: Buffer.alloc(64, 1).toString('base64') };
    expect(verifyTonProof({ ...check, proof: forged })).toMatch(/signature/);
  });

  it('sends an approved transaction to the chain, and the balance moves', async () => {
    const api = new TonClient({ endpoint: chain.endpoint });
    const to = Address.parse(chain.wallets.find((w) => w.name === 'worker')!.address);
    const before = await api.getBalance(to);
    let seen: TransactionRequest | null = null;
    decide = (r) => { seen = r; return true; };
    const res = await connector.sendTransaction({ validUntil: Math.floor(Date.now() / 1000) + 300, network: LOCAL_NETWORK_ID as never, messages: [{ address: to.toString({ bounceable: false }), amount: toNano('1.5').toString() }] });
    expect(res.boc).toMatch(/^te6/);
    expect(seen!.messages[0]!.amount).toBe(toNano('1.5').toString());
    // The recipient gains 1.5 TON less its own storage fee since its last transaction (a few nanoTON).
    await expect.poll(async () => (await api.getBalance(to)) - before, { timeout: 20_000 }).toBeGreaterThan(toNano('1.5') - 1000n);
    expect((await api.getBalance(to)) - before).toBeLessThanOrEqual(toNano('1.5'));
  });

  it('reports a declined transaction as the user\'s rejection, and nothing moves', async () => {
    const api = new TonClient({ endpoint: chain.endpoint });
    const to = Address.parse(chain.wallets.find((w) => w.name === 'worker')!.address);
    const before = await api.getBalance(to);
    decide = () => false;
    await expect(connector.sendTransaction({ validUntil: Math.floor(Date.now() / 1000) + 300, messages: [{ address: to.toString(), amount: '1000' }] })).rejects.toBeInstanceOf(UserRejectsError);
    expect(await api.getBalance(to)).toBe(before);
  });

  it('refuses a transaction for another network, in the SDK and in the wallet itself', async () => {
    decide = () => true;
    await expect(connector.sendTransaction({ validUntil: Math.floor(Date.now() / 1000) + 300, network: '-239' as never, messages: [{ address: wallet.address.toString(), amount: '1000' }] }))
      .rejects.toThrow(/WalletWrongNetworkError/);
  });

  it('restores the connection from storage after a restart of the app', async () => {
    const again = new TonConnect({ manifestUrl, storage, walletsListSource: manifestUrl.replace('tonconnect-manifest.json', 'wallets.json'), analytics: { mode: 'off' } });
    await again.restoreConnection();
    expect(again.connected).toBe(true);
    expect(Address.parse(again.account!.address).equals(wallet.address)).toBe(true);
    again.pauseConnection();
  });

  it('bridge: refuses malformed ids, bad ttl and oversized messages with a reason', async () => {
    const id = 'a'.repeat(64);
    expect((await fetch(`${bridge.url}/events?client_id=xyz`)).status).toBe(400);
    expect((await fetch(`${bridge.url}/message?client_id=${id}&to=${id}&ttl=9999`, { method: 'POST', body: 'AAAA' })).status).toBe(400);
    expect((await fetch(`${bridge.url}/message?client_id=${id}&to=${id}&ttl=60`, { method: 'POST', body: 'not base64!' })).status).toBe(400);
    expect((await fetch(`${bridge.url}/message?client_id=${id}&to=${id}&ttl=60`, { method: 'POST', body: 'A'.repeat(70_000) })).status).toBe(413);
    const res = await fetch(`${bridge.url}/nowhere`);
    expect(res.status).toBe(404);
    expect((await res.json() as { message: string }).message).toMatch(/unknown bridge path/);
  });
});

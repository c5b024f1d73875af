import '@tonconnect/isomorphic-eventsource';
import '@tonconnect/isomorphic-fetch';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { EventEmitter } from 'node:events';
import { Address, Cell } from '@ton/core';
import { TonConnect, UserRejectsError, WalletWrongNetworkError, type IStorage, type Wallet } from '@tonconnect/sdk';
import QRCode from 'qrcode';
import { CocoonError, errorMessage } from '../../../node-core/src/errors.ts';
import type { Logger } from '../../../node-core/src/log.ts';
import { LOCAL_NETWORK_ID } from '../../../node-core/src/wallet/headless-wallet.ts';
import { verifyTonProof, type TonProof } from '../../../node-core/src/wallet/ton-proof.ts';
import { startTonConnectBridge, type TonConnectBridge } from '../../../node-core/src/wallet/tonconnect-bridge.ts';
import { toTonConnectMessage, type TransactionSigner } from '../../../node-core/src/payments/wallet-signer.ts';
import type { WalletSessionState } from '../../shared/api-contract.ts';
import type { NetworkName } from './network-settings.ts';
import { walletsList } from './wallets-list.ts';

/**
 * The user's wallet, connected with TON Connect in the main process (`@tonconnect/sdk`): the page
 * only shows what this reports (wallet list, QR code, universal link, state) and asks it to
 * connect or disconnect. Every paid action becomes a `sendTransaction` the wallet approves.
 *
 * Trust: an address is used only after its `ton_proof` verified against a payload this app issued
 * (random, expiring) and the manifest's domain; the verified address is kept beside the SDK's own
 * session file so a restored session is trusted only for that same address.
 *
 * The SDK runs with analytics off, a file storage in the data dir, and a wallet list this service
 * serves itself on loopback (with the manifest). On the local network it also runs the local
 * bridge (TEST DOUBLE at the bridge boundary) and lists the development wallet.
 */
export const TON_CONNECT_CHAIN: Record<NetworkName, string> = { local: LOCAL_NETWORK_ID, testnet: '-3', mainnet: '-239' };
const NETWORK_BY_CHAIN: Record<string, string> = { [LOCAL_NETWORK_ID]: 'the local development chain', '-3': 'testnet', '-239': 'mainnet' };
const PROOF_TTL_MS = 10 * 60_000;

export interface WalletSessionOptions {
  network: NetworkName;
  /** `<data dir>/app`: the SDK's session and the verified address live in `tonconnect/`. */
  appDataDir: string;
  log: Logger;
  /** Testnet/mainnet: the public https manifest wallets fetch (a phone cannot reach loopback). */
  publicManifestUrl?: string;
}

/** The SDK's storage as one JSON file (mode 0600: it holds the session's private key). */
class FileStorage implements IStorage {
  private cache: Record<string, string> | null = null;
  constructor(private readonly file: string) {}
  private async load(): Promise<Record<string, string>> {
    if (this.cache) return this.cache;
    try {
      this.cache = JSON.parse(await readFile(this.file, 'utf8')) as Record<string, string>;
    } catch {
      this.cache = {};
    }
    return this.cache;
  }
  private async save(): Promise<void> {
    await mkdir(dirname(this.file), { recursive: true });
    await writeFile(`${this.file}.tmp`, JSON.stringify(this.cache), { mode: 0o600 });
    await rename(`${this.file}.tmp`, this.file);
  }
  async setItem(key: string, value: string) { (await this.load())[key] = value; await this.save(); }
  async getItem(key: string) { return (await this.load())[key] ?? null; }
  async removeItem(key: string) { delete (await this.load())[key]; await this.save(); }
}

export class WalletSession extends EventEmitter {
  private connector!: TonConnect;
  private bridge: TonConnectBridge | null = null;
  private assets: Server | null = null;
  private manifestUrl = '';
  private manifestDomain = '';
  private pendingProof: { payload: string; expiresAt: number } | null = null;
  private state: WalletSessionState;
  private readonly verifiedFile: string;
  private unsubscribe: () => void = () => {};

  constructor(private readonly opts: WalletSessionOptions) {
    super();
    this.verifiedFile = join(opts.appDataDir, 'tonconnect', 'verified.json');
    this.state = { network: opts.network, state: 'disconnected', wallets: [], universalLink: null, qrDataUrl: null, address: null, walletName: null, walletNetwork: null, error: null };
  }

  /** Starts the local bridge (local network), the manifest/wallet-list server, the SDK, and restores a saved session. */
  async start(): Promise<void> {
    if (this.opts.network === 'local') this.bridge = await this.startLocalBridge();
    const list = walletsList(this.opts.network, this.bridge?.url);
    this.assets = createServer((req, res) => {
      const origin = `http://127.0.0.1:${(this.assets!.address() as AddressInfo).port}`;
      const body = req.url === '/wallets.json' ? list
        : req.url === '/tonconnect-manifest.json' ? { url: origin, name: 'Cocoon Desktop', iconUrl: `${origin}/icon.png` }
        : null;
      if (!body) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
    await new Promise<void>((r) => this.assets!.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(this.assets.address() as AddressInfo).port}`;
    this.manifestUrl = this.opts.network === 'local' || !this.opts.publicManifestUrl ? `${base}/tonconnect-manifest.json` : this.opts.publicManifestUrl;
    this.manifestDomain = this.opts.network === 'local' ? new URL(base).host : await this.publicManifestDomain();
    this.connector = new TonConnect({ manifestUrl: this.manifestUrl, storage: new FileStorage(join(this.opts.appDataDir, 'tonconnect', 'session.json')), walletsListSource: `${base}/wallets.json`, analytics: { mode: 'off' } });
    this.unsubscribe = this.connector.onStatusChange((w) => void this.onWallet(w), (err) => this.update({ error: `the wallet connection failed: ${err.message}` }));
    this.update({ wallets: list.map((w) => ({ appName: w.app_name, name: w.name, image: w.image })) });
    await this.connector.restoreConnection();
    if (this.connector.connected && this.state.state !== 'connected') await this.onWallet(this.connector.wallet);
  }

  /**
   * The local bridge keeps its port across restarts (saved in the data dir), because a restored
   * TON Connect session names its bridge by URL; a taken port gets a new one (reconnect then).
   */
  private async startLocalBridge(): Promise<TonConnectBridge> {
    const file = join(this.opts.appDataDir, 'tonconnect', 'bridge-port');
    const saved = Number(await readFile(file, 'utf8').catch(() => '0'));
    let bridge: TonConnectBridge;
    try {
      bridge = await startTonConnectBridge({ port: Number.isInteger(saved) && saved > 1023 && saved < 65536 ? saved : 0 });
    } catch {
      bridge = await startTonConnectBridge();
    }
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, new URL(bridge.url).port);
    return bridge;
  }

  private async publicManifestDomain(): Promise<string> {
    try {
      const m = await (await fetch(this.manifestUrl)).json() as { url?: string };
      return new URL(m.url ?? this.manifestUrl).host;
    } catch {
      return new URL(this.manifestUrl).host;
    }
  }

  /** The local bridge's URL (local network only): the development wallet listens on it. */
  get localBridgeUrl(): string | null {
    return this.bridge?.url ?? null;
  }

  current(): WalletSessionState {
    return this.state;
  }

  /** Opens a connection request to one listed wallet: the universal link and its QR code for the page. */
  async connect(appName: string): Promise<WalletSessionState> {
    const entry = walletsList(this.opts.network, this.bridge?.url).find((w) => w.app_name === appName);
    if (!entry) throw new CocoonError('unknown_wallet', `no wallet "${appName}" in this network's wallet list`);
    if (this.connector.connected) throw new CocoonError('already_connected', 'a wallet is already connected; disconnect it first');
    const payload = randomBytes(32).toString('hex');
    this.pendingProof = { payload, expiresAt: Date.now() + PROOF_TTL_MS };
    const link = this.connector.connect({ universalLink: entry.universal_url, bridgeUrl: entry.bridge[0]!.url }, { request: { tonProof: payload } }) as string;
    const qrDataUrl = await QRCode.toDataURL(link, { margin: 1, width: 220 });
    return this.update({ state: 'connecting', universalLink: link, qrDataUrl, walletName: entry.name, error: null });
  }

  async disconnect(): Promise<WalletSessionState> {
    if (this.connector.connected) await this.connector.disconnect().catch((err: unknown) => this.opts.log.warn({ err: errorMessage(err) }, 'wallet disconnect message failed'));
    await writeFile(this.verifiedFile, '{}', { mode: 0o600 }).catch(() => {});
    this.pendingProof = null;
    return this.update({ state: 'disconnected', universalLink: null, qrDataUrl: null, address: null, walletName: null, walletNetwork: null, error: null });
  }

  private async onWallet(w: Wallet | null): Promise<void> {
    if (!w) {
      this.update({ state: 'disconnected', address: null, walletNetwork: null, universalLink: null, qrDataUrl: null });
      return;
    }
    const address = Address.parse(w.account.address);
    const friendly = address.toString({ bounceable: false, testOnly: this.opts.network !== 'mainnet' });
    const walletNetwork = NETWORK_BY_CHAIN[w.account.chain] ?? `network ${w.account.chain}`;
    const proofItem = w.connectItems?.tonProof;
    if (proofItem && 'proof' in proofItem) {
      const pending = this.pendingProof;
      const reason = !pending ? 'the app issued no proof request for this connection'
        : pending.expiresAt < Date.now() ? 'the connection request expired before the wallet answered'
        : verifyTonProof({ address: w.account.address, stateInit: w.account.walletStateInit, proof: proofItem.proof as TonProof, expectedPayload: pending.payload, expectedDomain: this.manifestDomain });
      this.pendingProof = null;
      if (reason) return this.refuse(`the wallet's ton_proof did not verify (${reason}); the address is not trusted`);
      await mkdir(dirname(this.verifiedFile), { recursive: true });
      await writeFile(this.verifiedFile, JSON.stringify({ address: address.toRawString(), at: new Date().toISOString() }), { mode: 0o600 });
    } else {
      // A restored session carries no proof: trust it only for the address verified when it was made.
      let verified: string | null = null;
      try { verified = (JSON.parse(await readFile(this.verifiedFile, 'utf8')) as { address?: string }).address ?? null; } catch { /* none */ }
      if (verified !== address.toRawString()) return this.refuse(proofItem ? 'the wallet refused to prove its address (ton_proof)' : 'the wallet did not prove its address (ton_proof); reconnect');
    }
    const wrong = w.account.chain !== TON_CONNECT_CHAIN[this.opts.network];
    this.update({
      state: 'connected', address: friendly, walletName: w.device.appName, walletNetwork, universalLink: null, qrDataUrl: null,
      error: wrong ? `Wrong network: the wallet is on ${walletNetwork}, the app on ${this.opts.network}. Switch the wallet to ${this.opts.network} (or the app in Settings) before sending anything.` : null,
    });
  }

  private async refuse(reason: string): Promise<void> {
    this.opts.log.warn({ reason }, 'wallet connection refused');
    await this.connector.disconnect().catch(() => {});
    this.update({ state: 'disconnected', address: null, walletNetwork: null, universalLink: null, qrDataUrl: null, error: reason });
  }

  /** The connected, verified wallet as a signer; null when none is connected. */
  signer(): TransactionSigner | null {
    const w = this.connector?.wallet;
    if (this.state.state !== 'connected' || !w) return null;
    const expected = TON_CONNECT_CHAIN[this.opts.network];
    return {
      address: Address.parse(w.account.address),
      send: async (messages) => {
        if (w.account.chain !== expected) throw wrongNetwork(this.state.walletNetwork ?? w.account.chain, this.opts.network);
        try {
          const res = await this.connector.sendTransaction({
            validUntil: Math.floor(Date.now() / 1000) + 300, network: expected as never, from: w.account.address,
            messages: messages.map(toTonConnectMessage),
          });
          return { hash: Cell.fromBase64(res.boc).hash().toString('hex') };
        } catch (err) {
          if (err instanceof UserRejectsError) throw new CocoonError('declined', 'You declined the transaction in your wallet: nothing was sent and nothing changed.');
          if (err instanceof WalletWrongNetworkError) throw wrongNetwork(this.state.walletNetwork ?? '?', this.opts.network);
          throw new CocoonError('wallet_failed', `the wallet did not send the transaction: ${errorMessage(err)}`, { cause: err });
        }
      },
    };
  }

  private update(patch: Partial<WalletSessionState>): WalletSessionState {
    this.state = { ...this.state, ...patch };
    this.emit('state', this.state);
    return this.state;
  }

  async close(): Promise<void> {
    this.unsubscribe();
    this.connector?.pauseConnection();
    this.assets?.closeAllConnections();
    await new Promise((r) => this.assets ? this.assets.close(r) : r(null));
    await this.bridge?.close();
  }
}

function wrongNetwork(walletNetwork: string, appNetwork: NetworkName): CocoonError {
  return new CocoonError('wrong_network', `Wrong network: your wallet is on ${walletNetwork}, the app is on ${appNetwork}. Nothing was sent. Switch the wallet to ${appNetwork}, or choose its network in Settings (applies on restart).`);
}

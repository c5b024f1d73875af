import { Address, beginCell, Cell, internal, loadStateInit, SendMode, storeMessage, storeStateInit, external } from '@ton/core';
import { mnemonicToPrivateKey, type KeyPair } from '@ton/crypto';
import { TonClient, WalletContractV4 } from '@ton/ton';
import { Base64, hexToByteArray, SessionCrypto, type ConnectEventSuccess, type ConnectRequest } from '@tonconnect/protocol';
import { signTonProof } from './ton-proof.ts';

/**
 * TEST DOUBLE AT A BOUNDARY: a headless TON Connect wallet. Phone and browser wallets cannot run
 * on the development machines, so the local network carries this one. It implements the wallet
 * side of the protocol with `@tonconnect/protocol` — it reads the app's universal link, connects
 * through the bridge with an encrypted session, answers `ton_addr` and `ton_proof`, and on
 * `sendTransaction` signs a wallet-v4 transfer with a DEVELOPMENT mnemonic and sends it to the
 * chain it was given (the embedded local chain). Every request goes through `approve`, so tests
 * (and a person at a terminal) decide like a wallet user would.
 */
export const LOCAL_NETWORK_ID = '-6001'; // TON Connect names networks by global id; the embedded chain's is ours.

export interface TransactionRequest {
  validUntil?: number;
  network?: string;
  from?: string;
  messages: Array<{ address: string; amount: string; payload?: string; stateInit?: string }>;
}

export interface HeadlessWalletOptions {
  mnemonic: string[];
  /** JSON-RPC endpoint of the chain (TonClient), e.g. the embedded chain's. */
  endpoint: string;
  /** The bridge this wallet listens on (a wallet knows its own bridge; the app's link does not name it). */
  bridgeUrl: string;
  network?: string;
  /** Decides each transaction; resolve false to decline (the app sees "declined by the user"). */
  approve(request: TransactionRequest): Promise<boolean> | boolean;
  fetchManifest?: (url: string) => Promise<{ url: string; name: string; iconUrl?: string }>;
}

export interface HeadlessWallet {
  address: Address;
  /** Connects to the app whose universal link (`tc://?v=2&id=…&r=…`) is given. */
  connect(universalLink: string): Promise<void>;
  /** External-message BOCs this wallet sent, newest last. */
  sent: string[];
  close(): Promise<void>;
}

interface Session {
  crypto: SessionCrypto;
  appId: string;
  bridgeUrl: string;
  abort: AbortController;
}

export async function createHeadlessWallet(opts: HeadlessWalletOptions): Promise<HeadlessWallet> {
  const keys: KeyPair = await mnemonicToPrivateKey(opts.mnemonic);
  const wallet = WalletContractV4.create({ workchain: 0, publicKey: keys.publicKey });
  const client = new TonClient({ endpoint: opts.endpoint });
  const network = opts.network ?? LOCAL_NETWORK_ID;
  const sessions = new Set<Session>();
  const sent: string[] = [];
  let eventId = 0;

  const post = async (s: Session, payload: unknown, topic?: string) => {
    const body = Base64.encode(s.crypto.encrypt(JSON.stringify(payload), hexToByteArray(s.appId)));
    const url = new URL(`${s.bridgeUrl}/message`);
    url.searchParams.set('client_id', s.crypto.sessionId);
    url.searchParams.set('to', s.appId);
    url.searchParams.set('ttl', '300');
    if (topic) url.searchParams.set('topic', topic);
    const res = await fetch(url, { method: 'POST', body });
    if (!res.ok) throw new Error(`the bridge refused the wallet's message: ${res.status} ${await res.text()}`);
  };

  async function sendTransaction(req: TransactionRequest): Promise<string> {
    const seqno = await client.open(wallet).getSeqno();
    const transfer = wallet.createTransfer({
      seqno, secretKey: keys.secretKey, sendMode: SendMode.PAY_GAS_SEPARATELY | SendMode.IGNORE_ERRORS,
      messages: req.messages.map((m) => internal({
        to: Address.parse(m.address), value: BigInt(m.amount), bounce: Address.isFriendly(m.address) ? Address.parseFriendly(m.address).isBounceable : true,
        ...(m.payload && { body: Cell.fromBase64(m.payload) }),
        ...(m.stateInit && { init: loadStateInit(Cell.fromBase64(m.stateInit).beginParse()) }),
      })),
    });
    const ext = external({ to: wallet.address, ...(seqno === 0 && { init: wallet.init }), body: transfer });
    const boc = beginCell().store(storeMessage(ext)).endCell().toBoc();
    await client.sendFile(boc);
    const b64 = boc.toString('base64');
    sent.push(b64);
    return b64;
  }

  /** One app request → one reply, with TON Connect's error codes. */
  async function answer(raw: string): Promise<{ id: string; result?: unknown; error?: { code: number; message: string }; ends?: true } | null> {
    let req: { method?: string; params?: string[]; id?: string };
    try {
      req = JSON.parse(raw) as typeof req;
    } catch {
      return null;
    }
    const id = String(req.id ?? '');
    if (req.method === 'disconnect') return { id, result: {}, ends: true };
    if (req.method !== 'sendTransaction') return { id, error: { code: 400, message: `method ${String(req.method)} is not supported by this wallet` } };
    let tx: TransactionRequest;
    try {
      tx = JSON.parse(req.params?.[0] ?? '') as TransactionRequest;
      if (!Array.isArray(tx.messages) || tx.messages.length === 0 || tx.messages.length > 4) throw new Error('one to four messages');
      for (const m of tx.messages) {
        Address.parse(m.address);
        if (!/^\d+$/.test(m.amount)) throw new Error(`amount ${m.amount} is not a nanoTON integer`);
      }
    } catch (err) {
      return { id, error: { code: 1, message: `bad transaction request: ${(err as Error).message}` } };
    }
    if (tx.network !== undefined && tx.network !== network) return { id, error: { code: 1, message: `this wallet is on network ${network}, the request is for ${tx.network}` } };
    if (tx.validUntil !== undefined && tx.validUntil * 1000 < Date.now()) return { id, error: { code: 1, message: 'the request expired before it was approved' } };
    if (!(await opts.approve(tx))) return { id, error: { code: 300, message: 'the user declined the transaction' } };
    try {
      return { id, result: await sendTransaction(tx) };
    } catch (err) {
      return { id, error: { code: 0, message: `the transaction could not be sent: ${(err as Error).message}` } };
    }
  }

  /** Reads the bridge's event stream for this session (fetch + SSE parsing; Node has no EventSource). */
  async function listen(s: Session): Promise<void> {
    const url = new URL(`${s.bridgeUrl}/events`);
    url.searchParams.set('client_id', s.crypto.sessionId);
    const res = await fetch(url, { signal: s.abort.signal, headers: { accept: 'text/event-stream' } });
    if (!res.ok || !res.body) throw new Error(`the bridge refused the event stream: ${res.status}`);
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = event.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
        if (!data || data === 'heartbeat') continue;
        const { from, message } = JSON.parse(data) as { from: string; message: string };
        if (from !== s.appId) continue;
        const reply = await answer(s.crypto.decrypt(Base64.decode(message).toUint8Array(), hexToByteArray(from)));
        if (!reply) continue;
        const { ends, ...body } = reply;
        await post(s, body);
        if (ends) {
          s.abort.abort();
          sessions.delete(s);
          return;
        }
      }
    }
  }

  return {
    address: wallet.address,
    sent,
    async connect(universalLink) {
      const link = new URL(universalLink);
      const appId = link.searchParams.get('id') ?? '';
      if (link.searchParams.get('v') !== '2' || !/^[0-9a-f]{64}$/.test(appId)) throw new Error('not a TON Connect v2 universal link (v=2, id=64 hex)');
      const request = JSON.parse(link.searchParams.get('r') ?? 'null') as ConnectRequest | null;
      if (!request?.manifestUrl || !Array.isArray(request.items)) throw new Error('the universal link carries no connect request');
      const manifest = await (opts.fetchManifest ?? (async (u) => (await fetch(u)).json() as Promise<{ url: string; name: string }>))(request.manifestUrl);
      if (!manifest?.url || !manifest.name) throw new Error(`the app manifest at ${request.manifestUrl} lacks url or name`);
      const session: Session = { crypto: new SessionCrypto(), appId, bridgeUrl: opts.bridgeUrl.replace(/\/$/, ''), abort: new AbortController() };
      sessions.add(session);
      const stateInit = beginCell().store(storeStateInit(wallet.init)).endCell().toBoc().toString('base64');
      const items: ConnectEventSuccess['payload']['items'] = [{
        name: 'ton_addr', address: wallet.address.toRawString(), network: network as ConnectEventSuccess['payload']['items'][0] extends { network: infer N } ? N : never,
        publicKey: keys.publicKey.toString('hex'), walletStateInit: stateInit,
      } as ConnectEventSuccess['payload']['items'][0]];
      const proofItem = request.items.find((i) => i.name === 'ton_proof') as { payload?: string } | undefined;
      if (proofItem) items.push({ name: 'ton_proof', proof: signTonProof(wallet.address, new URL(manifest.url).host, proofItem.payload ?? '', keys.secretKey) } as ConnectEventSuccess['payload']['items'][0]);
      const event: ConnectEventSuccess = {
        event: 'connect', id: eventId++,
        payload: { items, device: { platform: 'linux', appName: 'cocoon-dev-wallet', appVersion: '1', maxProtocolVersion: 2, features: ['SendTransaction', { name: 'SendTransaction', maxMessages: 4 }] } },
      };
      void listen(session).catch(() => sessions.delete(session));
      await post(session, event);
    },
    async close() {
      for (const s of sessions) s.abort.abort();
      sessions.clear();
    },
  };
}

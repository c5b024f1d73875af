/**
 * The embedded local chain: @ton/sandbox with the compiled Cocoon contracts behind the TON HTTP
 * API v2 subset, so node-core talks to it with the same TonClient code as to mainnet/testnet.
 *
 * Genesis (first start on an empty dataDir): dev wallets are created (mnemonics saved in
 * dataDir/wallets.json, mode 0600), funded by minting internal messages from a faucet address, and
 * the root contract is deployed with the first wallet as owner. Later starts load the saved state.
 */
import { randomInt } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Address, beginCell, storeMessage, toNano, type Cell } from '@ton/core';
import { internal } from '@ton/sandbox';
import { mnemonicNew, mnemonicToPrivateKey } from '@ton/crypto';
import { WalletContractV4 } from '@ton/ton';
import type { Logger } from 'pino';
import { CocoonError } from '../../errors.ts';
import { LocalLedger } from './ledger.ts';
import { serveLocalApi } from './http-api.ts';
import { localChainStateFile, removeAnnouncement, writeAnnouncement } from '../state-file.ts';
import { compileAll } from '../../../../contracts/compile.ts';
import { Root, DEFAULT_ROOT_PARAMS, type RootParams } from '../../../../contracts/wrappers/Root.ts';

export const DEV_WALLET_NAMES = ['owner', 'proxy', 'client', 'worker'] as const;
export const DEV_WALLET_FUNDS = toNano('100000');
/** Fixed address that mints genesis funds (no account behind it). */
const FAUCET = Address.parseRaw('0:' + 'c0c0'.repeat(16));

export interface DevWallet {
  name: string;
  /** Wallet v4r2, workchain 0, non-bounceable user-friendly form. */
  address: string;
  mnemonic: string[];
}

export interface LocalChain {
  /** JSON-RPC endpoint for TonClient, e.g. http://127.0.0.1:PORT/jsonRPC */
  endpoint: string;
  /** Base URL for the GET form of the API (curl $baseUrl/getMasterchainInfo). */
  baseUrl: string;
  rootAddress: string;
  wallets: DevWallet[];
  dataDir: string;
  /** Mints `amount` nanoTON to an address (development funding; non-bounceable). */
  fund(address: string, amount: bigint): Promise<void>;
  /** Saves the state, stops serving and removes the announcement. Idempotent. */
  stop(): Promise<void>;
}

export interface LocalChainOptions {
  dataDir: string;
  /** 0 (default) = ephemeral port. */
  port?: number;
  /** Root parameters at genesis (ignored when the chain already exists). */
  rootParams?: Partial<RootParams>;
  /** Where to announce the endpoint; false = don't. Default $COCOON_HOME/local-chain.json. */
  announceFile?: string | false;
  log?: Logger;
}

interface ChainMeta {
  version: 1;
  rootAddress: string;
  createdAt: string;
}

function loadWallets(dataDir: string): { names: string[]; mnemonics: string[][] } | null {
  const path = join(dataDir, 'wallets.json');
  if (!existsSync(path)) return null;
  const raw = JSON.parse(readFileSync(path, 'utf8')) as Array<{ name: string; mnemonic: string[] }>;
  return { names: raw.map((w) => w.name), mnemonics: raw.map((w) => w.mnemonic) };
}

async function walletOf(mnemonic: string[]) {
  const key = await mnemonicToPrivateKey(mnemonic);
  return WalletContractV4.create({ workchain: 0, publicKey: key.publicKey });
}

function messageCell(msg: Parameters<typeof storeMessage>[0]): Cell {
  return beginCell().store(storeMessage(msg)).endCell();
}

/** Takes the dataDir for this process; a second chain on the same directory would corrupt it. */
function acquireLock(dataDir: string): () => void {
  const lock = join(dataDir, 'LOCK');
  if (existsSync(lock)) {
    const pid = Number(readFileSync(lock, 'utf8').trim());
    let alive = false;
    if (Number.isInteger(pid) && pid > 0) {
      try {
        process.kill(pid, 0);
        alive = true;
      } catch (err) {
        alive = (err as NodeJS.ErrnoException).code === 'EPERM';
      }
    }
    if (alive && pid !== process.pid) {
      throw new CocoonError('local_chain_busy', `the local chain in ${dataDir} is already running (pid ${pid})`, {
        hint: 'stop that process first, or use another --data-dir',
      });
    }
  }
  writeFileSync(lock, String(process.pid));
  return () => rmSync(lock, { force: true });
}

export async function startLocalChain(opts: LocalChainOptions): Promise<LocalChain> {
  const dataDir = resolve(opts.dataDir);
  const port = opts.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new CocoonError('bad_port', `port must be an integer in 0..65535, got ${port}`);
  }
  mkdirSync(dataDir, { recursive: true });
  const releaseLock = acquireLock(dataDir);
  try {
    const { ledger, fresh } = await LocalLedger.open(dataDir);
    const metaPath = join(dataDir, 'chain.json');

    let stored = loadWallets(dataDir);
    if (!stored) {
      const mnemonics = await Promise.all(DEV_WALLET_NAMES.map(() => mnemonicNew()));
      stored = { names: [...DEV_WALLET_NAMES], mnemonics };
      writeFileSync(join(dataDir, 'wallets.json'),
        JSON.stringify(DEV_WALLET_NAMES.map((name, i) => ({ name, mnemonic: mnemonics[i] })), null, 2) + '\n', { mode: 0o600 });
    }
    const contracts = await Promise.all(stored.mnemonics.map(walletOf));
    const wallets: DevWallet[] = stored.names.map((name, i) => ({
      name, address: contracts[i]!.address.toString({ bounceable: false }), mnemonic: stored!.mnemonics[i]!,
    }));

    let rootAddress: string;
    if (fresh || !existsSync(metaPath)) {
      for (const w of contracts) {
        await ledger.send(messageCell(internal({ from: FAUCET, to: w.address, value: DEV_WALLET_FUNDS, bounce: false })));
      }
      const codes = await compileAll();
      // A random unique id: this chain's contract addresses (and so every signed message) differ
      // from any other network's, even with the same wallets and proxy key.
      const params = { ...DEFAULT_ROOT_PARAMS, uniqueId: randomInt(1, 0xffff_ffff), ...opts.rootParams };
      const root = Root.createFromConfig({ owner: contracts[0]!.address, params, codes }, codes.root);
      const txs = await ledger.send(messageCell(internal({
        from: contracts[0]!.address, to: root.address, value: toNano('1'), bounce: false, stateInit: root.init, body: beginCell().endCell(),
      })));
      const d = txs[0]?.description;
      if (!d || d.type !== 'generic' || d.computePhase.type !== 'vm' || !d.computePhase.success) {
        throw new CocoonError('local_chain_genesis_failed', 'deploying the root contract on the local chain failed');
      }
      rootAddress = root.address.toString();
      const meta: ChainMeta = { version: 1, rootAddress, createdAt: new Date().toISOString() };
      writeFileSync(metaPath, JSON.stringify(meta, null, 2) + '\n');
      await ledger.save(true);
      opts.log?.info({ dataDir, rootAddress }, 'local chain genesis');
    } else {
      rootAddress = (JSON.parse(readFileSync(metaPath, 'utf8')) as ChainMeta).rootAddress;
    }

    const { server, endpoint, baseUrl } = await serveLocalApi(ledger, port, opts.log);
    const saver = setInterval(() => {
      ledger.save().catch((err: unknown) => opts.log?.error({ err }, 'local chain save failed'));
    }, 1000);
    saver.unref();

    const announceFile = opts.announceFile === undefined ? localChainStateFile() : opts.announceFile;
    if (announceFile) {
      writeAnnouncement(announceFile, { endpoint, rootAddress, dataDir, pid: process.pid, startedAt: new Date().toISOString() });
    }
    opts.log?.info({ endpoint, rootAddress }, 'local chain serving');

    let stopping: Promise<void> | undefined;
    return {
      endpoint, baseUrl, rootAddress, wallets, dataDir,
      async fund(address, amount) {
        let to: Address;
        try {
          to = Address.parse(address);
        } catch {
          throw new CocoonError('bad_address', `cannot fund "${address}": not a TON address`);
        }
        if (amount <= 0n || amount > DEV_WALLET_FUNDS * 10n) {
          throw new CocoonError('bad_amount', `fund amount must be between 1 nanoTON and ${DEV_WALLET_FUNDS * 10n}, got ${amount}`);
        }
        await ledger.send(messageCell(internal({ from: FAUCET, to, value: amount, bounce: false })));
      },
      stop() {
        stopping ??= (async () => {
          clearInterval(saver);
          if (announceFile) removeAnnouncement(announceFile, endpoint);
          await new Promise<void>((res) => {
            server.close(() => res());
            server.closeAllConnections();
          });
          await ledger.save(true);
          releaseLock();
        })();
        return stopping;
      },
    };
  } catch (err) {
    releaseLock();
    throw err;
  }
}

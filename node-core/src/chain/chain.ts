/**
 * One way to reach TON for every network: mainnet and testnet through a public TON HTTP API v2
 * endpoint, and the embedded local chain through the same API served on loopback. Everything goes
 * through @ton/ton's TonClient, so there is one client code path to test.
 */
import { Address, Cell, internal, SendMode, type Contract, type OpenedContract, type Sender, type Transaction, type TupleItem, type TupleReader } from '@ton/core';
import { TonClient, WalletContractV4 } from '@ton/ton';
import { mnemonicToPrivateKey, mnemonicValidate } from '@ton/crypto';
import { CocoonError, errorMessage } from '../errors.ts';
import type { ChainConfig } from './config.ts';

export interface AccountInfo {
  address: Address;
  state: 'active' | 'uninitialized' | 'frozen';
  balance: bigint;
  lastTransaction: { lt: bigint; hash: string } | null;
  /** The contract's data cell when active: Cocoon state is read by parsing it (contract-state.ts). */
  data: Cell | null;
}

export interface ChainWallet {
  address: Address;
  sender: Sender;
  /** Current wallet seqno (0 before the wallet is deployed). */
  seqno(): Promise<number>;
  /**
   * Sends messages in one wallet transfer and waits until the wallet has processed it (its seqno
   * moved). Returns the wallet's transaction.
   */
  sendAndWait(messages: Array<{ to: Address; value: bigint; body?: Cell; init?: { code: Cell; data: Cell } | null; bounce?: boolean }>, timeoutMs?: number): Promise<Transaction>;
}

export interface WaitOptions {
  /** Only transactions with a logical time above this count. */
  afterLt?: bigint;
  predicate?: (tx: Transaction) => boolean;
  timeoutMs?: number;
  pollMs?: number;
}

function wrap<T>(what: string, endpoint: string, p: Promise<T>): Promise<T> {
  return p.catch((err: unknown) => {
    if (err instanceof CocoonError) throw err;
    const detail = (err as { response?: { data?: { error?: string } } }).response?.data?.error ?? errorMessage(err);
    throw new CocoonError('chain_request_failed', `${what} failed at ${endpoint}: ${detail}`, {
      hint: 'check the network endpoint (and API key); for the local chain, is `cocoon chain up` running?',
      cause: err,
    });
  });
}

const walletQueues = new Map<string, Promise<unknown>>();

export class Chain {
  readonly client: TonClient;

  constructor(readonly config: ChainConfig) {
    this.client = new TonClient({ endpoint: config.endpoint, apiKey: config.apiKey, timeout: config.timeoutMs ?? 15_000 });
  }

  get rootAddress(): Address | undefined {
    return this.config.rootAddress ? Address.parse(this.config.rootAddress) : undefined;
  }

  open<T extends Contract>(contract: T): OpenedContract<T> {
    return this.client.open(contract);
  }

  async getAccount(address: Address): Promise<AccountInfo> {
    const s = await wrap('reading account state', this.config.endpoint, this.client.getContractState(address));
    return {
      address,
      state: s.state,
      balance: s.balance,
      lastTransaction: s.lastTransaction ? { lt: BigInt(s.lastTransaction.lt), hash: s.lastTransaction.hash } : null,
      data: s.state === 'active' && s.data ? Cell.fromBoc(s.data)[0]! : null,
    };
  }

  async runGetMethod(address: Address, method: string, args: TupleItem[] = []): Promise<TupleReader> {
    const r = await wrap(`get method ${method}`, this.config.endpoint, this.client.runMethodWithError(address, method, args));
    if (r.exit_code !== 0 && r.exit_code !== 1) {
      throw new CocoonError('get_method_failed', `get method ${method} on ${address.toString()} exited with code ${r.exit_code}`, {
        hint: r.exit_code === -13 ? 'the contract is not deployed at that address on this network' : undefined,
      });
    }
    return r.stack;
  }

  async sendExternal(message: Cell): Promise<void> {
    await wrap('sending a message', this.config.endpoint, this.client.sendFile(message.toBoc()));
  }

  async masterchainSeqno(): Promise<number> {
    return (await wrap('reading the masterchain', this.config.endpoint, this.client.getMasterchainInfo())).latestSeqno;
  }

  /** Polls the account's transactions until one newer than `afterLt` satisfies the predicate. */
  async waitForTransaction(address: Address, opts: WaitOptions = {}): Promise<Transaction> {
    const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
    const pollMs = opts.pollMs ?? (this.config.network === 'local' ? 100 : 2_000);
    for (;;) {
      const txs = await this.transactionsSince(address, opts.afterLt);
      // Oldest first, so the first match is the earliest qualifying transaction.
      for (const tx of txs) {
        if (!opts.predicate || opts.predicate(tx)) return tx;
      }
      if (Date.now() > deadline) {
        throw new CocoonError('chain_timeout', `no matching transaction on ${address.toString()} within ${opts.timeoutMs ?? 60_000} ms`, {
          hint: 'the message may have been rejected or the network is slow; check the account in an explorer',
        });
      }
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }

  /**
   * Transactions of an account newer than `afterLt`, oldest first, paging back through the API
   * (20 per request) until it reaches afterLt; without afterLt, only the latest page.
   */
  async transactionsSince(address: Address, afterLt?: bigint): Promise<Transaction[]> {
    const out: Transaction[] = [];
    let cursor: { lt: string; hash: string } | undefined;
    for (let page = 0; page < 50; page++) {
      const txs = await wrap('reading transactions', this.config.endpoint,
        this.client.getTransactions(address, { limit: 20, ...(cursor ? { lt: cursor.lt, hash: cursor.hash } : {}) }));
      let reached = afterLt === undefined;
      for (const tx of txs) {
        if (afterLt !== undefined && tx.lt <= afterLt) {
          reached = true;
          break;
        }
        out.push(tx);
      }
      const last = txs[txs.length - 1];
      if (reached || txs.length < 20 || !last) break;
      cursor = { lt: last.lt.toString(), hash: last.hash().toString('base64') };
    }
    return out.reverse();
  }

  /** A v4r2 wallet from a 24-word mnemonic. */
  async wallet(mnemonic: string[]): Promise<ChainWallet> {
    if (!(await mnemonicValidate(mnemonic))) {
      throw new CocoonError('bad_mnemonic', 'the wallet mnemonic is not a valid 24-word TON mnemonic', {
        hint: 'check the words and their order (space-separated)',
      });
    }
    const key = await mnemonicToPrivateKey(mnemonic);
    const wallet = this.open(WalletContractV4.create({ workchain: 0, publicKey: key.publicKey }));
    const sender = wallet.sender(key.secretKey);
    const chain = this;
    return {
      address: wallet.address,
      sender,
      async seqno() {
        const acct = await chain.getAccount(wallet.address);
        return acct.state === 'active' ? wrap('reading wallet seqno', chain.config.endpoint, wallet.getSeqno()) : 0;
      },
      sendAndWait(messages, timeoutMs = 60_000) {
        // One transfer at a time per wallet in this process: two at once would share a seqno and one would be lost.
        const key = wallet.address.toRawString();
        const run = (walletQueues.get(key) ?? Promise.resolve()).then(() => send(messages, timeoutMs));
        walletQueues.set(key, run.catch(() => undefined));
        return run;
      },
    };
    async function send(messages: Parameters<ChainWallet['sendAndWait']>[0], timeoutMs: number): Promise<Transaction> {
      const before = await chain.getAccount(wallet.address);
      if (before.balance === 0n) {
        throw new CocoonError('wallet_empty', `wallet ${wallet.address.toString({ bounceable: false })} has no funds on ${chain.config.network}`, {
          hint: chain.config.network === 'local' ? 'use one of the funded dev wallets from `cocoon chain up`' : 'top it up first',
        });
      }
      const seqno = before.state === 'active' ? await wallet.getSeqno() : 0;
      await wrap('sending a wallet transfer', chain.config.endpoint, wallet.sendTransfer({
        seqno,
        secretKey: key.secretKey,
        sendMode: SendMode.PAY_GAS_SEPARATELY + SendMode.IGNORE_ERRORS,
        messages: messages.map((m) => internal({ to: m.to, value: m.value, body: m.body, init: m.init ?? undefined, bounce: m.bounce })),
      }));
      return chain.waitForTransaction(wallet.address, {
        afterLt: before.lastTransaction?.lt ?? 0n,
        predicate: (tx) => tx.inMessage?.info.type === 'external-in',
        timeoutMs,
      });
    }
  }
}

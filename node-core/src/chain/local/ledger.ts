/**
 * The embedded local chain's state: an @ton/sandbox Blockchain running the real compiled
 * contracts, an index of transactions per account (the sandbox keeps no queryable history), a
 * masterchain "block" counter, and persistence to disk. Every operation runs under one lock:
 * the sandbox is not re-entrant and HTTP requests arrive concurrently.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { Blockchain, snapshotFromSerializable, snapshotToSerializable } from '@ton/sandbox';

type SerializableSnapshot = ReturnType<typeof snapshotToSerializable>;
import { Address, Cell, loadMessage, loadTransaction, type Transaction, type TupleItem } from '@ton/core';
import { CocoonError } from '../../errors.ts';

/** Transactions kept per account; older ones are dropped (a dev chain, not an archive node). */
const TX_HISTORY_PER_ACCOUNT = 500;

interface PersistedState {
  version: 1;
  seqno: number;
  snapshot: SerializableSnapshot;
  /** raw address → transaction BOCs (base64), oldest first. */
  transactions: Record<string, string[]>;
}

export interface GetMethodOutcome {
  exitCode: number;
  gasUsed: bigint;
  stack: TupleItem[];
}

export class LocalLedger {
  private lock: Promise<unknown> = Promise.resolve();
  private txByAccount = new Map<string, Transaction[]>();
  private dirty = false;
  seqno = 1;

  private constructor(readonly blockchain: Blockchain, private readonly statePath: string) {}

  static async open(dataDir: string): Promise<{ ledger: LocalLedger; fresh: boolean }> {
    mkdirSync(dataDir, { recursive: true });
    const statePath = join(dataDir, 'chain-state.json');
    const blockchain = await Blockchain.create();
    const ledger = new LocalLedger(blockchain, statePath);
    if (!existsSync(statePath)) return { ledger, fresh: true };
    let persisted: PersistedState;
    try {
      persisted = JSON.parse(readFileSync(statePath, 'utf8')) as PersistedState;
      if (persisted.version !== 1) throw new Error(`unsupported state version ${String(persisted.version)}`);
      await blockchain.loadFrom(snapshotFromSerializable(persisted.snapshot));
    } catch (err) {
      throw new CocoonError('local_chain_state_corrupt', `cannot load the local chain state ${statePath}: ${(err as Error).message}`, {
        hint: `move ${statePath} away to start a fresh local chain (all local balances and contracts are lost)`,
        cause: err,
      });
    }
    ledger.seqno = persisted.seqno;
    for (const [addr, bocs] of Object.entries(persisted.transactions)) {
      ledger.txByAccount.set(addr, bocs.map((b) => loadTransaction(Cell.fromBase64(b).beginParse())));
    }
    return { ledger, fresh: false };
  }

  /** Runs `fn` with exclusive access to the sandbox. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  record(txs: Transaction[]): void {
    for (const tx of txs) {
      const addr = new Address(0, Buffer.from(tx.address.toString(16).padStart(64, '0'), 'hex')).toRawString();
      let list = this.txByAccount.get(addr);
      if (!list) this.txByAccount.set(addr, (list = []));
      list.push(tx);
      if (list.length > TX_HISTORY_PER_ACCOUNT) list.splice(0, list.length - TX_HISTORY_PER_ACCOUNT);
    }
    if (txs.length > 0) {
      this.seqno += 1;
      this.dirty = true;
    }
  }

  /** Delivers an external (or internal, for the faucet) message and everything it causes. */
  async send(message: Cell): Promise<Transaction[]> {
    return this.exclusive(async () => {
      const result = await this.blockchain.sendMessage(message);
      this.record(result.transactions);
      return result.transactions;
    });
  }

  /** Runs a message on a copy of the state and throws the changes away (fee estimation). */
  async dryRun(message: Cell, opts: { ignoreChksig?: boolean } = {}): Promise<Transaction[]> {
    return this.exclusive(async () => {
      const snap = this.blockchain.snapshot();
      try {
        return (await this.blockchain.sendMessage(message, { ignoreChksig: opts.ignoreChksig ?? false })).transactions;
      } finally {
        await this.blockchain.loadFrom(snap);
      }
    });
  }

  async runGetMethod(address: Address, method: string, stack: TupleItem[]): Promise<GetMethodOutcome> {
    return this.exclusive(async () => {
      const sc = await this.blockchain.getContract(address);
      if (sc.accountState?.type !== 'active') return { exitCode: -13, gasUsed: 0n, stack: [] };
      try {
        const r = await sc.get(method, stack);
        return { exitCode: r.exitCode, gasUsed: r.gasUsed, stack: r.stack };
      } catch (err) {
        // The sandbox throws on a non-zero exit code; the HTTP API reports it instead.
        const exitCode = (err as { exitCode?: number }).exitCode;
        if (typeof exitCode === 'number') return { exitCode, gasUsed: 0n, stack: [] };
        throw err;
      }
    });
  }

  async account(address: Address) {
    return this.exclusive(async () => {
      const sc = await this.blockchain.getContract(address);
      const state = sc.accountState;
      return {
        balance: sc.balance,
        state: state?.type === 'active' ? 'active' as const : state?.type === 'frozen' ? 'frozen' as const : 'uninitialized' as const,
        code: state?.type === 'active' ? state.state.code ?? null : null,
        data: state?.type === 'active' ? state.state.data ?? null : null,
        lastTransactionLt: sc.lastTransactionLt,
        lastTransactionHash: sc.lastTransactionHash,
      };
    });
  }

  /** Newest first, starting at `fromLt` (inclusive) when given, stopping above `toLt`. */
  transactions(address: Address, opts: { limit: number; fromLt?: bigint; toLt?: bigint }): Transaction[] {
    const list = this.txByAccount.get(address.toRawString()) ?? [];
    const out: Transaction[] = [];
    for (let i = list.length - 1; i >= 0 && out.length < opts.limit; i--) {
      const tx = list[i]!;
      if (opts.fromLt !== undefined && tx.lt > opts.fromLt) continue;
      if (opts.toLt !== undefined && tx.lt <= opts.toLt) break;
      out.push(tx);
    }
    return out;
  }

  /** Newest matching transaction of an account, if still in the kept history. */
  findTransaction(address: Address, predicate: (tx: Transaction) => boolean): Transaction | undefined {
    const list = this.txByAccount.get(address.toRawString()) ?? [];
    for (let i = list.length - 1; i >= 0; i--) if (predicate(list[i]!)) return list[i];
    return undefined;
  }

  /** A stable pseudo block hash for the current seqno (the sandbox has no blocks). */
  blockHash(seqno = this.seqno): string {
    return createHash('sha256').update(`cocoon-local-block-${seqno}`).digest('base64');
  }

  /** Writes state atomically if anything changed since the last save. */
  async save(force = false): Promise<void> {
    await this.exclusive(async () => {
      if (!this.dirty && !force) return;
      const snapshot = this.blockchain.snapshot();
      // The sandbox's own transaction history duplicates our index and grows without bound.
      snapshot.transactions = [];
      const transactions: Record<string, string[]> = {};
      for (const [addr, list] of this.txByAccount) transactions[addr] = list.map((tx) => tx.raw.toBoc().toString('base64'));
      const state: PersistedState = { version: 1, seqno: this.seqno, snapshot: snapshotToSerializable(snapshot), transactions };
      const tmp = `${this.statePath}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify(state));
      renameSync(tmp, this.statePath);
      this.dirty = false;
    });
  }
}

export function parseMessageBoc(boc: Buffer) {
  const cell = Cell.fromBoc(boc)[0];
  if (!cell) throw new Error('empty BOC');
  return { cell, message: loadMessage(cell.beginParse()) };
}

/**
 * The proxy's commit of its state to the chain, as the reference network defines it: the proxy's
 * own wallet sends its proxy contract a message whose body is
 *   do_not_process:32 query_id:64 proxy_save_state:32 seqno:int32 unique_hash:256
 * with 1 nanoTON attached (bounceable, fees paid separately). The contract does nothing with it
 * (1 nanoTON buys no gas): the commit is the transaction itself, in the contract's history, in
 * chain order. Nodes find it by reading the proxy contract's transactions and trust only those
 * whose inbound message came from the proxy's own wallet: nothing else authenticates it, so a
 * commit "from" anyone else is ignored.
 *
 * `seqno` numbers the ledger's commits (it only grows); `unique_hash` is random per proxy run
 * (the reference's session hash). A proxy whose ledger holds a lower seqno than the newest commit
 * on chain, or the same seqno with another hash, runs on an older or diverged copy of its ledger.
 */
import { Address, type Transaction } from '@ton/core';
import { randomBytes } from 'node:crypto';
import type { Chain, ChainWallet } from './chain.ts';
import { CocoonError } from '../errors.ts';
import { Op, proxySaveStateBody } from '../../../contracts/wrappers/protocol.ts';

/** What the reference's wallet attaches to a save-state message. */
export const SAVE_STATE_VALUE = 1n;

export interface SavedState {
  seqno: number;
  uniqueHash: Buffer;
  /** The proxy contract's transaction that carries it. */
  lt: bigint;
  at: number;
}

/**
 * The save-state a transaction carries when its inbound message came from one of `from` with the
 * reference's exact layout; null otherwise (another operation, another sender, extra bits).
 */
export function savedStateOf(tx: Transaction, from: readonly Address[]): SavedState | null {
  const msg = tx.inMessage;
  if (!msg || msg.info.type !== 'internal') return null;
  const src = msg.info.src;
  if (!from.some((a) => a.equals(src))) return null;
  const s = msg.body.beginParse();
  if (s.remainingBits !== 32 + 64 + 32 + 32 + 256 || s.remainingRefs !== 0) return null;
  if (s.loadUint(32) !== Op.doNotProcess) return null;
  s.skip(64);
  if (s.loadUint(32) !== Op.proxySaveState) return null;
  const seqno = s.loadInt(32);
  const uniqueHash = s.loadBuffer(32);
  return { seqno, uniqueHash, lt: tx.lt, at: tx.now * 1000 };
}

export interface LatestSavedStateOptions {
  /** Senders trusted as the proxy's own wallet. */
  from: readonly Address[];
  /** Stop scanning back at this logical time (a commit the caller already knows is there). */
  stopAtLt?: bigint;
  /** How many transactions to read back at most (default 4000). */
  maxTransactions?: number;
}

/**
 * The newest save-state on the proxy contract sent by `from` (scanning back from the newest
 * transaction); null when there is none (or none after `stopAtLt`). Throws
 * `saved_state_unverifiable` when `maxTransactions` were read without reaching either.
 */
export async function latestSavedState(chain: Chain, proxyContract: Address, o: LatestSavedStateOptions): Promise<SavedState | null> {
  const max = o.maxTransactions ?? 4000;
  let cursor: { lt: string; hash: string } | undefined;
  let read = 0;
  for (;;) {
    let txs: Transaction[];
    try {
      txs = await chain.client.getTransactions(proxyContract, { limit: 20, ...(cursor ?? {}) });
    } catch (err) {
      throw new CocoonError('chain_request_failed', `reading the transactions of the proxy contract ${proxyContract.toString()} failed at ${chain.config.endpoint}: ${(err as Error).message}`, {
        hint: 'check the network endpoint; the proxy reads its committed state before it starts', cause: err,
      });
    }
    // A page starting at `cursor` repeats the cursor's transaction first.
    const fresh = cursor ? txs.filter((t) => t.lt < BigInt(cursor!.lt)) : txs;
    for (const tx of fresh) {
      if (o.stopAtLt !== undefined && tx.lt < o.stopAtLt) return null;
      const s = savedStateOf(tx, o.from);
      if (s) return s;
    }
    read += fresh.length;
    const last = txs[txs.length - 1];
    if (txs.length < 20 || !last || fresh.length === 0) return null;
    if (read >= max) {
      throw new CocoonError('saved_state_unverifiable', `read ${read} transactions of the proxy contract ${proxyContract.toString()} without finding this proxy's last state commit`, {
        hint: 'the ledger\'s last confirmed commit is older than that; check the proxy contract in an explorer, or start with a higher maxTransactions',
      });
    }
    cursor = { lt: last.lt.toString(), hash: last.hash().toString('base64') };
  }
}

/**
 * Sends one save-state from `wallet` the reference's way (1 nanoTON, bounceable) and waits until
 * the proxy contract's transaction for it is on chain. Returns that commit.
 */
export async function sendSavedState(chain: Chain, wallet: ChainWallet, proxyContract: Address, seqno: number, uniqueHash: Buffer, timeoutMs = 60_000): Promise<SavedState> {
  if (!Number.isInteger(seqno) || seqno < 1 || seqno > 0x7fffffff) throw new CocoonError('bad_seqno', `save-state seqno ${seqno} is outside 1..2^31-1`);
  if (uniqueHash.length !== 32) throw new CocoonError('bad_unique_hash', 'the save-state hash must be 32 bytes');
  const before = await chain.getAccount(proxyContract);
  const queryId = randomBytes(8).readBigUInt64BE();
  await wallet.sendAndWait([{ to: proxyContract, value: SAVE_STATE_VALUE, bounce: true, body: proxySaveStateBody(queryId, seqno, uniqueHash) }], timeoutMs);
  const tx = await chain.waitForTransaction(proxyContract, {
    afterLt: before.lastTransaction?.lt ?? 0n,
    timeoutMs,
    predicate: (t) => {
      const s = savedStateOf(t, [wallet.address]);
      return s !== null && s.seqno === seqno && s.uniqueHash.equals(uniqueHash);
    },
  });
  return savedStateOf(tx, [wallet.address])!;
}

import { Address, beginCell, storeStateInit, type Cell, type StateInit } from '@ton/core';
import type { ChainWallet } from '../chain/chain.ts';

/**
 * What the user pays for on chain is built as messages first and sent by a signer second, so the
 * same action runs from the development wallet (local mode) or from the user's own wallet through
 * TON Connect, and the app can show the amount and the fee before anything is signed.
 */
export interface WalletMessage {
  to: Address;
  valueNano: bigint;
  body: Cell;
  /** Deploys the destination with this state init (opening a contract). */
  stateInit: StateInit | null;
  bounce: boolean;
}

export interface SentTransaction {
  /** Hash of what the signer sent: the wallet transaction (dev wallet) or the external message (TON Connect), hex. */
  hash: string;
}

export interface TransactionSigner {
  /** The wallet that pays and owns what it opens. */
  address: Address;
  /** Sends the messages in one wallet transfer; throws when the user declines or the network differs. */
  send(messages: WalletMessage[]): Promise<SentTransaction>;
}

/**
 * A rough upper bound of what the wallet's own transfer costs (import, storage, forwarding of up to
 * four messages) on top of the values it attaches; measured on the embedded chain with margin.
 */
export const WALLET_FEE_ESTIMATE_NANO = 10_000_000n; // 0.01 TON

/** The development wallet of the embedded chain as a signer (local mode, no approval step). */
export function chainWalletSigner(wallet: ChainWallet): TransactionSigner {
  return {
    address: wallet.address,
    async send(messages) {
      const tx = await wallet.sendAndWait(messages.map((m) => ({ to: m.to, value: m.valueNano, body: m.body, init: m.stateInit ? { code: m.stateInit.code!, data: m.stateInit.data! } : null, bounce: m.bounce })));
      return { hash: tx.hash().toString('hex') };
    },
  };
}

/** A message as TON Connect's sendTransaction carries it (amount in nanoTON, cells in base64). */
export function toTonConnectMessage(m: WalletMessage): { address: string; amount: string; payload: string; stateInit?: string } {
  return {
    address: m.to.toString({ bounceable: m.bounce }),
    amount: m.valueNano.toString(),
    payload: m.body.toBoc().toString('base64'),
    ...(m.stateInit && { stateInit: beginCell().store(storeStateInit(m.stateInit)).endCell().toBoc().toString('base64') }),
  };
}

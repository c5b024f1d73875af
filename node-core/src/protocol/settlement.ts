import { createHash, randomBytes } from 'node:crypto';
import { Address } from '@ton/core';
import type { TlObject } from './tl-codec.ts';

/**
 * What the wire needs from payments and the chain, and nothing more. The handshakes carry
 * contract addresses, the client's secret hash, registration nonces and signed payments; the
 * settlement work (contracts, ledgers) fills these interfaces. Until it does, `noSettlement*`
 * gives the reference's forms for "no payment": `proxy.signedPaymentEmpty`, zero token counts,
 * the zero address where a contract address is due, and the long authorization accepted at
 * once — which is what a reference proxy started without TON does.
 */

/** A signed payment as the wire carries it: null is `proxy.signedPaymentEmpty`. */
export interface PaymentState {
  /** The proxy's signed payment message (opaque bytes on the wire), or null for none. */
  signedPayment: Buffer | null;
  tokensCommittedToDb: bigint;
  maxTokens: bigint;
}

export const NO_PAYMENT: PaymentState = { signedPayment: null, tokensCommittedToDb: 0n, maxTokens: 0n };

export function signedPaymentTl(p: Buffer | null): TlObject {
  return p === null ? { _: 'proxy.signedPaymentEmpty' } : { _: 'proxy.signedPayment', data: p };
}

export function signedPaymentOf(tl: TlObject): Buffer | null {
  return tl._ === 'proxy.signedPayment' ? (tl.data as Buffer) : null;
}

/** The proxy's side of settlement. */
export interface ProxySettlement {
  /** The proxy operator's wallet and the proxy contract, as TON addresses. */
  ownerAddress: string;
  contractAddress: string;
  isTest: boolean;
  /** The client contract for this client owner (derived from the code the root holds). */
  clientContractAddress(clientOwner: string): string;
  /**
   * The secret hash stored in that client contract, if the contract is known and open: the
   * proxy then offers the short authorization (the client proves the secret).
   */
  clientSecretHash(clientOwner: string): Buffer | null;
  /** The client proved the secret behind `clientSecretHash` on the connection given `nonce` (short authorization). */
  clientAuthorizedShort?(clientOwner: string, nonce: bigint): void;
  /**
   * Long authorization: resolves once the client contract has registered with this proxy using
   * `nonce` (a transaction the client sends). Rejects with a reason to refuse the client.
   */
  awaitClientRegistration(clientOwner: string, nonce: bigint): Promise<void>;
  clientPayment(clientOwner: string): PaymentState;
  workerContractAddress(workerOwner: string): string;
  /** The proxy's record for a worker (`worker.compareBalanceWithProxy`). */
  workerPayment(workerOwner: string): PaymentState;
}

/** The client's side. */
export interface ClientSettlement {
  ownerAddress: string;
  isTest: boolean;
  /** The secret whose SHA-256 the client contract stores (short authorization), if any. */
  secret: Buffer | null;
  /** Long authorization: send the register transaction to the client contract with this nonce. */
  registerWithProxy(proxy: { proxyContract: string; clientContract: string; nonce: bigint }): Promise<void>;
  /** The proxy's latest signed payment for this client; returns why it was refused (null or nothing: kept). */
  onPayment(proxyContract: string, payment: PaymentState): string | null | void;
  /** Why this client stops using a proxy (a rollback or a charge above what it received, persisted), or null. */
  refusal?(proxyContract: string): string | null;
  /** Why the client contract the proxy named is not this client's own there (any spelling of it is), or null. */
  contractMismatch?(proxyContract: string, announced: string): string | null;
  /** The signed charge counter this client holds at a proxy and the one on chain (adjusted tokens). */
  chargeCounters?(proxyContract: string): { signed: bigint; onChain: bigint } | null;
  /** An answer's final usage, as received (before its payment arrives): the client's own count. */
  onAnswer?(proxyContract: string, requestId: string, tokens: import('../payments/pricing.ts').TokenCounts, maxCoefficient: number): void;
  /** Where the client's answer log survives restarts (the client payment store), if anywhere. */
  readonly answerHistory?: AnswerHistory;
}

/** Saved answer log entries (opaque JSON texts written by client/answer-log.ts). */
export interface AnswerHistory {
  /** The newest saved entries, oldest first, at most `limit`. */
  loadAnswers(limit: number): { id: string; entry: string }[];
  /** Saves new or changed entries; the store applies its retention. */
  saveAnswers(rows: { id: string; startedAt: number; entry: string }[]): void;
}

/** The worker's side. */
export interface WorkerSettlement {
  ownerAddress: string;
  isTest: boolean;
  /** What the worker knows it earned from this proxy, to detect a proxy that rolled back. */
  earned(proxyContract: string): { committedToBlockchain: bigint; committedToDb: bigint; maxKnown: bigint };
  /** The proxy's payment for this worker (handshake and every query); false refuses the proxy. */
  onPayment(proxyContract: string, payment: PaymentState): boolean;
  /** Why this worker refuses a proxy (a detected rollback), or null. */
  refusal?(proxyContract: string): string | null;
  /** Why the worker contract the proxy named is not this worker's own there (any spelling of it is), or null. */
  contractMismatch?(proxyContract: string, announced: string): string | null;
  /** The root's price multipliers this worker is paid at (adjusted tokens it reports); unknown without payments. */
  readonly multipliers?: import('../payments/pricing.ts').TokenCounts;
  /** An answer this worker served, with the usage its engine reported (raw): the worker's own count. */
  onServed?(proxyContract: string, requestId: string, tokens: import('../payments/pricing.ts').TokenCounts, coefficient: number): void;
}

/** The zero address in the raw form the reference parses ("0:" and 64 zeros). */
export const ZERO_ADDRESS = `0:${'0'.repeat(64)}`;

/** Whether a string is a TON address the reference's StdAddress::parse accepts (raw or friendly). */
export function isTonAddress(s: string): boolean {
  try {
    Address.parse(s);
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether two strings name the same TON address (workchain and hash), whatever their form: raw
 * `0:…`, bounceable or not, test-only or not. Our nodes compare announced addresses this way,
 * never as strings, so the form a proxy announces (the reference's non-bounceable one, or an
 * older proxy's bounceable one) does not matter. A string that does not parse equals nothing.
 */
export function sameAddress(a: string, b: string): boolean {
  try {
    return Address.parse(a).equals(Address.parse(b));
  } catch {
    return false;
  }
}

/**
 * The one spelling under which our stores key a TON address: the form `Address.toString()` gives
 * (bounceable, url-safe, no test-only flag) — the form every store file was written with before
 * proxies announced the non-bounceable form, so existing files need no change. Any spelling of
 * the same address maps to it; a string that is no address (a test's label) stays as it is.
 */
export function canonicalAddress(s: string): string {
  try {
    return Address.parse(s).toString();
  } catch {
    return s;
  }
}

export function secretHash(secret: Buffer): Buffer {
  return createHash('sha256').update(secret).digest();
}

/** Proxy without payments (local network, tests): the reference's "TON disabled" behaviour. */
export function noSettlementProxy(opts: { ownerAddress?: string; contractAddress?: string; isTest?: boolean } = {}): ProxySettlement {
  return {
    ownerAddress: opts.ownerAddress || ZERO_ADDRESS,
    contractAddress: opts.contractAddress || ZERO_ADDRESS,
    isTest: opts.isTest ?? true,
    clientContractAddress: () => ZERO_ADDRESS,
    clientSecretHash: () => null,
    awaitClientRegistration: async () => undefined,
    clientPayment: () => NO_PAYMENT,
    workerContractAddress: () => ZERO_ADDRESS,
    workerPayment: () => NO_PAYMENT,
  };
}

export function noSettlementClient(opts: { ownerAddress?: string; isTest?: boolean } = {}): ClientSettlement {
  return {
    ownerAddress: opts.ownerAddress || ZERO_ADDRESS,
    isTest: opts.isTest ?? true,
    secret: null,
    registerWithProxy: async () => undefined,
    onPayment: () => undefined,
  };
}

export function noSettlementWorker(opts: { ownerAddress?: string; isTest?: boolean } = {}): WorkerSettlement {
  return {
    ownerAddress: opts.ownerAddress || ZERO_ADDRESS,
    isTest: opts.isTest ?? true,
    earned: () => ({ committedToBlockchain: 0n, committedToDb: 0n, maxKnown: 0n }),
    onPayment: () => true,
  };
}

/** A registration nonce for the long authorization (u64, as the reference). */
export function newNonce(): bigint {
  return randomBytes(8).readBigUInt64LE(0) & 0x7fffffffffffffffn;
}

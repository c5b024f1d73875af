/**
 * Proxy-signed payloads: what the proxy signs for clients (charges, cooperative close) and workers
 * (payouts). Used by the wrappers, the tests and the node core's proxy, so the bytes signed and the
 * bytes checked on chain are built by one function.
 */
import { beginCell, type Address, type Cell } from '@ton/core';
import { sign, signVerify } from '@ton/crypto';
import { SignedTag } from './protocol.ts';

export type SignedTagName = keyof typeof SignedTag;

export interface SignedPayload {
  tag: SignedTagName;
  /** The contract that must accept it: signatures never transfer to another contract. */
  target: Address;
  /** Cumulative weighted tokens (Σ tokens × multiplier in basis points). Strictly increasing. */
  cumulativeTokens: bigint;
}

export interface SignedMessage {
  payload: Cell;
  signature: Buffer;
}

export const MAX_CUMULATIVE_TOKENS = (1n << 64n) - 1n;

/** Reads a payload cell back (for submitters that want to know which counter they carry). */
export function readPayload(payload: Cell): { tag: number; target: Address; cumulativeTokens: bigint } {
  const s = payload.beginParse();
  return { tag: s.loadUint(32), target: s.loadAddress(), cumulativeTokens: s.loadUintBig(64) };
}

export function payloadCell(p: SignedPayload): Cell {
  if (p.cumulativeTokens < 0n || p.cumulativeTokens > MAX_CUMULATIVE_TOKENS) {
    throw new RangeError(`cumulativeTokens must fit in uint64, got ${p.cumulativeTokens}`);
  }
  return beginCell().storeUint(SignedTag[p.tag], 32).storeAddress(p.target).storeUint(p.cumulativeTokens, 64).endCell();
}

/** Signs with the proxy's Ed25519 secret key (64-byte tweetnacl form, as @ton/crypto's keyPair). */
export function signPayload(p: SignedPayload, secretKey: Buffer): SignedMessage {
  const payload = payloadCell(p);
  return { payload, signature: sign(payload.hash(), secretKey) };
}

export function verifySignedMessage(m: SignedMessage, publicKey: Buffer): boolean {
  return signVerify(m.payload.hash(), m.signature, publicKey);
}

/** Envelope layout read by the contracts: signature bits then a ref to the payload. */
export function storeSignedMessage(m: SignedMessage) {
  return (b: import('@ton/core').Builder) => {
    b.storeBuffer(m.signature, 64).storeRef(m.payload);
  };
}

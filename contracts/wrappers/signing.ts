/**
 * Proxy-signed payment messages: build, sign, check. The proxy's ledger and the wire code use
 * these; the cell layouts are in protocol.ts (the reference's sign_and_wrap_message).
 */
import { randomBytes } from 'node:crypto';
import type { Address, Cell } from '@ton/core';
import { sign, signVerify } from '@ton/crypto';
import {
  closePayload, parseSignedTokenMessage, tokenPayload, wrapSigned, Op, type CloseSignedOp, type SignedTokenMessage, type TokenSignedOp,
} from './protocol.ts';

export function randomQueryId(): bigint {
  return randomBytes(8).readBigUInt64BE();
}

/**
 * Signs a cumulative token counter for `target` (a client contract for charges and refunds, a
 * worker contract for payouts) with the proxy's 64-byte Ed25519 secret key; returns the wrapped
 * body, ready to send to `target` from any wallet.
 */
export function signTokenMessage(o: { op: TokenSignedOp; tokens: bigint; target: Address; secretKey: Buffer; sendExcessesTo: Address | null; queryId?: bigint }): Cell {
  const payload = tokenPayload(o.op, o.queryId ?? randomQueryId(), o.tokens, o.target);
  return wrapSigned(payload, sign(payload.hash(), o.secretKey), o.sendExcessesTo);
}

export function signCloseMessage(o: { op: CloseSignedOp; target: Address; secretKey: Buffer; sendExcessesTo: Address | null; queryId?: bigint }): Cell {
  const payload = closePayload(o.op, o.queryId ?? randomQueryId(), o.target);
  return wrapSigned(payload, sign(payload.hash(), o.secretKey), o.sendExcessesTo);
}

/**
 * What a client or worker does with a signed message it receives (check_signed_pay_message):
 * layout, op, target and signature; returns the counter or throws saying what is wrong.
 */
export function verifyTokenMessage(body: Cell, expect: { op: TokenSignedOp; target: Address; proxyPublicKey: Buffer }): SignedTokenMessage {
  const m = parseSignedTokenMessage(body);
  if (m.op !== Op[expect.op]) throw new Error(`signed message: op 0x${m.op.toString(16)} is not ${expect.op}`);
  if (!m.target.equals(expect.target)) throw new Error(`signed message targets ${m.target.toString()}, not ${expect.target.toString()}`);
  if (!signVerify(m.payload.hash(), m.signature, expect.proxyPublicKey)) throw new Error('signed message: bad signature');
  return m;
}

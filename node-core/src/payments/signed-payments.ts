/**
 * Signed payment messages as the payment stores keep them and the wire carries them
 * (`proxy.signedPayment.data`): the BOC of the reference's signed body (op, query id, excess
 * address, signature, ^payload with the cumulative adjusted-token counter and the target
 * contract), exactly what a wallet sends to the client or worker contract. The layout belongs to
 * contracts/wrappers (protocol.ts, signing.ts) and chain/settlement.ts; this module only
 * converts between those cells and the stored bytes, on both sides:
 *   - the proxy signs a ledger counter (`ProxyPaymentSigner`, `signLatest`);
 *   - a client or worker verifies what it received (`verifySignedPayment`) before `check()`.
 */
import { Address, Cell } from '@ton/core';
import type { KeyPair } from '@ton/crypto';
import { createPrivateKey, createPublicKey, sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { CocoonError, errorMessage } from '../errors.ts';
import { randomQueryId } from '../../../contracts/wrappers/signing.ts';
import { parseSignedTokenMessage, tokenPayload, wrapSigned, Op, type SignedTokenMessage } from '../../../contracts/wrappers/protocol.ts';
import type { Party, ProxyLedger } from './proxy-ledger.ts';
import type { SettlementKind } from './settlement-state.ts';
import { memoize } from '../memo.ts';

/** The contract operation a settlement kind signs. */
export const SIGNED_OP = { charge: 'extClientChargeSigned', payout: 'extWorkerPayoutRequestSigned' } as const;

export function encodeSignedBody(body: Cell): Uint8Array {
  return new Uint8Array(body.toBoc());
}

export function decodeSignedBody(bytes: Uint8Array): Cell {
  try {
    const cells = Cell.fromBoc(Buffer.from(bytes));
    if (cells.length !== 1) throw new Error(`${cells.length} root cells`);
    return cells[0]!;
  } catch (err) {
    throw new CocoonError('bad_signed_payment', `a signed payment is not a BOC with one cell: ${errorMessage(err)}`, { cause: err });
  }
}

/** Parses stored bytes into the signed message (layout only; no signature check). */
export function readSignedPayment(bytes: Uint8Array): SignedTokenMessage {
  const body = decodeSignedBody(bytes);
  try {
    return parseSignedTokenMessage(body);
  } catch (err) {
    throw new CocoonError('bad_signed_payment', `refusing a signed payment with an unreadable body: ${errorMessage(err)}`, { cause: err });
  }
}

/** Signs counters for the proxy's contracts; the proxy's key never leaves it. */
export interface PaymentSigner {
  sign(kind: SettlementKind, contract: string, counter: bigint): Uint8Array;
}

/**
 * Signs with Node's native Ed25519 (same deterministic signatures as @ton/crypto's tweetnacl,
 * many times faster): the proxy signs two counters per answer on the answering path. The body is
 * `chain/settlement.ts` `signCharge` / `signPayout`'s, byte for byte (tested).
 */
export class ProxyPaymentSigner implements PaymentSigner {
  private readonly privateKey: KeyObject;
  constructor(key: KeyPair) {
    // tweetnacl's 64-byte secret key is seed ‖ public key; PKCS#8 wraps the 32-byte seed.
    this.privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, key.secretKey.subarray(0, 32)]), format: 'der', type: 'pkcs8' });
  }
  sign(kind: SettlementKind, contract: string, counter: bigint, queryId: bigint = randomQueryId()): Uint8Array {
    const payload = tokenPayload(SIGNED_OP[kind], queryId, counter, Address.parse(contract));
    return encodeSignedBody(wrapSigned(payload, cryptoSign(null, payload.hash(), this.privateKey), null));
  }
}

const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/** Signs the ledger's current counter for a contract and keeps the message in the ledger. */
export function signLatest(ledger: ProxyLedger, signer: PaymentSigner, party: Party, contract: string): { counter: bigint; message: Uint8Array } {
  const a = ledger.account(party, contract);
  if (!a) throw new CocoonError('unknown_account', `no ${party} contract ${contract} in the ledger`);
  if (a.signedMessage && a.signedCounter === a.counter) return { counter: a.counter, message: a.signedMessage };
  const message = signer.sign(party === 'client' ? 'charge' : 'payout', contract, a.counter);
  ledger.recordSigned(party, contract, a.counter, message);
  return { counter: a.counter, message };
}

/**
 * What a client or worker runs on a received signed payment before `check()`: the layout is the
 * reference's, the operation is a charge (client) or payout (worker), it targets the party's own
 * contract, and the signature is the proxy's key over the payload cell's hash (the contracts'
 * check_signed_pay_message, as `verifyTokenMessage` of contracts/wrappers/signing.ts). Returns the
 * counter it carries; a forged, mis-targeted or wrong-kind message throws `bad_signed_payment`
 * saying which.
 *
 * The signature is checked with Node's native Ed25519 (OpenSSL) against a key object built once
 * per proxy key: a client and a worker verify one message per answer, and tweetnacl's pure-JS
 * verify cost milliseconds of CPU each (the settlement benchmark's largest cost). OpenSSL is, if
 * anything, stricter (it also refuses a non-canonical S).
 */
export function verifySignedPayment(bytes: Uint8Array, expected: { kind: SettlementKind; contract: string; proxyPublicKey: Buffer }): bigint {
  const m = readSignedPayment(bytes);
  const what = `a signed ${expected.kind}`;
  if (m.op !== Op[SIGNED_OP[expected.kind]]) throw new CocoonError('bad_signed_payment', `refusing a signed payment: op 0x${m.op.toString(16)} is not a ${expected.kind}`);
  const target = parsedAddress(expected.contract);
  if (!m.target.equals(target)) throw new CocoonError('bad_signed_payment', `refusing ${what}: signed message targets ${m.target.toString()}, not ${target.toString()}`);
  if (!cryptoVerify(null, m.payload.hash(), publicKeyObject(expected.proxyPublicKey), m.signature)) {
    throw new CocoonError('bad_signed_payment', `refusing ${what}: signed message: bad signature`);
  }
  return m.tokens;
}

const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** A proxy's public key (hex) as a native key object, built once per key (a party knows one or a few proxies). */
const keyObjectOfHex = memoize((hex: string) => createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, Buffer.from(hex, 'hex')]), format: 'der', type: 'spki' }), 64);

function publicKeyObject(raw: Buffer): KeyObject {
  if (raw.length !== 32) throw new CocoonError('bad_signed_payment', `the proxy public key must be 32 bytes, got ${raw.length}`);
  return keyObjectOfHex(raw.toString('hex'));
}

const parsedAddress = memoize((s: string): Address => {
  try {
    return Address.parse(s);
  } catch (err) {
    throw new CocoonError('bad_contract', `not a contract address: ${s} (${errorMessage(err)})`, { cause: err });
  }
}, 1024);

/**
 * Signed payment messages as the payment stores keep them: opaque bytes (the BOC of the envelope
 * cell the contracts read — signature, ref → payload). This module is the one place that knows
 * that layout, on both sides:
 *   - the proxy signs a ledger counter (`ProxyPaymentSigner`, `signLatest`);
 *   - a client or worker verifies what it received (`verifySignedPayment`) before `check()`.
 * When the contracts move to the reference's payment bodies, this file and chain-submitter.ts change,
 * the stores and the scheduler do not.
 */
import { Address, beginCell, Cell } from '@ton/core';
import type { KeyPair } from '@ton/crypto';
import { CocoonError, errorMessage } from '../errors.ts';
import { createPrivateKey, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { payloadCell, readPayload, storeSignedMessage, verifySignedMessage, type SignedMessage } from '../../../contracts/wrappers/signing.ts';
import { SignedTag } from '../../../contracts/wrappers/protocol.ts';
import type { Party, ProxyLedger } from './proxy-ledger.ts';
import type { SettlementKind } from './settlement-state.ts';

export function encodeSignedMessage(m: SignedMessage): Uint8Array {
  return new Uint8Array(beginCell().store(storeSignedMessage(m)).endCell().toBoc());
}

export function decodeSignedMessage(bytes: Uint8Array): SignedMessage {
  try {
    const s = Cell.fromBoc(Buffer.from(bytes))[0]!.beginParse();
    return { signature: s.loadBuffer(64), payload: s.loadRef() };
  } catch (err) {
    throw new CocoonError('bad_signed_message', `a signed payment is not a signed envelope: ${errorMessage(err)}`, { cause: err });
  }
}

/** Signs counters for the proxy's contracts; the proxy's key never leaves it. */
export interface PaymentSigner {
  sign(kind: SettlementKind, contract: string, counter: bigint): Uint8Array;
}

/**
 * Signs with Node's native Ed25519 (same deterministic signatures as @ton/crypto's tweetnacl, about
 * a hundred times faster): the proxy signs two counters per answer on the answering path.
 */
export class ProxyPaymentSigner implements PaymentSigner {
  private readonly privateKey: KeyObject;
  constructor(key: KeyPair) {
    // tweetnacl's 64-byte secret key is seed ‖ public key; PKCS#8 wraps the 32-byte seed.
    this.privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, key.secretKey.subarray(0, 32)]), format: 'der', type: 'pkcs8' });
  }
  sign(kind: SettlementKind, contract: string, counter: bigint): Uint8Array {
    const payload = payloadCell({ tag: kind === 'charge' ? 'charge' : 'payout', target: Address.parse(contract), cumulativeTokens: counter });
    return encodeSignedMessage({ payload, signature: cryptoSign(null, payload.hash(), this.privateKey) });
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
 * What a client or worker runs on a received signed payment before `check()`: the signature is the
 * proxy's, the message is a charge (client) or payout (worker), and it targets the party's own
 * contract. Returns the counter it carries; a forged, mis-targeted or wrong-kind message throws a
 * `bad_signed_payment` error whose message says which.
 */
export function verifySignedPayment(bytes: Uint8Array, expected: { kind: SettlementKind; contract: string; proxyPublicKey: Buffer }): bigint {
  const m = decodeSignedMessage(bytes);
  if (!verifySignedMessage(m, expected.proxyPublicKey)) throw new CocoonError('bad_signed_payment', 'refusing a signed payment: the signature is not the proxy\'s key');
  let p: ReturnType<typeof readPayload>;
  try {
    p = readPayload(m.payload);
  } catch (err) {
    throw new CocoonError('bad_signed_payment', `refusing a signed payment with an unreadable payload: ${errorMessage(err)}`);
  }
  const tag = expected.kind === 'charge' ? SignedTag.charge : SignedTag.payout;
  if (p.tag !== tag) throw new CocoonError('bad_signed_payment', `refusing a signed payment: it is tag ${p.tag}, not a ${expected.kind}`);
  if (!p.target.equals(Address.parse(expected.contract))) throw new CocoonError('bad_signed_payment', `refusing a signed payment for ${p.target.toString()}: this party's contract is ${expected.contract}`);
  return p.cumulativeTokens;
}

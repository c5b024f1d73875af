import { createHash } from 'node:crypto';
import { Address, Cell, contractAddress, loadStateInit } from '@ton/core';
import { sign, signVerify } from '@ton/crypto';
import { WalletContractV4, WalletContractV5R1 } from '@ton/ton';

/**
 * TON Connect `ton_proof`: the wallet signs (address, app domain, time, the app's payload) so the
 * app can trust the address before it shows balances or builds transactions for it. Layout from
 * the TON Connect specification:
 *   message   = "ton-proof-item-v2/" ‖ workchain (int32 BE) ‖ address hash ‖ domain length (uint32 LE)
 *               ‖ domain ‖ timestamp (uint64 LE) ‖ payload
 *   signature = Ed25519(sha256(0xffff ‖ "ton-connect" ‖ sha256(message)))
 */
export interface TonProof {
  timestamp: number;
  domain: { lengthBytes: number; value: string };
  payload: string;
  /** base64 */
  signature: string;
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest();

function signedDigest(address: Address, domain: string, timestamp: number, payload: string): Buffer {
  const wc = Buffer.alloc(4);
  wc.writeInt32BE(address.workChain);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(Buffer.byteLength(domain));
  const ts = Buffer.alloc(8);
  ts.writeBigUInt64LE(BigInt(timestamp));
  const message = Buffer.concat([Buffer.from('ton-proof-item-v2/'), wc, address.hash, len, Buffer.from(domain), ts, Buffer.from(payload)]);
  return sha256(Buffer.concat([Buffer.from([0xff, 0xff]), Buffer.from('ton-connect'), sha256(message)]));
}

export function signTonProof(address: Address, domain: string, payload: string, secretKey: Buffer, timestamp = Math.floor(Date.now() / 1000)): TonProof {
  return {
    timestamp,
    domain: { lengthBytes: Buffer.byteLength(domain), value: domain },
    payload,
    signature: sign(signedDigest(address, domain, timestamp, payload), secretKey).toString('base64'),
  };
}

/** The public key a standard wallet's state init commits to (v4r2 and v5r1), or null. */
export function walletPublicKey(stateInitBase64: string): Buffer | null {
  const init = loadStateInit(Cell.fromBase64(stateInitBase64).beginParse());
  if (!init.code || !init.data) return null;
  const code = init.code.hash();
  const data = init.data.beginParse();
  if (code.equals(WalletContractV4.create({ workchain: 0, publicKey: Buffer.alloc(32) }).init.code.hash())) {
    data.skip(64); // seqno, subwallet id
    return data.loadBuffer(32);
  }
  if (code.equals(WalletContractV5R1.create({ workchain: 0, publicKey: Buffer.alloc(32) }).init.code.hash())) {
    data.skip(1 + 32 + 32); // signature allowed, seqno, wallet id
    return data.loadBuffer(32);
  }
  return null;
}

export interface ProofCheck {
  address: string;
  stateInit: string;
  proof: TonProof;
  /** The payload this app issued for the connection, and its domain. */
  expectedPayload: string;
  expectedDomain: string;
  maxAgeSeconds?: number;
  now?: number;
}

/** Checks a wallet's proof; returns null when it holds, else the reason in words. */
export function verifyTonProof(c: ProofCheck): string | null {
  let address: Address;
  try {
    address = Address.parse(c.address);
  } catch {
    return 'the wallet sent an unparsable address';
  }
  let publicKey: Buffer | null;
  try {
    const init = loadStateInit(Cell.fromBase64(c.stateInit).beginParse());
    if (!contractAddress(address.workChain, init).equals(address)) return 'the wallet\'s state init does not belong to its address';
    publicKey = walletPublicKey(c.stateInit);
  } catch {
    return 'the wallet sent an unparsable state init';
  }
  if (!publicKey) return 'the wallet is not a standard wallet (v4r2 or v5r1) whose key can be checked';
  if (c.proof.domain.value !== c.expectedDomain) return `the proof is for ${c.proof.domain.value}, not ${c.expectedDomain}`;
  if (c.proof.domain.lengthBytes !== Buffer.byteLength(c.proof.domain.value)) return 'the proof\'s domain length is wrong';
  if (c.proof.payload !== c.expectedPayload) return 'the proof answers another connection request (payload mismatch)';
  const now = c.now ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - c.proof.timestamp) > (c.maxAgeSeconds ?? 900)) return 'the proof is too old (or from the future)';
  const ok = signVerify(signedDigest(address, c.proof.domain.value, c.proof.timestamp, c.proof.payload), Buffer.from(c.proof.signature, 'base64'), publicKey);
  return ok ? null : 'the proof\'s signature does not match the wallet\'s key';
}

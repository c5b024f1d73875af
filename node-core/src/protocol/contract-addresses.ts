import { Address, contractAddress } from '@ton/core';
import { clientInitData, proxyInitData, workerInitData } from '../../../contracts/wrappers/protocol.ts';
import { signTokenMessage } from '../../../contracts/wrappers/signing.ts';
import type { ReferenceRootConfig } from './root-config-file.ts';
import { noSettlementProxy, ZERO_ADDRESS, type ProxySettlement } from './settlement.ts';

/**
 * Contract addresses as the reference derives and compares them. Its nodes build the state init
 * from the code the root holds and the contract's init data, and compare whole addresses
 * including the flags: a derived address is non-bounceable, test-only exactly on testnet. A raw
 * `0:…` address reads as bounceable, so it never matches; we announce the user-friendly form.
 */
export function wireAddress(a: Address, isTestnet: boolean): string {
  return a.toString({ bounceable: false, testOnly: isTestnet, urlSafe: true });
}

/**
 * The form in which a proxy announces an address it holds as a string (its settlement's): the
 * non-bounceable user-friendly form, keeping the test-only flag a user-friendly string carries
 * (a raw `0:…` one carries none). The zero address stays raw: it means "no contract" (TON
 * disabled), as the reference sends it; a string that does not parse is left for the peer to refuse.
 */
export function announcedAddress(s: string): string {
  if (s === ZERO_ADDRESS) return s;
  try {
    if (Address.isFriendly(s)) {
      const f = Address.parseFriendly(s);
      return wireAddress(f.address, f.isTestOnly);
    }
    return wireAddress(Address.parseRaw(s), false);
  } catch {
    return s;
  }
}

export interface ProxyIdentityOnRoot {
  root: ReferenceRootConfig;
  rootAddress: Address;
  /** The proxy operator's wallet. */
  ownerAddress: Address;
  /** The key the proxy announces in `proxy.params` (and signs payments with). */
  publicKey: Buffer;
  /** Its 64-byte Ed25519 secret key (seed ‖ public key), for the workers' zero payouts. */
  secretKey: Buffer;
  isTestnet: boolean;
}

/** The proxy contract's address for this owner and key under this root. */
export function proxyContractAddress(p: ProxyIdentityOnRoot): Address {
  const { params, codes } = p.root;
  return contractAddress(0, { code: codes.proxy, data: proxyInitData({ owner: p.ownerAddress, publicKey: p.publicKey, root: p.rootAddress, params, workerCode: codes.worker, clientCode: codes.client }) });
}

export function workerContractAddress(p: ProxyIdentityOnRoot, proxy: Address, workerOwner: Address): Address {
  return contractAddress(0, { code: p.root.codes.worker, data: workerInitData({ owner: workerOwner, proxy, proxyPublicKey: p.publicKey, params: p.root.params }) });
}

export function clientContractAddress(p: ProxyIdentityOnRoot, proxy: Address, clientOwner: Address): Address {
  return contractAddress(0, { code: p.root.codes.client, data: clientInitData({ owner: clientOwner, proxy, proxyPublicKey: p.publicKey, params: p.root.params }) });
}

/**
 * A proxy that runs without TON (no ledger, nothing charged or paid) but announces the contract
 * addresses the root config fixes — what a reference proxy started with `--disable-ton
 * ROOT_CONFIG` does, and what a reference worker or client checks before it works with a proxy.
 * A reference worker also insists on a signed payout in `worker.compareBalanceWithProxyResult`
 * (an empty one reads as "committed to blockchain too low"), so each worker gets a payout
 * signed for 0 tokens to its contract, as the reference proxy signs before anything is owed.
 */
export function rootDerivedProxy(p: ProxyIdentityOnRoot): ProxySettlement {
  const proxy = proxyContractAddress(p);
  const base = noSettlementProxy({ ownerAddress: wireAddress(p.ownerAddress, p.isTestnet), contractAddress: wireAddress(proxy, p.isTestnet), isTest: p.root.params.isTest });
  const cache = new Map<string, string>();
  const derived = (kind: 'worker' | 'client', owner: string): string => {
    const key = `${kind} ${owner}`;
    let a = cache.get(key);
    if (a === undefined) {
      // The owner was parsed at the handshake (isTonAddress); a bad one still fails closed here.
      const ownerAddr = Address.parse(owner);
      a = wireAddress(kind === 'worker' ? workerContractAddress(p, proxy, ownerAddr) : clientContractAddress(p, proxy, ownerAddr), p.isTestnet);
      if (cache.size > 10_000) cache.clear();
      cache.set(key, a);
    }
    return a;
  };
  const payouts = new Map<string, Buffer>();
  const workerPayment = (owner: string) => {
    let signed = payouts.get(owner);
    if (!signed) {
      const body = signTokenMessage({ op: 'extWorkerPayoutRequestSigned', tokens: 0n, target: Address.parse(derived('worker', owner)), secretKey: p.secretKey, sendExcessesTo: p.ownerAddress });
      signed = body.toBoc();
      if (payouts.size > 10_000) payouts.clear();
      payouts.set(owner, signed);
    }
    return { signedPayment: signed, tokensCommittedToDb: 0n, maxTokens: 0n };
  };
  return { ...base, workerContractAddress: (owner) => derived('worker', owner), clientContractAddress: (owner) => derived('client', owner), workerPayment };
}

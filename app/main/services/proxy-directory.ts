import { Address } from '@ton/core';
import { connectRaTls, createRaTlsIdentity, type PeerVerifier, type RaTlsIdentity } from '../../../node-core/src/attestation/index.ts';
import type { Chain } from '../../../node-core/src/chain/chain.ts';
import { readProxyData, readRootData } from '../../../node-core/src/chain/contract-state.ts';
import { CocoonError, errorMessage } from '../../../node-core/src/errors.ts';
import { Connection } from '../../../node-core/src/protocol/connection.ts';
import { CLIENT_ACCEPTS_FROM_PROXY, MAX_PROTO_VERSION, MIN_PROTO_VERSION } from '../../../node-core/src/protocol/messages.ts';
import { ZERO_ADDRESS } from '../../../node-core/src/protocol/settlement.ts';
import type { TlObject } from '../../../node-core/src/protocol/tl-codec.ts';

/**
 * Which proxy contract a developer's client account and a worker's earnings belong to, on
 * testnet and mainnet: the root contract lists the network's proxies (endpoints, by seqno); the
 * app greets each in turn as a client does (RA-TLS under the network's attestation policy, then
 * `client.connectToProxy`), takes the proxy contract address the proxy announces, and trusts it
 * only when the chain agrees: a proxy contract is deployed there, it belongs to this root, is
 * running, and the proxy runs in the root's test mode. The first proxy that passes is chosen;
 * when none does, the error names each one and why. (The key a proxy announces is its TLS key
 * here, not necessarily the contract's signing key, so it is not compared: every signed charge
 * and payout is verified against the key the contract holds.)
 */
export interface ProxyHello {
  proxyContract: string;
  proxyPublicKey: Buffer;
  isTest: boolean;
}

/** Greets one proxy endpoint ("host:port") and returns what it announces. */
export type GreetProxy = (endpoint: string) => Promise<ProxyHello>;

export interface ChosenProxy {
  seqno: number;
  endpoint: string;
  proxyContract: Address;
}

export async function chooseProxyContract(o: { chain: Chain; root: Address; greet: GreetProxy }): Promise<ChosenProxy> {
  const root = await readRootData(o.chain.config, o.root);
  if (root.proxies.length === 0) {
    throw new CocoonError('no_proxies', `the root contract ${o.root.toString()} lists no proxies on this network yet; client accounts and worker earnings need one`);
  }
  const reasons: string[] = [];
  for (const p of root.proxies) {
    const endpoint = p.addressForClients || p.addressForWorkers;
    try {
      const hello = await o.greet(endpoint);
      const address = Address.parse(hello.proxyContract);
      const d = await readProxyData(o.chain, address);
      if (!d) throw new Error(`it announces the proxy contract ${address.toString()}, which is not deployed`);
      if (!d.root.equals(o.root)) throw new Error(`its proxy contract ${address.toString()} belongs to another root (${d.root.toString()})`);
      if (d.state !== 0) throw new Error(`its proxy contract ${address.toString()} is ${d.state === 1 ? 'closing' : 'closed'}`);
      if (hello.isTest !== root.params.isTest) throw new Error(`it runs with is_test=${String(hello.isTest)}, the root with ${String(root.params.isTest)}`);
      return { seqno: p.seqno, endpoint, proxyContract: address };
    } catch (err) {
      reasons.push(`proxy #${p.seqno} at ${endpoint}: ${errorMessage(err)}`);
    }
  }
  throw new CocoonError('no_usable_proxy', `none of the root's proxies could be used: ${reasons.join('; ')}`);
}

/**
 * The real greeting: dial as a client (proof of work, RA-TLS with a plain client certificate, the
 * proxy judged by `verifier`), ask `client.connectToProxy`, hang up before authorizing.
 */
export function clientGreeter(o: { verifier: PeerVerifier; ownerAddress?: string; isTest: boolean; identity?: RaTlsIdentity; timeoutMs?: number }): GreetProxy {
  let identity: Promise<RaTlsIdentity> | null = o.identity ? Promise.resolve(o.identity) : null;
  return async (endpoint) => {
    const m = /^(.+):(\d{1,5})$/.exec(endpoint);
    if (!m) throw new Error(`"${endpoint}" is not HOST:PORT`);
    identity ??= createRaTlsIdentity({ provider: null, role: 'client' });
    const timeoutMs = o.timeoutMs ?? 15_000;
    const { socket } = await connectRaTls({ host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]), identity: await identity, verifier: o.verifier, timeoutMs });
    const conn = new Connection(socket, { role: 'dialer', log: silentLog, accept: CLIENT_ACCEPTS_FROM_PROXY });
    const closed = new Promise<string>((r) => conn.once('close', r));
    socket.resume();
    try {
      const answer = await Promise.race([
        conn.query({
          _: 'client.connectToProxy',
          params: { _: 'client.params', flags: 1 | 2, client_owner_address: o.ownerAddress ?? ZERO_ADDRESS, is_test: o.isTest, min_proto_version: MIN_PROTO_VERSION, max_proto_version: MAX_PROTO_VERSION },
          min_config_version: 0,
        }, timeoutMs),
        closed.then((reason) => Promise.reject(new Error(`the proxy closed the connection: ${reason}`))),
      ]);
      const params = answer.params as TlObject;
      return { proxyContract: params.proxy_sc_address as string, proxyPublicKey: Buffer.from(params.proxy_public_key as Uint8Array), isTest: params.is_test as boolean };
    } finally {
      socket.destroy();
    }
  };
}

const silentLog = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, fatal() {}, child() { return silentLog; } } as never;

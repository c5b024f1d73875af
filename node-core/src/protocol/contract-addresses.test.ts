import { Address, beginCell, Cell } from '@ton/core';
import { keyPairFromSeed } from '@ton/crypto';
import { describe, expect, it } from 'vitest';
import { Client } from '../../../contracts/wrappers/Client.ts';
import { Proxy } from '../../../contracts/wrappers/Proxy.ts';
import { Worker } from '../../../contracts/wrappers/Worker.ts';
import { verifyTokenMessage } from '../../../contracts/wrappers/signing.ts';
import { clientContractAddress, proxyContractAddress, rootDerivedProxy, wireAddress, workerContractAddress } from './contract-addresses.ts';
import { modelNameHash, parseReferenceRootConfig } from './root-config-file.ts';

// Any cells serve as codes: the derivation does not run them. Ours, not the reference's.
const code = (n: number) => beginCell().storeUint(n, 16).storeStringTail(`code ${n}`).endCell();
const hexBoc = (c: Cell) => c.toBoc().toString('hex');
const b64 = (byte: number) => Buffer.alloc(32, byte).toString('base64');
const ROOT = Address.parse(`0:${'5'.repeat(64)}`);
const OWNER = Address.parse(`0:${'a'.repeat(64)}`);
const WORKER_OWNER = Address.parse(`0:${'b'.repeat(64)}`);

/** The pseudo form, as the reference's fake-TON launcher writes it (field names from its TL schema). */
const pseudo = {
  proxy_hashes: [b64(1)], worker_hashes: [b64(2)], model_types: ['Org/Model@v1'],
  registered_proxies: [{ seqno: 1, address: '127.0.0.1:11001 127.0.0.1:11002' }],
  price_per_token: 2, worker_fee_per_token: 1, last_proxy_seqno: 1, version: 3, params_version: 1,
  proxy_sc_code: hexBoc(code(1)), worker_sc_code: hexBoc(code(2)), client_sc_code: hexBoc(code(3)),
  root_owner_address: OWNER.toString(),
};

describe('reference root config file', () => {
  it('reads the pseudo form with the reference defaults for what it does not name', () => {
    const c = parseReferenceRootConfig(pseudo);
    expect(c.version).toBe(3);
    expect(c.params).toMatchObject({ structVersion: 1, uniqueId: 13, isTest: true, pricePerToken: 2n, workerFeePerToken: 1n, proxyDelayBeforeClose: 600, clientDelayBeforeClose: 300, minProxyStake: 1_000_000_000n });
    expect(c.proxyHashes).toEqual(['01'.repeat(32)]);
    expect(c.modelHashes).toEqual([modelNameHash('Org/Model')]);
    expect(c.proxies).toEqual([{ seqno: 1, addressForWorkers: '127.0.0.1:11001', addressForClients: '127.0.0.1:11002' }]);
    expect(c.codes.worker.equals(code(2))).toBe(true);
  });

  it('reads the full form (struct version, multipliers, model hashes)', () => {
    const c = parseReferenceRootConfig({
      ...pseudo, model_types: undefined, model_hashes: [b64(9)], struct_version: 3, unique_id: 77, is_test: 0,
      prompt_tokens_price_multiplier: 10000, cached_tokens_price_multiplier: 1000, completion_tokens_price_multiplier: 20000, reasoning_tokens_price_multiplier: 30000,
      proxy_delay_before_close: 10, client_delay_before_close: 20, min_proxy_stake: 5, min_client_stake: 6,
    });
    expect(c.params).toMatchObject({ structVersion: 3, uniqueId: 77, isTest: false, cachedMultiplier: 1000, reasoningMultiplier: 30000, minClientStake: 6n });
    expect(c.modelHashes).toEqual(['09'.repeat(32)]);
  });

  it('refuses bad input with the field named', () => {
    expect(() => parseReferenceRootConfig([])).toThrow(/JSON object/);
    expect(() => parseReferenceRootConfig({ ...pseudo, version: 'x' })).toThrow(/"version" must be an integer/);
    expect(() => parseReferenceRootConfig({ ...pseudo, proxy_hashes: ['short'] })).toThrow(/"proxy_hashes"/);
    expect(() => parseReferenceRootConfig({ ...pseudo, worker_sc_code: 'zz' })).toThrow(/"worker_sc_code"/);
    expect(() => parseReferenceRootConfig({ ...pseudo, registered_proxies: [{ seqno: 1, address: 'nowhere' }] })).toThrow(/ip:port/);
  });
});

describe('contract addresses derived from the root config', () => {
  const root = parseReferenceRootConfig(pseudo);
  const keys = keyPairFromSeed(Buffer.alloc(32, 7));
  const id = { root, rootAddress: ROOT, ownerAddress: OWNER, publicKey: keys.publicKey, secretKey: keys.secretKey, isTestnet: false };

  it('equal the contract wrappers’ state-init addresses (the codes the root holds, the reference init data)', () => {
    const proxy = proxyContractAddress(id);
    expect(proxy.equals(Proxy.createFromConfig({ owner: OWNER, publicKey: keys.publicKey, root: ROOT, params: root.params, workerCode: root.codes.worker, clientCode: root.codes.client }, root.codes.proxy).address)).toBe(true);
    expect(workerContractAddress(id, proxy, WORKER_OWNER).equals(Worker.createFromConfig({ owner: WORKER_OWNER, proxy, proxyPublicKey: keys.publicKey, params: root.params }, root.codes.worker).address)).toBe(true);
    expect(clientContractAddress(id, proxy, WORKER_OWNER).equals(Client.createFromConfig({ owner: WORKER_OWNER, proxy, proxyPublicKey: keys.publicKey, params: root.params }, root.codes.client).address)).toBe(true);
    // Everything that goes into the init data moves the address.
    expect(proxyContractAddress({ ...id, rootAddress: OWNER }).equals(proxy)).toBe(false);
    expect(proxyContractAddress({ ...id, root: parseReferenceRootConfig({ ...pseudo, params_version: 2 }) }).equals(proxy)).toBe(false);
  });

  it('go on the wire non-bounceable, test-only exactly on testnet (the reference compares the flags too)', () => {
    const a = proxyContractAddress(id);
    expect(Address.parseFriendly(wireAddress(a, false))).toMatchObject({ isBounceable: false, isTestOnly: false });
    expect(Address.parseFriendly(wireAddress(a, true))).toMatchObject({ isBounceable: false, isTestOnly: true });
  });

  it('a TON-disabled proxy announces them and signs each worker a 0-token payout to its contract', () => {
    const s = rootDerivedProxy(id);
    const proxy = proxyContractAddress(id);
    expect(s.contractAddress).toBe(wireAddress(proxy, false));
    expect(s.ownerAddress).toBe(wireAddress(OWNER, false));
    const worker = s.workerContractAddress(WORKER_OWNER.toString());
    expect(Address.parse(worker).equals(workerContractAddress(id, proxy, WORKER_OWNER))).toBe(true);
    const pay = s.workerPayment(WORKER_OWNER.toString());
    expect(pay.signedPayment).not.toBeNull();
    const m = verifyTokenMessage(Cell.fromBoc(pay.signedPayment!)[0]!, { op: 'extWorkerPayoutRequestSigned', target: Address.parse(worker), proxyPublicKey: keys.publicKey });
    expect(m.tokens).toBe(0n);
    expect(s.clientPayment(WORKER_OWNER.toString()).signedPayment).toBeNull();
  });
});

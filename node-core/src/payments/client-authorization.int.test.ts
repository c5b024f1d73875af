/**
 * The long authorization is checked on chain (client-registrations.ts): a client that claims
 * another owner's address is refused, on the wire and before any charge; the genuine owner, who
 * sends the register transaction with its connection's nonce from its wallet, is served. Real
 * contracts on the embedded chain, the local network's proxy and a second, forging client.
 */
import OpenAI from 'openai';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Address, beginCell } from '@ton/core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startLocalNetwork, type LocalNetwork } from '../network/local-network.ts';
import { Chain, type ChainWallet } from '../chain/chain.ts';
import { clientProxyRequestBody, MIN_OP_VALUE, Op } from '../../../contracts/wrappers/protocol.ts';
import { createPeerVerifier, createPolicy, createRaTlsIdentity } from '../attestation/index.ts';
import { startClient } from '../client/client-runner.ts';
import { createLogger } from '../log.ts';
import { newNonce, secretHash } from '../protocol/settlement.ts';
import { readClientData } from '../chain/contract-state.ts';
import { ClientAccount } from './client-account.ts';
import { chainWalletSigner } from './wallet-signer.ts';
import { StoreClientSettlement } from './party-settlement.ts';
import { PAYMENT_FILES } from './payment-files.ts';

const log = createLogger('test');

describe('long authorization verified on chain', () => {
  let dir: string;
  let net: LocalNetwork;
  let chain: Chain;
  let attacker: ChainWallet;
  let victim: Address;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cocoon-auth-'));
    net = await startLocalNetwork({ workers: 1, chainDataDir: join(dir, 'local-chain'), chainAnnounceFile: false, registrationTimeoutMs: 3_000, log });
    chain = new Chain({ network: 'local', endpoint: net.chain!.endpoint, rootAddress: net.chain!.rootAddress });
    const wallets = JSON.parse(readFileSync(join(dir, 'local-chain', 'wallets.json'), 'utf8')) as Array<{ name: string; mnemonic: string[] }>;
    // The attacker holds the "worker" development wallet (funded) and claims the dev client's owner address.
    attacker = await chain.wallet(wallets.find((w) => w.name === 'worker')!.mnemonic);
    victim = Address.parse(net.settlement!.client.ownerAddress);
  }, 240_000);
  afterAll(async () => {
    await net?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the genuine owner, who registered with its nonce', async () => {
    const openai = new OpenAI({ baseURL: net.openaiUrl, apiKey: 'unused', maxRetries: 0 });
    const res = await openai.chat.completions.create({ model: net.models[0]!, messages: [{ role: 'user', content: 'hello' }], max_tokens: 4 });
    expect(res.usage!.completion_tokens).toBeGreaterThan(0);
  }, 60_000);

  it('after a long authorization the client puts its secret hash in its contract; the next connection proves the secret, no register transaction', async () => {
    const s = net.settlement!;
    // The first test's connection authorized long and then set the hash (in the background).
    await expect.poll(() => s.client.secret, { timeout: 20_000 }).not.toBeNull();
    const onChain = (await readClientData(chain, Address.parse(s.contracts.client)))!;
    expect(onChain.secretHash.equals(secretHash(s.client.secret!))).toBe(true);
    // The proxy offers the short authorization on a read of the contract younger than a minute.
    await expect.poll(() => s.proxy.clientSecretHash(s.client.ownerAddress)?.toString('hex') ?? null, { timeout: 5_000 }).toBe(onChain.secretHash.toString('hex'));
    const registered = vi.spyOn(s.client, 'registerWithProxy');
    const short = vi.spyOn(s.proxy, 'clientAuthorizedShort');
    const client = await startClient({
      proxy: net.proxy.endpoint, identity: await createRaTlsIdentity({ provider: null, role: 'client' }),
      verifier: createPeerVerifier(createPolicy({ name: 'any', network: 'local' }), { expectedRole: 'proxy' }),
      knownModels: net.models, pricing: net.pricing, settlement: s.client, log, apiKey: null,
    });
    try {
      await client.waitConnected(20_000);
      expect(short).toHaveBeenCalledTimes(1);
      expect(registered).not.toHaveBeenCalled();
      // Admission accepts the connection's nonce proven by the secret.
      const openai = new OpenAI({ baseURL: client.openaiUrl, apiKey: 'unused', maxRetries: 0 });
      const res = await openai.chat.completions.create({ model: net.models[0]!, messages: [{ role: 'user', content: 'short' }], max_tokens: 4 });
      expect(res.usage!.completion_tokens).toBeGreaterThan(0);
    } finally {
      registered.mockRestore();
      short.mockRestore();
      await client.stop();
    }
    // A client without the secret is offered the short authorization but cannot prove it: it
    // falls back to the long one and, without the owner's wallet, is refused (the next test).
  }, 90_000);

  it('refuses a client that claims the owner address without its wallet, before any query', async () => {
    const s = net.settlement!;
    // A modified client: the victim's owner address and contract, the attacker's wallet. Its register
    // transaction reaches the victim's contract, which refuses it (only the owner may register).
    const forged = StoreClientSettlement.open({
      ownerAddress: victim.toString(), isTest: s.client.isTest, path: join(dir, 'forged', PAYMENT_FILES.client), pricing: net.pricing,
      proxies: [{ proxyContract: s.contracts.proxy, ownContract: s.contracts.client, proxyPublicKey: Buffer.from(readProxyKey(dir), 'hex') }],
      chain, wallet: attacker, log,
    });
    const calls = net.engine!.stats().requests;
    const client = await startClient({
      proxy: net.proxy.endpoint, identity: await createRaTlsIdentity({ provider: null, role: 'client' }),
      verifier: createPeerVerifier(createPolicy({ name: 'any', network: 'local' }), { expectedRole: 'proxy' }),
      knownModels: net.models, pricing: net.pricing, settlement: forged, log, apiKey: null,
    });
    try {
      let state = client.status().proxy;
      for (let i = 0; i < 100 && !state.error; i++) {
        await new Promise((r) => setTimeout(r, 100));
        state = client.status().proxy;
      }
      expect(state.state).not.toBe('connected');
      expect(state.error).toMatch(/no register transaction with this connection's nonce from the client contract/);
      expect(net.engine!.stats().requests).toBe(calls);
    } finally {
      await client.stop();
      await forged.close({ flush: false });
    }
  }, 60_000);

  it('ignores a register notice forged straight to the proxy contract, and one from another owner\'s contract', async () => {
    const proxy = net.settlement!.proxy;
    const proxyContract = Address.parse(net.settlement!.contracts.proxy);
    // 1. The attacker's wallet sends the notice itself, naming the victim as owner.
    const n1 = newNonce();
    const body = clientProxyRequestBody({
      queryId: 1n, owner: victim, state: 0, balance: 10n ** 12n, stake: 10n ** 9n, tokensUsed: 0n, secretHash: Buffer.alloc(32),
      payload: beginCell().storeUint(Op.clientProxyRegister, 32).storeUint(n1, 64).endCell(),
    });
    await attacker.sendAndWait([{ to: proxyContract, value: MIN_OP_VALUE, body }]);
    await expect(proxy.awaitClientRegistration(victim.toString(), n1)).rejects.toThrow(/no register transaction/);
    // 2. The attacker opens its own client contract and registers the nonce there: the nonce is
    // then proven for the attacker's owner, not the victim's.
    const own = await ClientAccount.open({ chain, proxyContract, owner: attacker.address, signer: chainWalletSigner(attacker) });
    await own.stake((await own.state()).minStakeNano);
    const n2 = newNonce();
    const attackerSettlement = StoreClientSettlement.open({
      ownerAddress: attacker.address.toString(), isTest: true, path: join(dir, 'attacker', PAYMENT_FILES.client), pricing: net.pricing,
      proxies: [{ proxyContract: proxyContract.toString(), ownContract: (await own.state()).contract, proxyPublicKey: Buffer.alloc(32) }], chain, wallet: attacker, log,
    });
    try {
      await attackerSettlement.registerWithProxy({ proxyContract: proxyContract.toString(), clientContract: (await own.state()).contract, nonce: n2 });
      await expect(proxy.awaitClientRegistration(victim.toString(), n2)).rejects.toThrow(/came from the client contract of .*not of the claimed owner/);
      // The same registration proves the attacker's own address (the genuine case for that owner).
      await expect(proxy.awaitClientRegistration(attacker.address.toString(), n2)).resolves.toBeUndefined();
    } finally {
      await attackerSettlement.close({ flush: false });
    }
    // 3. Admission: a query on an unproven nonce is refused with 402 before any worker sees it, although the victim's contract can pay.
    const a = await proxy.admit({ clientOwner: victim.toString(), promptTokens: 10, maxTokens: 10, coefficient: 1000, authNonce: n1 });
    expect(a.ok).toBe(false);
    if (!a.ok) expect(a.body.error.code).toBe('client_not_registered');
  }, 90_000);
});

function readProxyKey(dir: string): string {
  return (JSON.parse(readFileSync(join(dir, 'local-chain', 'proxy-contract.json'), 'utf8')) as { publicKey: string }).publicKey;
}

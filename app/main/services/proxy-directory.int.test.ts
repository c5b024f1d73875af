import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Address } from '@ton/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPeerVerifier, createPolicy } from '../../../node-core/src/attestation/index.ts';
import { Chain } from '../../../node-core/src/chain/chain.ts';
import { registerProxy } from '../../../node-core/src/chain/deploy.ts';
import { createLogger } from '../../../node-core/src/log.ts';
import { startLocalNetwork, type LocalNetwork } from '../../../node-core/src/network/local-network.ts';
import { chooseProxyContract, clientGreeter, type GreetProxy } from './proxy-directory.ts';

/**
 * Choosing the proxy contract from the root's proxies list — the path testnet and mainnet take —
 * run against the embedded chain and a real proxy: the local network's proxy is registered in the
 * local root like a public one, the app greets it over RA-TLS as a client and checks what it
 * announces against the chain. The public networks cannot be reached from here; where a test
 * needs a proxy that lies, a greeting double stands in for that remote proxy.
 */
let dir: string;
let net: LocalNetwork;
let chain: Chain;
let root: Address;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'proxy-directory-'));
  process.env.COCOON_LOG_LEVEL = 'warn';
  net = await startLocalNetwork({ log: createLogger('test'), chainDataDir: join(dir, 'chain'), chainAnnounceFile: false, openClientContract: false });
  chain = new Chain({ network: 'local', endpoint: net.chain!.endpoint, rootAddress: net.chain!.rootAddress });
  root = Address.parse(net.chain!.rootAddress);
}, 180_000);

afterAll(async () => {
  await net?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const greeter = () => clientGreeter({ verifier: createPeerVerifier(createPolicy({ name: 'fake', network: 'local' }), { expectedRole: 'proxy' }), isTest: true, timeoutMs: 10_000 });

describe('choosing the proxy contract from the root', () => {
  it('says so when the root lists no proxies', async () => {
    await expect(chooseProxyContract({ chain, root, greet: greeter() })).rejects.toMatchObject({ code: 'no_proxies' });
  });

  it('greets each listed proxy, skips one that is down, and takes the contract the chain confirms', async () => {
    const wallets = JSON.parse(readFileSync(join(dir, 'chain', 'wallets.json'), 'utf8')) as Array<{ name: string; mnemonic: string[] }>;
    const owner = await chain.wallet(wallets.find((w) => w.name === 'owner')!.mnemonic);
    await registerProxy(chain, owner, { root, addressForWorkers: '127.0.0.1:9' }); // nothing listens there
    await registerProxy(chain, owner, { root, addressForWorkers: `127.0.0.1:${net.proxy.workerEndpoint.port}`, addressForClients: `127.0.0.1:${net.proxy.endpoint.port}` });
    const chosen = await chooseProxyContract({ chain, root, greet: greeter() });
    expect(chosen.proxyContract.toString()).toBe(net.settlement!.contracts.proxy);
    expect(chosen.endpoint).toBe(`127.0.0.1:${net.proxy.endpoint.port}`);
  });

  it('refuses a proxy whose announced contract or mode the chain does not confirm, naming each', async () => {
    const real = await greeter()(`127.0.0.1:${net.proxy.endpoint.port}`);
    // Test doubles for a remote proxy that announces a contract the chain does not hold, or the wrong mode.
    const notDeployed: GreetProxy = async () => ({ ...real, proxyContract: new Address(0, Buffer.alloc(32, 9)).toString() });
    await expect(chooseProxyContract({ chain, root, greet: notDeployed })).rejects.toThrow(/proxy #2 at 127\.0\.0\.1:\d+: it announces the proxy contract \S+, which is not deployed/);
    const wrongMode: GreetProxy = async () => ({ ...real, isTest: !real.isTest });
    await expect(chooseProxyContract({ chain, root, greet: wrongMode })).rejects.toThrow(/is_test=/);
  });
});

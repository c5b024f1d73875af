import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Address } from '@ton/core';
import { startLocalChain, type LocalChain } from './local/local-chain.ts';
import { Chain } from './chain.ts';
import { deterministicKeyPair } from '../../../contracts/testing/network.ts';
import { changeRootPrice, readRoot } from './deploy.ts';
import { DEFAULT_ROOT_PARAMS } from '../../../contracts/wrappers/Root.ts';

const run = promisify(execFile);

describe('deploy script against the local chain', () => {
  let dir: string;
  let local: LocalChain;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cocoon-deploy-'));
    local = await startLocalChain({ dataDir: join(dir, 'data'), announceFile: join(dir, 'home', 'local-chain.json') });
  });
  afterAll(async () => {
    await local?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const deploy = async (args: string[], mnemonic: string[]) => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', join(import.meta.dirname, '..', '..', 'scripts', 'deploy-contracts.ts'), ...args], {
      env: { ...process.env, COCOON_HOME: join(dir, 'home'), COCOON_NETWORK: '', COCOON_TON_ENDPOINT: '', COCOON_ROOT_ADDRESS: '', COCOON_DEPLOY_MNEMONIC: mnemonic.join(' ') },
      timeout: 120_000,
    });
    return JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, string>;
  };

  it('deploys a root, a proxy with its stake, and registers the proxy in the root', async () => {
    const owner = local.wallets[0]!.mnemonic;
    const root = await deploy(['root', '--price', '25', '--worker-fee', '20'], owner);
    expect(root.network).toBe('local');
    const chain = new Chain({ network: 'local', endpoint: local.endpoint });
    const { params } = await readRoot(chain, Address.parse(root.root!));
    expect([params.pricePerToken, params.workerFeePerToken]).toEqual([25n, 20n]);
    expect(params.uniqueId).toBe(Number(root.uniqueId));

    const key = deterministicKeyPair('deploy test proxy');
    const proxy = await deploy(['proxy', '--root', root.root!, '--public-key', key.publicKey.toString('hex')], local.wallets[1]!.mnemonic);
    expect(BigInt(proxy.stake!)).toBeGreaterThanOrEqual(params.minProxyStake);

    const reg = await deploy(['register-proxy', '--root', root.root!, '--endpoint', '127.0.0.1:8443,127.0.0.1:8444'], owner);
    expect(reg).toMatchObject({ seqno: 1, addressForWorkers: '127.0.0.1:8443', addressForClients: '127.0.0.1:8444' });
    const { proxies } = await readRoot(chain, Address.parse(root.root!));
    expect(proxies).toEqual([{ seqno: 1, addressForWorkers: '127.0.0.1:8443', addressForClients: '127.0.0.1:8444' }]);
  });

  it('refuses to register from a wallet that does not own the root, with a readable error', async () => {
    await expect(deploy(['register-proxy', '--root', local.rootAddress, '--endpoint', '10.0.0.1:1'], local.wallets[2]!.mnemonic))
      .rejects.toMatchObject({ stderr: expect.stringMatching(/is not the owner of root/) });
  });

  it('updates the root parameters from the owner wallet, and refuses from another', async () => {
    const chain = new Chain({ network: 'local', endpoint: local.endpoint });
    const root = Address.parse(local.rootAddress);
    const owner = await chain.wallet(local.wallets[0]!.mnemonic);
    const before = await readRoot(chain, root);
    const next = { ...before.params, pricePerToken: 22n };
    const after = await changeRootPrice(chain, owner, { root, params: next });
    expect(after.params).toEqual({ ...next, paramsVersion: before.params.paramsVersion + 1 });
    const stranger = await chain.wallet(local.wallets[3]!.mnemonic);
    await expect(changeRootPrice(chain, stranger, { root, params: DEFAULT_ROOT_PARAMS })).rejects.toMatchObject({ code: 'not_root_owner' });
  });
});

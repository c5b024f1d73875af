/**
 * Settlement end to end on the embedded local chain, through TonClient only: a proxy contract
 * deployed from the root's codes, a client contract opened and topped up, charges signed with the
 * proxy key for real token counts and submitted; a worker payout likewise. Amounts equal pricing.ts.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Address, beginCell, toNano } from '@ton/core';
import { keyPairFromSeed } from '@ton/crypto';
import { startLocalChain, type LocalChain } from './local/local-chain.ts';
import { Chain } from './chain.ts';
import { DEPLOY_VALUE, deployProxy } from './deploy.ts';
import { Body } from '../../../contracts/wrappers/protocol.ts';
import { pricingOf } from '../../../contracts/wrappers/Root.ts';
import { chainTokens, weightedTokens } from '../payments/pricing.ts';
import { readProxyData, readRootData } from './contract-state.ts';
import { checkCharge, clientContractFor, signCharge, signPayout, submitCharge, submitPayout, workerContractFor } from './settlement.ts';

describe('settlement on the local chain', () => {
  let dir: string;
  let local: LocalChain;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cocoon-settle-'));
    local = await startLocalChain({ dataDir: dir, announceFile: false });
  });
  afterAll(async () => {
    await local?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('charges a client the signed counter × price and pays the worker its fee per token from it', async () => {
    const chain = new Chain({ network: 'local', endpoint: local.endpoint });
    const [proxyW, clientW, workerW] = await Promise.all([1, 2, 3].map((i) => chain.wallet(local.wallets[i]!.mnemonic)));
    const proxyKey = keyPairFromSeed(Buffer.alloc(32, 7));
    const root = Address.parse(local.rootAddress);
    const { address: proxy } = await deployProxy(chain, proxyW!, { root, publicKey: proxyKey.publicKey });
    const { params } = await readRootData(chain.config, root);
    const pricing = pricingOf(params);

    const client = await clientContractFor(chain, proxy, clientW!.address);
    await clientW!.sendAndWait([
      { to: client.address, value: DEPLOY_VALUE, init: client.init, body: beginCell().endCell() },
      { to: client.address, value: toNano('20.2'), body: Body.clientTopUp(1n, toNano('20'), clientW!.address) },
    ]);
    const totals = { prompt: 1200, cached: 3000, completion: 800, reasoning: 250 };
    const tokens = chainTokens(weightedTokens(totals, pricing.multipliers));
    const signed = signCharge(client.address, tokens, proxyKey, proxyW!.address);
    expect(checkCharge(signed, client.address, proxyKey.publicKey)).toBe(tokens);
    expect(() => checkCharge(signed, client.address, keyPairFromSeed(Buffer.alloc(32, 8)).publicKey)).toThrow(/bad signature/);
    const before = await readProxyData(chain, proxy);
    const after = await submitCharge(chain, proxyW!, signed);
    // The contracts settle the counter: tokens × price from the client, tokens × worker fee into the reserve, the rest earned.
    const charged = tokens * BigInt(pricing.pricePerToken);
    const workerShare = tokens * BigInt(pricing.workerFeePerToken);
    expect(after.tokensUsed).toBe(tokens);
    expect(toNano('20') - after.balance).toBe(charged);
    let p = await readProxyData(chain, proxy);
    for (let i = 0; i < 50 && p!.balance === before!.balance; i++) { await new Promise((r) => setTimeout(r, 100)); p = await readProxyData(chain, proxy); }
    expect(p!.balance - before!.balance).toBe(charged - workerShare);
    expect(p!.workerReserve - before!.workerReserve).toBe(workerShare);

    const worker = await workerContractFor(chain, proxy, workerW!.address);
    await workerW!.sendAndWait([{ to: worker.address, value: DEPLOY_VALUE, init: worker.init, body: beginCell().endCell() }]);
    const paid = await submitPayout(chain, proxyW!, signPayout(worker.address, tokens, proxyKey));
    expect(paid.tokens).toBe(tokens);
    await expect(submitCharge(chain, proxyW!, signed)).rejects.toMatchObject({ code: 'settlement_rejected' });
  });
});

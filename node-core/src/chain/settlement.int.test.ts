/**
 * Settlement end to end on the embedded local chain, through TonClient only: a proxy and a client
 * contract deployed from dev wallets, a charge signed with the proxy key for real token counts,
 * submitted by the proxy's wallet; a worker payout likewise. Amounts equal computeCost.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Address, beginCell, toNano } from '@ton/core';
import { mnemonicToPrivateKey } from '@ton/crypto';
import { startLocalChain, type LocalChain } from './local/local-chain.ts';
import { Chain } from './chain.ts';
import { deployProxy } from '../../../contracts/deploy.ts';
import { Op } from '../../../contracts/wrappers/protocol.ts';
import { pricingOf, Root } from '../../../contracts/wrappers/Root.ts';
import { Proxy } from '../../../contracts/wrappers/Proxy.ts';
import { computeCost } from '../payments/pricing.ts';
import { clientContractFor, signCharge, signPayout, submitCharge, submitPayout, workerContractFor } from './settlement.ts';

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

  it('charges a client and pays a worker exactly computeCost of the signed totals', async () => {
    const chain = new Chain({ network: 'local', endpoint: local.endpoint });
    const [proxyW, clientW, workerW] = await Promise.all([1, 2, 3].map((i) => chain.wallet(local.wallets[i]!.mnemonic)));
    const proxyKey = await mnemonicToPrivateKey(local.wallets[1]!.mnemonic);
    const root = Address.parse(local.rootAddress);
    const { address: proxy } = await deployProxy(chain, proxyW!, { root, publicKey: proxyKey.publicKey });

    const client = await clientContractFor(chain, proxy, clientW!.address);
    await clientW!.sendAndWait([{ to: client.address, value: toNano('16'), init: client.init, body: beginCell().storeUint(Op.clientIncreaseStake, 32).endCell() }]);
    await clientW!.sendAndWait([{ to: client.address, value: toNano('2'), body: beginCell().storeUint(Op.clientTopUp, 32).endCell() }]);
    const start = await chain.open(client).getState();

    const pricing = pricingOf(await chain.open(Root.createFromAddress(root)).getParams());
    const totals = { prompt: 1200, cached: 800, completion: 350, reasoning: 90 };
    const after = await submitCharge(chain, proxyW!, client.address, signCharge(client.address, totals, pricing, proxyKey));
    const cost = computeCost(totals, pricing);
    expect(after.chargedNano).toBe(BigInt(cost.totalNanoTon));
    expect(start.balance - after.balance).toBe(BigInt(cost.totalNanoTon));
    const proxyState = await chain.open(Proxy.createFromAddress(proxy)).getState();
    expect(proxyState.earned).toBe(BigInt(cost.proxyNanoTon));

    // Replaying the same signed charge is refused and surfaces as an error.
    await expect(submitCharge(chain, proxyW!, client.address, signCharge(client.address, totals, pricing, proxyKey)))
      .rejects.toMatchObject({ code: 'settlement_rejected', message: expect.stringMatching(/staleCounter/) });

    const worker = await workerContractFor(chain, proxy, workerW!.address);
    await workerW!.sendAndWait([{ to: worker.address, value: toNano('0.05'), init: worker.init }]);
    const paid = await submitPayout(chain, workerW!, worker.address, signPayout(worker.address, totals, pricing, proxyKey));
    expect(paid.paidTokens).toBe(BigInt(cost.weightedTokens));
    expect((await chain.open(Proxy.createFromAddress(proxy)).getState()).workersPaid).toBe(BigInt(cost.workerNanoTon));
  });
});

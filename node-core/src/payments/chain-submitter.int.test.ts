/**
 * The ledger, the scheduler and today's contracts together on the embedded chain: answers with
 * mixed token kinds and coefficients recorded in a real ledger file, counters signed with the
 * proxy key, `settleNow()` through the proxy's wallet. The chain then holds exactly the ledger's
 * amounts, to the nanoTON.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Address, beginCell, toNano } from '@ton/core';
import { mnemonicToPrivateKey } from '@ton/crypto';
import { startLocalChain, type LocalChain } from '../chain/local/local-chain.ts';
import { Chain } from '../chain/chain.ts';
import { clientContractFor, workerContractFor } from '../chain/settlement.ts';
import { deployProxy } from '../../../contracts/deploy.ts';
import { Op } from '../../../contracts/wrappers/protocol.ts';
import { pricingOf, Root } from '../../../contracts/wrappers/Root.ts';
import { Proxy } from '../../../contracts/wrappers/Proxy.ts';
import { signPayload } from '../../../contracts/wrappers/signing.ts';
import { ProxyLedger } from './proxy-ledger.ts';
import { SettlementScheduler, DEFAULT_SETTLEMENT_POLICY } from './settlement-scheduler.ts';
import { ChainSettlementSubmitter, encodeSignedMessage } from './chain-submitter.ts';

describe('settlement of a proxy ledger on the local chain', () => {
  let dir: string;
  let local: LocalChain;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cocoon-ledger-chain-'));
    local = await startLocalChain({ dataDir: join(dir, 'chain'), announceFile: false });
  });
  afterAll(async () => {
    await local?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('charges the client and pays each worker exactly what the ledger holds', async () => {
    const chain = new Chain({ network: 'local', endpoint: local.endpoint });
    const [proxyW, clientW, workerW] = await Promise.all([1, 2, 3].map((i) => chain.wallet(local.wallets[i]!.mnemonic)));
    const proxyKey = await mnemonicToPrivateKey(local.wallets[1]!.mnemonic);
    const root = Address.parse(local.rootAddress);
    const { address: proxy } = await deployProxy(chain, proxyW!, { root, publicKey: proxyKey.publicKey });
    const pricing = pricingOf(await chain.open(Root.createFromAddress(root)).getParams());

    const client = await clientContractFor(chain, proxy, clientW!.address);
    await clientW!.sendAndWait([{ to: client.address, value: toNano('16'), init: client.init, body: beginCell().storeUint(Op.clientIncreaseStake, 32).endCell() }]);
    await clientW!.sendAndWait([{ to: client.address, value: toNano('2'), body: beginCell().storeUint(Op.clientTopUp, 32).endCell() }]);
    // One worker contract: with one client and one worker the proxy's on-chain earnings equal the ledger's exactly.
    const worker = await workerContractFor(chain, proxy, workerW!.address);
    await workerW!.sendAndWait([{ to: worker.address, value: toNano('0.05'), init: worker.init }]);

    const ledger = ProxyLedger.open(join(dir, 'proxy-ledger.sqlite'), { pricing });
    const C = client.address.toString();
    const W = worker.address.toString();
    const usages = [
      { prompt: 1200, cached: 800, completion: 350, reasoning: 90, coefficient: 1000 },
      { prompt: 17, cached: 3, completion: 5, reasoning: 0, coefficient: 1500 },
      { prompt: 333, cached: 0, completion: 71, reasoning: 12, coefficient: 777 },
    ];
    usages.forEach(({ coefficient, ...tokens }, i) =>
      ledger.recordAnswer({ requestId: `r${i}`, clientContract: C, workerContract: W, tokens, coefficient, outcome: i === 1 ? 'cancelled' : 'completed' }));
    const sign = (party: 'client' | 'worker', contract: Address) => {
      const a = ledger.account(party, contract.toString())!;
      const m = signPayload({ tag: party === 'client' ? 'charge' : 'payout', target: contract, cumulativeTokens: a.counter }, proxyKey.secretKey);
      ledger.recordSigned(party, contract.toString(), a.counter, encodeSignedMessage(m));
    };
    sign('client', client.address);
    sign('worker', worker.address);

    const before = await chain.open(client).getState();
    const scheduler = new SettlementScheduler(ledger, new ChainSettlementSubmitter(chain, proxyW!), DEFAULT_SETTLEMENT_POLICY);
    const results = await scheduler.settleNow();
    expect(results.map((r) => r.outcome.status)).toEqual(['confirmed', 'confirmed']);

    const clientAcc = ledger.account('client', C)!;
    const workerAcc = ledger.account('worker', W)!;
    const after = await chain.open(client).getState();
    expect(after.chargedTokens).toBe(clientAcc.counter);
    expect(before.balance - after.balance).toBe(clientAcc.nano);
    const proxyState = await chain.open(Proxy.createFromAddress(proxy)).getState();
    expect(proxyState.workersPaid).toBe(workerAcc.nano);
    expect(proxyState.earned).toBe(ledger.proxyTotals().earnedNano);
    expect(clientAcc).toMatchObject({ onChainCounter: clientAcc.counter, unsettledNano: 0n });
    expect(workerAcc).toMatchObject({ onChainCounter: workerAcc.counter, unsettledNano: 0n });

    // Submitting an already-settled counter again (another party did it) counts as settled, not as a failure.
    const again = await new ChainSettlementSubmitter(chain, proxyW!).submit({ kind: 'charge', contract: C, counter: clientAcc.counter, signedMessage: clientAcc.signedMessage! });
    expect(again).toEqual({ status: 'confirmed', onChainCounter: clientAcc.counter });
    ledger.close();
  }, 120_000);
});

/**
 * The ledger, the scheduler and the contracts together on the embedded chain: answers with
 * mixed token kinds and coefficients recorded in a real ledger file, counters signed with the
 * proxy key, `settleNow()` through the proxy's wallet. The chain then holds exactly the ledger's
 * amounts, to the nanoTON.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Address } from '@ton/core';
import { startLocalChain, type LocalChain } from '../chain/local/local-chain.ts';
import { readClientData, readProxyData } from '../chain/contract-state.ts';
import { deployLocalContracts, signLedgerCounter } from './testing/local-contracts.ts';
import { ProxyLedger } from './proxy-ledger.ts';
import { SettlementScheduler, DEFAULT_SETTLEMENT_POLICY } from './settlement-scheduler.ts';
import { ChainSettlementSubmitter } from './chain-submitter.ts';

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
    const { chain, proxyWallet: proxyW, proxyKey, proxy, client, worker, pricing } = await deployLocalContracts(local);

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
    const sign = (party: 'client' | 'worker', contract: Address) => signLedgerCounter(ledger, proxyKey, party, contract);
    sign('client', client.address);
    sign('worker', worker.address);

    const proxyBefore = (await readProxyData(chain, proxy))!;
    const before = (await readClientData(chain, client.address))!;
    const scheduler = new SettlementScheduler(ledger, new ChainSettlementSubmitter(chain, proxyW!), DEFAULT_SETTLEMENT_POLICY);
    const results = await scheduler.settleNow();
    expect(results.map((r) => r.outcome.status)).toEqual(['confirmed', 'confirmed']);

    const clientAcc = ledger.account('client', C)!;
    const workerAcc = ledger.account('worker', W)!;
    const after = (await readClientData(chain, client.address))!;
    expect(after.tokensUsed).toBe(clientAcc.counter);
    expect(before.balance - after.balance).toBe(clientAcc.nano);
    expect(clientAcc.nano).toBe(clientAcc.counter * BigInt(pricing.pricePerToken));
    // The proxy contract: the charge split into the owner's earnings and the workers' reserve; the payout drew on the reserve.
    let p = (await readProxyData(chain, proxy))!;
    for (let i = 0; i < 50 && p.balance === proxyBefore.balance; i++) { await new Promise((r) => setTimeout(r, 100)); p = (await readProxyData(chain, proxy))!; }
    const chargedToReserve = clientAcc.counter * BigInt(pricing.workerFeePerToken);
    expect(p.balance - proxyBefore.balance).toBe(clientAcc.nano - chargedToReserve);
    expect(p.workerReserve - proxyBefore.workerReserve).toBe(chargedToReserve - workerAcc.nano);
    expect(workerAcc.nano).toBe(workerAcc.counter * BigInt(pricing.workerFeePerToken));
    // One client and one worker: the ledger's proxy earnings are exactly what the proxy contract earned.
    expect(ledger.proxyTotals().earnedNano).toBe(clientAcc.nano - workerAcc.nano);
    expect(clientAcc).toMatchObject({ onChainCounter: clientAcc.counter, unsettledNano: 0n });
    expect(workerAcc).toMatchObject({ onChainCounter: workerAcc.counter, unsettledNano: 0n });

    // Submitting an already-settled counter again (another party did it) counts as settled, not as a failure.
    const again = await new ChainSettlementSubmitter(chain, proxyW!).submit({ kind: 'charge', contract: C, counter: clientAcc.counter, signedMessage: clientAcc.signedMessage! });
    expect(again).toEqual({ status: 'confirmed', onChainCounter: clientAcc.counter });
    ledger.close();
  }, 120_000);
});

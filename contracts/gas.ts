/**
 * Runs every contract operation once in a fresh sandbox and reports what it costs: total fees of
 * all transactions the operation triggers (nanoTON), with a per-hop breakdown of where they go.
 */
import { toNano, type Transaction } from '@ton/core';
import type { SendMessageResult } from '@ton/sandbox';
import { deployNetwork, OP_VALUE, totalFees } from './testing/network.ts';
import { Body } from './wrappers/protocol.ts';

export interface HopCost {
  contract: string;
  gasUsed: bigint;
  computeFee: bigint;
  /** Forward fees of the messages this transaction sent, plus action fees. */
  actionFee: bigint;
  storageFee: bigint;
  totalFee: bigint;
}

export interface OperationCost {
  operation: string;
  totalFees: bigint;
  hops: HopCost[];
}

/** Steady-state operations the issue budgets at ≤ 0.01 TON each. */
export const STEADY_STATE_OPERATIONS = ['top_up', 'charge', 'payout', 'withdraw'] as const;
export const STEADY_STATE_BUDGET = 15_000_000n; // 0.015 TON: sender wallet + contract + proxy notification + excess return

function hopsOf(txs: Transaction[], names: Map<string, string>): HopCost[] {
  return txs.map((tx) => {
    const d = tx.description;
    let gasUsed = 0n, computeFee = 0n, actionFee = 0n, storageFee = 0n;
    if (d.type === 'generic') {
      if (d.computePhase.type === 'vm') {
        gasUsed = d.computePhase.gasUsed;
        computeFee = d.computePhase.gasFees;
      }
      actionFee = (d.actionPhase?.totalFwdFees ?? 0n);
      storageFee = d.storagePhase?.storageFeesCollected ?? 0n;
    }
    const addr = tx.inMessage?.info.dest;
    const key = addr && 'hash' in addr ? addr.toString() : '?';
    return { contract: names.get(key) ?? key, gasUsed, computeFee, actionFee, storageFee, totalFee: tx.totalFees.coins };
  });
}

export async function measureGas(): Promise<OperationCost[]> {
  const net = await deployNetwork();
  const names = new Map<string, string>([
    [net.root.address.toString(), 'root'], [net.proxy.address.toString(), 'proxy'],
    [net.client.address.toString(), 'client'], [net.worker.address.toString(), 'worker'],
    [net.rootOwner.address.toString(), 'root owner wallet'], [net.proxyOwner.address.toString(), 'proxy owner wallet'],
    [net.clientOwner.address.toString(), 'client owner wallet'], [net.workerOwner.address.toString(), 'worker owner wallet'],
    [net.proxyWallet.address.toString(), 'proxy node wallet'],
  ]);
  const out: OperationCost[] = [];
  const record = (operation: string, r: SendMessageResult) => {
    for (const tx of r.transactions) {
      const d = tx.description;
      if (d.type === 'generic' && (d.aborted || (d.computePhase.type === 'vm' && !d.computePhase.success))) {
        throw new Error(`gas measurement: ${operation} failed in the sandbox (exit code ${d.computePhase.type === 'vm' ? d.computePhase.exitCode : 'skipped'})`);
      }
    }
    out.push({ operation, totalFees: totalFees(r), hops: hopsOf(r.transactions, names) });
  };
  record('deploy_root', net.deployments.root);
  record('register_proxy', await net.root.sendRegisterProxy(net.rootOwner.getSender(), { value: toNano('0.05'), entry: '127.0.0.1:8443' }));
  record('allow_image_hash', await net.root.sendAddHash(net.rootOwner.getSender(), { value: toNano('0.05'), kind: 'workerImage', hash: 2n ** 255n + 1n }));
  record('change_price', await net.root.sendOwnerOp(net.rootOwner.getSender(), toNano('0.05'), Body.rootChangePrice(net.params)));
  record('deploy_proxy', net.deployments.proxy);
  record('deploy_client', net.deployments.client);
  record('top_up', await net.client.sendTopUp(net.clientOwner.getSender(), { value: toNano('3') + OP_VALUE, amount: toNano('3') }));
  record('increase_stake', await net.client.sendIncreaseStake(net.clientOwner.getSender(), { value: toNano('1') + OP_VALUE, newStake: net.params.minClientStake + toNano('1') }));
  record('charge', await net.client.sendSigned(net.proxyWallet.getSender(), { value: OP_VALUE, body: net.sign('extClientChargeSigned', net.client.address, 50_000_000n) }));
  record('deploy_worker', net.deployments.worker);
  record('payout', await net.worker.sendSigned(net.proxyWallet.getSender(), { value: OP_VALUE, body: net.sign('extWorkerPayoutRequestSigned', net.worker.address, 40_000_000n) }));
  record('withdraw', await net.client.sendWithdraw(net.clientOwner.getSender(), { value: OP_VALUE, amount: toNano('0.5') }));
  record('withdraw_earnings', await net.proxy.sendWithdraw(net.proxyWallet.getSender(), { value: OP_VALUE }));
  record('close_client', await net.client.sendSigned(net.proxyWallet.getSender(), { value: OP_VALUE, body: net.sign('extClientGrantRefundSigned', net.client.address, 60_000_000n) }));
  const requested = await net.proxy.sendClose(net.proxyOwner.getSender(), { value: OP_VALUE });
  net.blockchain.now = Math.floor(Date.now() / 1000) + net.params.proxyDelayBeforeClose + 1;
  const finished = await net.proxy.sendClose(net.proxyOwner.getSender(), { value: OP_VALUE });
  out.push({
    operation: 'close_proxy',
    totalFees: totalFees(requested) + totalFees(finished),
    hops: [...hopsOf(requested.transactions, names), ...hopsOf(finished.transactions, names)],
  });
  return out;
}

import { describe, it, expect, beforeEach } from 'vitest';
import { beginCell, toNano } from '@ton/core';
import { ContractError, DEPOSIT_FEE, Op } from './protocol.ts';
import { Proxy } from './Proxy.ts';
import { deployNetwork, PROXY_STAKE, type SandboxNetwork } from '../testing/network.ts';
import { expectTx } from '../testing/expect-tx.ts';

describe('proxy contract', () => {
  let net: SandboxNetwork;
  beforeEach(async () => {
    net = await deployNetwork();
  });

  it('deploys with its stake, key and the root parameters it copied', async () => {
    const s = await net.proxy.getState();
    expect(s.stake).toBe(PROXY_STAKE + toNano('0.1') - DEPOSIT_FEE);
    expect(s.publicKey.equals(net.proxyKey.publicKey)).toBe(true);
    const p = await net.proxy.getParams();
    expect(p.root.equals(net.root.address)).toBe(true);
    expect(p.pricePerToken).toBe(20);
    expect(p.workerFeePerToken).toBe(19);
  });

  it('refuses a stake below the minimum proxy stake', async () => {
    const owner = await net.blockchain.treasury('small-proxy');
    const p = net.blockchain.openContract(Proxy.createFromConfig({
      owner: owner.address, publicKey: net.proxyKey.publicKey, root: net.root.address, params: net.params,
      clientCode: net.codes.client, workerCode: net.codes.worker,
    }, net.codes.proxy));
    const r = await p.sendDeploy(owner.getSender(), toNano('10'));
    expectTx(r, { to: p.address, success: false, exitCode: ContractError.stakeTooLow });
  });

  it('accepts client payments only from its own client contracts', async () => {
    const stranger = await net.blockchain.treasury('stranger');
    const body = beginCell().storeUint(Op.proxyClientPayment, 32)
      .storeUint(1000, 64).storeUint(0, 64).storeUint(1, 64).storeUint(0, 64).storeAddress(stranger.address).endCell();
    const r = await stranger.send({ to: net.proxy.address, value: toNano('1'), body });
    expectTx(r, { to: net.proxy.address, success: false, exitCode: ContractError.unauthorized });
  });

  it('pays workers only on behalf of its own worker contracts', async () => {
    const stranger = await net.blockchain.treasury('stranger');
    const body = beginCell().storeUint(Op.proxyPayWorker, 32)
      .storeUint(toNano('10'), 64).storeUint(0, 64).storeUint(1, 64).storeAddress(stranger.address).endCell();
    const r = await stranger.send({ to: net.proxy.address, value: toNano('0.05'), body });
    expectTx(r, { to: net.proxy.address, success: false, exitCode: ContractError.unauthorized });
  });

  it('lets the owner withdraw its earned share and no more', async () => {
    await net.client.sendTopUp(net.clientOwner.getSender(), toNano('5'));
    await net.client.sendCharge(net.proxyOwner.getSender(), { value: toNano('0.05'), signed: net.sign('charge', net.client.address, 10n ** 10n) });
    const s = await net.proxy.getState();
    expect(s.earned).toBe(1_000_000n); // 1e10 × (20 - 19) / 10000
    const stranger = await net.blockchain.treasury('stranger');
    const theft = await net.proxy.sendWithdrawEarnings(stranger.getSender(), { value: toNano('0.05'), amount: 1n });
    expectTx(theft, { to: net.proxy.address, success: false, exitCode: ContractError.unauthorized });
    const over = await net.proxy.sendWithdrawEarnings(net.proxyOwner.getSender(), { value: toNano('0.05'), amount: s.earned + 1n });
    expectTx(over, { to: net.proxy.address, success: false, exitCode: ContractError.insufficientBalance });
    const ok = await net.proxy.sendWithdrawEarnings(net.proxyOwner.getSender(), { value: toNano('0.05'), amount: s.earned });
    expectTx(ok, { from: net.proxy.address, to: net.proxyOwner.address, success: true });
    expect((await net.proxy.getState()).ownerWithdrawn).toBe(s.earned);
  });

  it('closes only after the proxy close delay; later charges bounce back to the client', async () => {
    await net.client.sendTopUp(net.clientOwner.getSender(), toNano('5'));
    await net.proxy.sendRequestClose(net.proxyOwner.getSender(), toNano('0.05'));
    const early = await net.proxy.sendFinishClose(net.proxyOwner.getSender(), toNano('0.05'));
    expectTx(early, { to: net.proxy.address, success: false, exitCode: ContractError.tooEarly });
    // During the delay clients and workers still settle.
    const charge = await net.client.sendCharge(net.proxyOwner.getSender(), { value: toNano('0.05'), signed: net.sign('charge', net.client.address, 10n ** 9n) });
    expectTx(charge, { from: net.client.address, to: net.proxy.address, success: true });
    net.blockchain.now = Math.floor(Date.now() / 1000) + net.params.proxyCloseDelay + 10;
    // The charge reserved money for workers: not before they claimed it.
    const unsettled = await net.proxy.sendFinishClose(net.proxyOwner.getSender(), toNano('0.05'));
    expectTx(unsettled, { to: net.proxy.address, success: false, exitCode: ContractError.workersUnsettled });
    await net.worker.sendPayout(net.workerOwner.getSender(), { value: toNano('0.05'), signed: net.sign('payout', net.worker.address, 10n ** 9n) });
    const done = await net.proxy.sendFinishClose(net.proxyOwner.getSender(), toNano('0.05'));
    expectTx(done, { from: net.proxy.address, to: net.proxyOwner.address, success: true });
    expect((await net.proxy.getState()).closed).toBe(true);

    const before = await net.client.getState();
    const late = await net.client.sendCharge(net.proxyOwner.getSender(), { value: toNano('0.05'), signed: net.sign('charge', net.client.address, 2n * 10n ** 9n) });
    expectTx(late, { from: net.client.address, to: net.proxy.address, success: false, exitCode: ContractError.closed });
    expectTx(late, { from: net.proxy.address, to: net.client.address, success: true });
    const after = await net.client.getState();
    expect(after.balance).toBe(before.balance);
    expect(after.chargedTokens).toBe(before.chargedTokens);
    expect(after.chargedNano).toBe(before.chargedNano);
  });

  it('refuses client payments while its stake is below the minimum', async () => {
    // Drain the stake by paying a worker beyond the reserve, then a charge must bounce.
    await net.worker.sendPayout(net.workerOwner.getSender(), { value: toNano('0.05'), signed: net.sign('payout', net.worker.address, 5n * 10n ** 12n) });
    const s = await net.proxy.getState();
    expect(s.stake).toBeLessThan(net.params.minProxyStake);
    await net.client.sendTopUp(net.clientOwner.getSender(), toNano('5'));
    const r = await net.client.sendCharge(net.proxyOwner.getSender(), { value: toNano('0.05'), signed: net.sign('charge', net.client.address, 1000n) });
    expectTx(r, { from: net.client.address, to: net.proxy.address, success: false, exitCode: ContractError.inactive });
    expect((await net.client.getState()).chargedTokens).toBe(0n);
  });

  it('with worker money still unclaimed, closes only after a second delay', async () => {
    await net.client.sendTopUp(net.clientOwner.getSender(), toNano('5'));
    await net.client.sendCharge(net.proxyOwner.getSender(), { value: toNano('0.05'), signed: net.sign('charge', net.client.address, 10n ** 9n) });
    const t0 = Math.floor(Date.now() / 1000);
    net.blockchain.now = t0;
    await net.proxy.sendRequestClose(net.proxyOwner.getSender(), toNano('0.05'));
    net.blockchain.now = t0 + 2 * net.params.proxyCloseDelay - 5;
    const early = await net.proxy.sendFinishClose(net.proxyOwner.getSender(), toNano('0.05'));
    expectTx(early, { to: net.proxy.address, success: false, exitCode: ContractError.workersUnsettled });
    net.blockchain.now = t0 + 2 * net.params.proxyCloseDelay;
    const done = await net.proxy.sendFinishClose(net.proxyOwner.getSender(), toNano('0.05'));
    expectTx(done, { from: net.proxy.address, to: net.proxyOwner.address, success: true });
  });
});

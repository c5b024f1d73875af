import { describe, it, expect, beforeEach } from 'vitest';
import { toNano } from '@ton/core';
import { ContractError } from './protocol.ts';
import { deployNetwork, deterministicKeyPair, type SandboxNetwork } from '../testing/network.ts';
import { expectTx } from '../testing/expect-tx.ts';
import { Worker } from './Worker.ts';

describe('worker contract', () => {
  let net: SandboxNetwork;
  beforeEach(async () => {
    net = await deployNetwork();
    // Clients pay the proxy first, so worker payouts come from the reserve, not the stake.
    await net.client.sendTopUp(net.clientOwner.getSender(), toNano('5'));
    await net.client.sendCharge(net.proxyOwner.getSender(), { value: toNano('0.05'), signed: net.sign('charge', net.client.address, 10n ** 9n) });
  });

  it('deploys bound to its proxy, owner and fee; the proxy derives the same address', async () => {
    const s = await net.worker.getState();
    expect(s.paidTokens).toBe(0n);
    expect(s.workerFeePerToken).toBe(19);
    expect(s.proxyPublicKey.equals(net.proxyKey.publicKey)).toBe(true);
    expect((await net.proxy.getWorkerAddress(net.workerOwner.address)).equals(net.worker.address)).toBe(true);
  });

  it('pays the owner Δtokens × worker fee from the proxy contract for a signed payout', async () => {
    const r = await net.worker.sendPayout(net.workerOwner.getSender(), { value: toNano('0.05'), signed: net.sign('payout', net.worker.address, 1_000_000n) });
    expectTx(r, { from: net.worker.address, to: net.proxy.address, success: true });
    expectTx(r, { from: net.proxy.address, to: net.workerOwner.address, success: true });
    expect((await net.worker.getState()).paidTokens).toBe(1_000_000n);
    expect((await net.proxy.getState()).workersPaid).toBe(1900n);
    await net.worker.sendPayout(net.workerOwner.getSender(), { value: toNano('0.05'), signed: net.sign('payout', net.worker.address, 1_500_001n) });
    // floor(1_500_001 × 19 / 10000) = 2850: the second payout adds 950, never a rounding extra.
    expect((await net.proxy.getState()).workersPaid).toBe(2850n);
  });

  it('rejects a replayed or older payout', async () => {
    await net.worker.sendPayout(net.workerOwner.getSender(), { value: toNano('0.05'), signed: net.sign('payout', net.worker.address, 2_000n) });
    const replay = await net.worker.sendPayout(net.workerOwner.getSender(), { value: toNano('0.05'), signed: net.sign('payout', net.worker.address, 2_000n) });
    expectTx(replay, { to: net.worker.address, success: false, exitCode: ContractError.staleCounter });
    const older = await net.worker.sendPayout(net.workerOwner.getSender(), { value: toNano('0.05'), signed: net.sign('payout', net.worker.address, 1_000n) });
    expectTx(older, { to: net.worker.address, success: false, exitCode: ContractError.staleCounter });
  });

  it('rejects a payout with a bad signature or for another worker contract', async () => {
    const bad = await net.worker.sendPayout(net.workerOwner.getSender(), {
      value: toNano('0.05'), signed: net.sign('payout', net.worker.address, 1_000n, deterministicKeyPair('impostor')),
    });
    expectTx(bad, { to: net.worker.address, success: false, exitCode: ContractError.badSignature });
    const wrong = await net.worker.sendPayout(net.workerOwner.getSender(), { value: toNano('0.05'), signed: net.sign('payout', net.client.address, 1_000n) });
    expectTx(wrong, { to: net.worker.address, success: false, exitCode: ContractError.wrongContract });
  });

  it('rejects a payout without enough value to reach the proxy', async () => {
    const r = await net.worker.sendPayout(net.workerOwner.getSender(), { value: toNano('0.01'), signed: net.sign('payout', net.worker.address, 1_000n) });
    expectTx(r, { to: net.worker.address, success: false, exitCode: ContractError.notEnoughValue });
  });

  it('a worker contract with a forged fee is not recognised by the proxy', async () => {
    const forged = net.blockchain.openContract(Worker.createFromConfig({
      proxy: net.proxy.address, owner: net.workerOwner.address, proxyPublicKey: net.proxyKey.publicKey, workerFeePerToken: 20_000,
    }, net.codes.worker));
    await forged.sendDeploy(net.workerOwner.getSender(), toNano('0.05'));
    const r = await forged.sendPayout(net.workerOwner.getSender(), { value: toNano('0.05'), signed: net.sign('payout', forged.address, 1_000_000n) });
    expectTx(r, { from: forged.address, to: net.proxy.address, success: false, exitCode: ContractError.unauthorized });
    // The bounce rolled the counter back: nothing was paid, nothing recorded as paid.
    expect((await forged.getState()).paidTokens).toBe(0n);
    expect((await net.proxy.getState()).workersPaid).toBe(0n);
  });

  it('rolls its counter back when the proxy cannot pay (bounce), so the same message works later', async () => {
    // Payout far beyond reserve + stake: the proxy refuses and the message bounces.
    const huge = net.sign('payout', net.worker.address, 10n ** 17n);
    const r = await net.worker.sendPayout(net.workerOwner.getSender(), { value: toNano('0.05'), signed: huge });
    expectTx(r, { from: net.worker.address, to: net.proxy.address, success: false, exitCode: ContractError.insufficientBalance });
    expectTx(r, { from: net.proxy.address, to: net.worker.address, success: true });
    expect((await net.worker.getState()).paidTokens).toBe(0n);
    const small = await net.worker.sendPayout(net.workerOwner.getSender(), { value: toNano('0.05'), signed: net.sign('payout', net.worker.address, 1_000n) });
    expectTx(small, { from: net.proxy.address, to: net.workerOwner.address, success: true });
  });
});

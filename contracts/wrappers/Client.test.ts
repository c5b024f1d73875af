import { describe, it, expect, beforeEach } from 'vitest';
import { toNano } from '@ton/core';
import { ContractError, DEPOSIT_FEE } from './protocol.ts';
import { deployNetwork, deterministicKeyPair, CLIENT_STAKE, type SandboxNetwork } from '../testing/network.ts';
import { expectTx } from '../testing/expect-tx.ts';
import { Client, clientConfigFor } from './Client.ts';

describe('client contract', () => {
  let net: SandboxNetwork;
  beforeEach(async () => {
    net = await deployNetwork();
  });

  it('deploys with the stake credited and its proxy and owner recorded', async () => {
    const s = await net.client.getState();
    expect(s.stake).toBe(CLIENT_STAKE + toNano('0.1') - DEPOSIT_FEE);
    expect(s.balance).toBe(0n);
    expect(s.proxy.equals(net.proxy.address)).toBe(true);
    expect(s.owner.equals(net.clientOwner.address)).toBe(true);
    expect((await net.proxy.getClientAddress(net.clientOwner.address)).equals(net.client.address)).toBe(true);
  });

  it('refuses a first stake below the minimum client stake', async () => {
    const other = await net.blockchain.treasury('poor-client');
    const c = net.blockchain.openContract(Client.createFromConfig(
      clientConfigFor(net.proxy.address, other.address, net.proxyKey.publicKey, net.params), net.codes.client));
    const r = await c.sendDeploy(other.getSender(), toNano('5'));
    expectTx(r, { to: c.address, success: false, exitCode: ContractError.stakeTooLow });
  });

  it('tops up and withdraws the free balance, never the stake', async () => {
    await net.client.sendTopUp(net.clientOwner.getSender(), toNano('2'));
    expect((await net.client.getState()).balance).toBe(toNano('2') - DEPOSIT_FEE);
    const tooMuch = await net.client.sendWithdraw(net.clientOwner.getSender(), { value: toNano('0.05'), amount: toNano('2') });
    expectTx(tooMuch, { to: net.client.address, success: false, exitCode: ContractError.insufficientBalance });
    const ok = await net.client.sendWithdraw(net.clientOwner.getSender(), { value: toNano('0.05'), amount: toNano('1') });
    expectTx(ok, { from: net.client.address, to: net.clientOwner.address, success: true });
    const s = await net.client.getState();
    expect(s.balance).toBe(toNano('1') - DEPOSIT_FEE);
    expect(s.stake).toBe(CLIENT_STAKE + toNano('0.1') - DEPOSIT_FEE);
  });

  it('rejects owner operations from anyone else', async () => {
    const stranger = await net.blockchain.treasury('stranger');
    await net.client.sendTopUp(net.clientOwner.getSender(), toNano('2'));
    const r = await net.client.sendWithdraw(stranger.getSender(), { value: toNano('0.05'), amount: toNano('1') });
    expectTx(r, { to: net.client.address, success: false, exitCode: ContractError.unauthorized });
    const close = await net.client.sendRequestClose(stranger.getSender(), toNano('0.05'));
    expectTx(close, { to: net.client.address, success: false, exitCode: ContractError.unauthorized });
  });

  it('requires enough attached value to forward a withdrawal', async () => {
    await net.client.sendTopUp(net.clientOwner.getSender(), toNano('2'));
    const r = await net.client.sendWithdraw(net.clientOwner.getSender(), { value: toNano('0.005'), amount: toNano('1') });
    expectTx(r, { to: net.client.address, success: false, exitCode: ContractError.notEnoughValue });
  });

  it('charges a signed cumulative counter and pays the proxy contract', async () => {
    await net.client.sendTopUp(net.clientOwner.getSender(), toNano('2'));
    const r = await net.client.sendCharge(net.proxyOwner.getSender(), {
      value: toNano('0.05'), signed: net.sign('charge', net.client.address, 1_000_000n),
    });
    expectTx(r, { from: net.client.address, to: net.proxy.address, success: true });
    const s = await net.client.getState();
    expect(s.chargedTokens).toBe(1_000_000n);
    expect(s.chargedNano).toBe(2000n); // 1e6 weighted × 20 / 10000
  });

  it('rejects a charge signed by another key', async () => {
    const r = await net.client.sendCharge(net.proxyOwner.getSender(), {
      value: toNano('0.05'), signed: net.sign('charge', net.client.address, 1_000_000n, deterministicKeyPair('impostor')),
    });
    expectTx(r, { to: net.client.address, success: false, exitCode: ContractError.badSignature });
  });

  it('rejects a replayed or older counter', async () => {
    const first = net.sign('charge', net.client.address, 500_000n);
    await net.client.sendCharge(net.proxyOwner.getSender(), { value: toNano('0.05'), signed: net.sign('charge', net.client.address, 900_000n) });
    const replay = await net.client.sendCharge(net.proxyOwner.getSender(), { value: toNano('0.05'), signed: net.sign('charge', net.client.address, 900_000n) });
    expectTx(replay, { to: net.client.address, success: false, exitCode: ContractError.staleCounter });
    const older = await net.client.sendCharge(net.proxyOwner.getSender(), { value: toNano('0.05'), signed: first });
    expectTx(older, { to: net.client.address, success: false, exitCode: ContractError.staleCounter });
    expect((await net.client.getState()).chargedTokens).toBe(900_000n);
  });

  it('rejects a charge signed for another client contract', async () => {
    const r = await net.client.sendCharge(net.proxyOwner.getSender(), {
      value: toNano('0.05'), signed: net.sign('charge', net.proxy.address, 1_000n),
    });
    expectTx(r, { to: net.client.address, success: false, exitCode: ContractError.wrongContract });
  });

  it('rejects a payout signature used as a charge', async () => {
    const r = await net.client.sendCharge(net.proxyOwner.getSender(), {
      value: toNano('0.05'), signed: net.sign('payout', net.client.address, 1_000n),
    });
    expectTx(r, { to: net.client.address, success: false, exitCode: ContractError.badTag });
  });

  it('rejects a charge without enough value for the forwarded payment', async () => {
    const r = await net.client.sendCharge(net.proxyOwner.getSender(), {
      value: toNano('0.01'), signed: net.sign('charge', net.client.address, 1_000n),
    });
    expectTx(r, { to: net.client.address, success: false, exitCode: ContractError.notEnoughValue });
  });

  it('draws on the stake only when the balance runs out, and never beyond what it holds', async () => {
    await net.client.sendTopUp(net.clientOwner.getSender(), toNano('1'));
    const before = await net.client.getState();
    // 1e18 weighted tokens × 20 / 10000 = 2e15 nanoTON, far more than balance + stake.
    await net.client.sendCharge(net.proxyOwner.getSender(), { value: toNano('0.05'), signed: net.sign('charge', net.client.address, 10n ** 18n) });
    const after = await net.client.getState();
    expect(after.balance).toBe(0n);
    expect(after.stake).toBe(0n);
    expect(after.chargedNano).toBe(before.balance + before.stake);
    expect((await net.proxy.getState()).earned + (await net.proxy.getState()).workerReserve).toBe(before.balance + before.stake);
  });

  it('closes cooperatively with a proxy-signed final counter: proxy gets the final charge, owner the rest', async () => {
    await net.client.sendTopUp(net.clientOwner.getSender(), toNano('3'));
    const r = await net.client.sendCooperativeClose(net.clientOwner.getSender(), {
      value: toNano('0.05'), signed: net.sign('closeClient', net.client.address, 10_000_000n),
    });
    expectTx(r, { from: net.client.address, to: net.proxy.address, success: true });
    expectTx(r, { from: net.client.address, to: net.clientOwner.address, success: true });
    const s = await net.client.getState();
    expect(s.closed).toBe(true);
    expect(s.chargedNano).toBe(20_000n);
    const p = await net.proxy.getState();
    expect(p.earned + p.workerReserve).toBe(20_000n);
    const acct = await net.blockchain.getContract(net.client.address);
    expect(acct.balance).toBe(0n);
    const again = await net.client.sendTopUp(net.clientOwner.getSender(), toNano('1'));
    expectTx(again, { to: net.client.address, success: false, exitCode: ContractError.closed });
  });

  it('forces a close only after the client close delay', async () => {
    const req = await net.client.sendRequestClose(net.clientOwner.getSender(), toNano('0.05'));
    expectTx(req, { to: net.client.address, success: true });
    const early = await net.client.sendFinishClose(net.clientOwner.getSender(), toNano('0.05'));
    expectTx(early, { to: net.client.address, success: false, exitCode: ContractError.tooEarly });
    // The proxy can still charge during the delay.
    await net.client.sendCharge(net.proxyOwner.getSender(), { value: toNano('0.05'), signed: net.sign('charge', net.client.address, 1_000n) });
    net.blockchain.now = Math.floor(Date.now() / 1000) + net.params.clientCloseDelay + 10;
    const done = await net.client.sendFinishClose(net.clientOwner.getSender(), toNano('0.05'));
    expectTx(done, { from: net.client.address, to: net.clientOwner.address, success: true });
    expect((await net.client.getState()).closed).toBe(true);
  });

  it('refuses to finish a close that was never requested', async () => {
    const r = await net.client.sendFinishClose(net.clientOwner.getSender(), toNano('0.05'));
    expectTx(r, { to: net.client.address, success: false, exitCode: ContractError.notClosing });
  });

  it('after a cooperative close whose final payment the (closed) proxy bounces, the owner gets that money too', async () => {
    await net.client.sendTopUp(net.clientOwner.getSender(), toNano('3'));
    await net.proxy.sendRequestClose(net.proxyOwner.getSender(), toNano('0.05'));
    net.blockchain.now = Math.floor(Date.now() / 1000) + net.params.proxyCloseDelay + 10;
    await net.proxy.sendFinishClose(net.proxyOwner.getSender(), toNano('0.05'));
    const r = await net.client.sendCooperativeClose(net.clientOwner.getSender(), {
      value: toNano('0.05'), signed: net.sign('closeClient', net.client.address, 10_000_000n),
    });
    expectTx(r, { from: net.client.address, to: net.proxy.address, success: false, exitCode: ContractError.closed });
    expectTx(r, { from: net.proxy.address, to: net.client.address, success: true });
    // Two transfers to the owner: the remainder at close, then the bounced final charge.
    const toOwner = r.transactions.filter((tx) => tx.inMessage?.info.src?.toString() === net.client.address.toString()
      && tx.inMessage.info.dest?.toString() === net.clientOwner.address.toString());
    expect(toOwner.length).toBe(2);
    const s = await net.client.getState();
    expect(s.closed).toBe(true);
    expect(s.chargedNano).toBe(0n);
    expect((await net.blockchain.getContract(net.client.address)).balance).toBe(0n);
  });
});

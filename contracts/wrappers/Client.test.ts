import { describe, expect, it } from 'vitest';
import { Blockchain } from '@ton/sandbox';
import { toNano } from '@ton/core';
import { deployNetwork, OP_VALUE, deterministicKeyPair } from '../testing/network.ts';
import { expectTx } from '../testing/expect-tx.ts';
import { ContractError, ContractState, MAX_CLOSE_DELAY, parseClientProxyRequest, STORAGE_RESERVE } from './protocol.ts';
import { clientContractOf } from './Proxy.ts';
import { valueTo } from '../testing/expect-tx.ts';

// Fresh sandbox per test (deployNetwork creates one).
describe('Client contract', () => {
  it('deploys as the reference derives it: stake = min client stake, balance = what was topped up', async () => {
    const n = await deployNetwork({ clientTopUp: toNano('20') });
    const d = await n.client.getData();
    expect(d.state).toBe(ContractState.running);
    expect(d.balance).toBe(toNano('20'));
    expect(d.stake).toBe(n.params.minClientStake);
    expect(d.tokensUsed).toBe(0n);
    expect(d.owner.equals(n.clientOwner.address)).toBe(true);
  });

  it('credits a top-up only when the attached TON pays for it', async () => {
    const n = await deployNetwork({ clientTopUp: 0n });
    const r = await n.client.sendTopUp(n.clientOwner.getSender(), { value: toNano('0.15'), amount: toNano('20') });
    expectTx(r, { to: n.client.address, success: false, exitCode: ContractError.notEnoughValue });
    expect((await n.client.getData()).balance).toBe(0n);
  });

  it('a charge moves exactly tokens × price to the proxy contract and the excess back to the submitter', async () => {
    const n = await deployNetwork({ clientTopUp: toNano('20') });
    const before = await n.proxy.getData();
    const r = await n.client.sendSigned(n.proxyWallet.getSender(), { value: OP_VALUE, body: n.sign('extClientChargeSigned', n.client.address, 1_000_000n) });
    expectTx(r, { from: n.client.address, to: n.proxy.address, success: true });
    const d = await n.client.getData();
    const cost = 1_000_000n * n.params.pricePerToken;
    // The notification the proxy node parses (ProxyContract::on_transaction), as our contract sent it.
    const note = r.transactions.find((t) => t.inMessage?.info.dest?.toString() === n.proxy.address.toString())!;
    expect(parseClientProxyRequest(note.inMessage!.body)).toMatchObject({ tokensUsed: 1_000_000n, balance: d.balance, stake: d.stake, state: 0, payload: null });
    expect(d.tokensUsed).toBe(1_000_000n);
    expect(d.balance).toBe(toNano('20') - cost);
    const after = await n.proxy.getData();
    expect(after.workerReserve - before.workerReserve).toBe(1_000_000n * n.params.workerFeePerToken);
    expect(after.balance - before.balance).toBe(cost - 1_000_000n * n.params.workerFeePerToken);
  });

  it('refuses replayed, older, forged and other-contract signatures', async () => {
    const n = await deployNetwork({ clientTopUp: toNano('20') });
    const msg = n.sign('extClientChargeSigned', n.client.address, 100n);
    await n.client.sendSigned(n.proxyWallet.getSender(), { value: OP_VALUE, body: msg });
    const replay = await n.client.sendSigned(n.proxyWallet.getSender(), { value: OP_VALUE, body: msg });
    expectTx(replay, { to: n.client.address, success: false, exitCode: ContractError.staleCounter });
    const forged = await n.client.sendSigned(n.proxyWallet.getSender(), { value: OP_VALUE, body: n.sign('extClientChargeSigned', n.client.address, 200n, deterministicKeyPair('other')) });
    expectTx(forged, { to: n.client.address, success: false, exitCode: ContractError.badSignature });
    const other = await n.client.sendSigned(n.proxyWallet.getSender(), { value: OP_VALUE, body: n.sign('extClientChargeSigned', n.worker.address, 200n) });
    expectTx(other, { to: n.client.address, success: false, exitCode: ContractError.wrongContract });
    const payoutAsCharge = await n.client.sendSigned(n.proxyWallet.getSender(), { value: OP_VALUE, body: n.sign('extWorkerPayoutRequestSigned', n.client.address, 200n) });
    expectTx(payoutAsCharge, { to: n.client.address, success: false, exitCode: ContractError.unauthorized });
  });

  it('a signature from another network (other root unique id, same wallets and key) is refused', async () => {
    // Audit: signed messages carried no network id. The target address hashes the root params
    // (unique id, test flag): the same proxy key and wallets on another network sign for another
    // address, and the contract refuses it.
    const blockchain = await Blockchain.create();
    const a = await deployNetwork({ blockchain, clientTopUp: toNano('20'), params: { uniqueId: 1 } });
    const b = await deployNetwork({ blockchain, clientTopUp: toNano('20'), params: { uniqueId: 2 } });
    expect(a.client.address.equals(b.client.address)).toBe(false);
    const r = await b.client.sendSigned(b.proxyWallet.getSender(), { value: OP_VALUE, body: a.sign('extClientChargeSigned', a.client.address, 100n) });
    expectTx(r, { to: b.client.address, success: false, exitCode: ContractError.wrongContract });
    expect((await b.client.getData()).tokensUsed).toBe(0n);
  });

  it('a charge the balance cannot cover moves the counter only by what was paid; the rest stays chargeable', async () => {
    const n = await deployNetwork({ clientTopUp: 1_000n * 20n });
    const r = await n.client.sendSigned(n.proxyWallet.getSender(), { value: OP_VALUE, body: n.sign('extClientChargeSigned', n.client.address, 5_000n) });
    expectTx(r, { to: n.client.address, success: true });
    let d = await n.client.getData();
    expect(d.tokensUsed).toBe(1_000n);
    expect(d.balance).toBe(0n);
    await n.client.sendTopUp(n.clientOwner.getSender(), { value: toNano('1'), amount: 4_000n * 20n });
    await n.client.sendSigned(n.proxyWallet.getSender(), { value: OP_VALUE, body: n.sign('extClientChargeSigned', n.client.address, 5_000n) });
    d = await n.client.getData();
    expect(d.tokensUsed).toBe(5_000n);
    expect(d.balance).toBe(0n);
  });

  it('a charge to a closed proxy never comes back into the withdrawable balance', async () => {
    // Audit: a bounced charge taken from the stake was refunded into the withdrawable balance.
    const n = await deployNetwork({ clientTopUp: toNano('20'), params: { proxyDelayBeforeClose: 0 } });
    await n.proxy.sendClose(n.proxyOwner.getSender(), { value: OP_VALUE });
    await n.proxy.sendClose(n.proxyOwner.getSender(), { value: OP_VALUE });
    expect((await n.proxy.getData()).state).toBe(ContractState.closed);
    const r = await n.client.sendSigned(n.proxyWallet.getSender(), { value: OP_VALUE, body: n.sign('extClientChargeSigned', n.client.address, 1_000_000n) });
    expectTx(r, { from: n.client.address, to: n.proxy.address, success: true });
    const d = await n.client.getData();
    expect(d.balance).toBe(toNano('20') - 1_000_000n * 20n);
    const w = await n.client.sendWithdraw(n.clientOwner.getSender(), { value: OP_VALUE });
    expectTx(w, { to: n.client.address, success: true });
    expect((await n.client.getData()).balance).toBe(d.stake);
  });

  it('withdraw keeps the stake; a partial amount is allowed', async () => {
    const n = await deployNetwork({ clientTopUp: toNano('20') });
    const over = await n.client.sendWithdraw(n.clientOwner.getSender(), { value: OP_VALUE, amount: toNano('6') });
    expectTx(over, { to: n.client.address, success: false, exitCode: ContractError.insufficientBalance });
    await n.client.sendWithdraw(n.clientOwner.getSender(), { value: OP_VALUE, amount: toNano('2') });
    expect((await n.client.getData()).balance).toBe(toNano('18'));
    const r = await n.client.sendWithdraw(n.clientOwner.getSender(), { value: OP_VALUE });
    expect(valueTo(r, n.clientOwner.address)).toBeGreaterThanOrEqual(toNano('3')); // + the excess of the attached value
    expect(valueTo(r, n.clientOwner.address)).toBeLessThan(toNano('3') + OP_VALUE);
    expect((await n.client.getData()).balance).toBe(n.params.minClientStake);
    const stranger = await n.blockchain.treasury('stranger');
    const s = await n.client.sendWithdraw(stranger.getSender(), { value: OP_VALUE });
    expectTx(s, { to: n.client.address, success: false, exitCode: ContractError.unauthorized });
  });

  it('increase stake takes the new stake from the attached value', async () => {
    const n = await deployNetwork({ clientTopUp: toNano('15') });
    await n.client.sendIncreaseStake(n.clientOwner.getSender(), { value: toNano('5') + OP_VALUE, newStake: toNano('20') });
    const d = await n.client.getData();
    expect(d.stake).toBe(toNano('20'));
    expect(d.balance).toBe(toNano('20'));
  });

  it('cooperative close: final charge, the rest to the owner, a storage reserve stays', async () => {
    const n = await deployNetwork({ clientTopUp: toNano('20') });
    const r = await n.client.sendSigned(n.proxyWallet.getSender(), { value: OP_VALUE, body: n.sign('extClientGrantRefundSigned', n.client.address, 1_000n) });
    const d = await n.client.getData();
    expect(d.state).toBe(ContractState.closed);
    expect(d.tokensUsed).toBe(1_000n);
    expect(d.balance).toBe(0n);
    expect(valueTo(r, n.clientOwner.address)).toBe(toNano('20') - 1_000n * 20n);
    // Audit: a closed contract kept 0 TON and froze. Twenty-five years of storage rent later it still
    // answers (and a second close is refused, not frozen).
    expect((await n.blockchain.getContract(n.client.address)).balance).toBeGreaterThanOrEqual(STORAGE_RESERVE);
    n.blockchain.now = Math.floor(Date.now() / 1000) + 25 * 365 * 24 * 3600;
    const later = await n.client.sendRequestRefund(n.clientOwner.getSender(), { value: OP_VALUE });
    expectTx(later, { to: n.client.address, exitCode: ContractError.closed });
    expect((await n.blockchain.getContract(n.client.address)).accountState?.type).toBe('active');
  });

  it('forced close waits the client delay, bounded even if params say 2^32-1', async () => {
    // Audit: unbounded close delays overflowed `now + delay`. Deploy a client with a hostile delay
    // (bypassing the root, which refuses it): the close still works after MAX_CLOSE_DELAY.
    const n = await deployNetwork({ clientTopUp: toNano('20') });
    const hostile = { ...n.params, clientDelayBeforeClose: 0xffff_ffff };
    const c = n.blockchain.openContract(clientContractOf({ owner: n.clientOwner.address, proxy: n.proxy.address, proxyPublicKey: n.proxyKey.publicKey, params: hostile, clientCode: n.codes.client }));
    await c.sendDeploy(n.clientOwner.getSender(), toNano('0.5'));
    await c.sendTopUp(n.clientOwner.getSender(), { value: toNano('20') + OP_VALUE, amount: toNano('20') });
    const now = Math.floor(Date.now() / 1000);
    n.blockchain.now = now;
    const r1 = await c.sendRequestRefund(n.clientOwner.getSender(), { value: OP_VALUE });
    expectTx(r1, { to: c.address, success: true });
    const d = await c.getData();
    expect(d.state).toBe(ContractState.closing);
    expect(d.unlockTs).toBe(now + MAX_CLOSE_DELAY);
    const early = await c.sendRequestRefund(n.clientOwner.getSender(), { value: OP_VALUE });
    expectTx(early, { to: c.address, success: false, exitCode: ContractError.tooEarly });
    n.blockchain.now = now + MAX_CLOSE_DELAY;
    const r2 = await c.sendRequestRefund(n.clientOwner.getSender(), { value: OP_VALUE });
    expectTx(r2, { from: c.address, to: n.clientOwner.address, success: true });
    expect((await c.getData()).state).toBe(ContractState.closed);
  });
});

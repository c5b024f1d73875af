import { describe, expect, it } from 'vitest';
import { toNano } from '@ton/core';
import { deployNetwork, OP_VALUE, type SandboxNetwork } from '../testing/network.ts';
import { expectTx, valueTo } from '../testing/expect-tx.ts';
import { ContractError, ContractState } from './protocol.ts';

async function charge(n: SandboxNetwork, tokens: bigint) {
  const r = await n.client.sendSigned(n.proxyWallet.getSender(), { value: OP_VALUE, body: n.sign('extClientChargeSigned', n.client.address, tokens) });
  expectTx(r, { from: n.client.address, to: n.proxy.address, success: true });
}

describe('Worker contract', () => {
  it('a signed payout pays tokens × worker fee from the reserve to the owner', async () => {
    const n = await deployNetwork({ clientTopUp: toNano('20') });
    await charge(n, 1_000_000n);
    const r = await n.worker.sendSigned(n.proxyWallet.getSender(), { value: OP_VALUE, body: n.sign('extWorkerPayoutRequestSigned', n.worker.address, 600_000n) });
    expectTx(r, { from: n.worker.address, to: n.workerOwner.address, success: true });
    const paid = 600_000n * n.params.workerFeePerToken;
    expect(valueTo(r, n.workerOwner.address)).toBeGreaterThan(paid); // plus the unspent forwarding value
    expect(valueTo(r, n.workerOwner.address)).toBeLessThan(paid + OP_VALUE);
    const d = await n.worker.getData();
    expect(d.tokens).toBe(600_000n);
    expect(d.pendingTokens).toBe(0n);
    expect((await n.proxy.getData()).workerReserve).toBe(400_000n * n.params.workerFeePerToken);
  });

  it('a refused payout leaves the counter; a later payout pays both amounts (no amount lost)', async () => {
    // Audit: a bounced payout followed by a successful one made the first amount unpayable.
    const n = await deployNetwork({ clientTopUp: toNano('20') });
    const first = await n.worker.sendSigned(n.proxyWallet.getSender(), { value: OP_VALUE, body: n.sign('extWorkerPayoutRequestSigned', n.worker.address, 1_000n) });
    expectTx(first, { from: n.worker.address, to: n.proxy.address, success: false, exitCode: ContractError.insufficientBalance });
    expect(await n.worker.getData()).toMatchObject({ tokens: 0n, pendingTokens: 0n });
    // two refusals in a row: still nothing counted
    await n.worker.sendSigned(n.proxyWallet.getSender(), { value: OP_VALUE, body: n.sign('extWorkerPayoutRequestSigned', n.worker.address, 2_000n) });
    expect(await n.worker.getData()).toMatchObject({ tokens: 0n, pendingTokens: 0n });
    await charge(n, 5_000n);
    const later = await n.worker.sendSigned(n.proxyWallet.getSender(), { value: OP_VALUE, body: n.sign('extWorkerPayoutRequestSigned', n.worker.address, 3_000n) });
    expectTx(later, { from: n.worker.address, to: n.workerOwner.address, success: true });
    expect((await n.worker.getData()).tokens).toBe(3_000n);
    expect((await n.proxy.getData()).workerReserve).toBe(2_000n * n.params.workerFeePerToken);
  });

  it('refuses a stale counter and signatures for another contract', async () => {
    const n = await deployNetwork({ clientTopUp: toNano('20') });
    await charge(n, 5_000n);
    await n.worker.sendSigned(n.proxyWallet.getSender(), { value: OP_VALUE, body: n.sign('extWorkerPayoutRequestSigned', n.worker.address, 1_000n) });
    const stale = await n.worker.sendSigned(n.proxyWallet.getSender(), { value: OP_VALUE, body: n.sign('extWorkerPayoutRequestSigned', n.worker.address, 1_000n) });
    expectTx(stale, { to: n.worker.address, success: false, exitCode: ContractError.staleCounter });
    const wrong = await n.worker.sendSigned(n.proxyWallet.getSender(), { value: OP_VALUE, body: n.sign('extWorkerPayoutRequestSigned', n.client.address, 2_000n) });
    expectTx(wrong, { to: n.worker.address, success: false, exitCode: ContractError.wrongContract });
  });

  it('only the proxy contract can deliver a payout, and only the one in flight', async () => {
    const n = await deployNetwork();
    const stranger = await n.blockchain.treasury('stranger');
    const r = await stranger.send({ to: n.worker.address, value: toNano('1'), body: (await import('@ton/core')).beginCell().storeUint(0xc59a7cd3, 32).storeUint(5, 64).endCell() });
    expectTx(r, { to: n.worker.address, success: false, exitCode: ContractError.unauthorized });
  });

  it('last payout closes the worker contract', async () => {
    const n = await deployNetwork({ clientTopUp: toNano('20') });
    await charge(n, 5_000n);
    await n.worker.sendSigned(n.proxyWallet.getSender(), { value: OP_VALUE, body: n.sign('extWorkerLastPayoutRequestSigned', n.worker.address, 4_000n) });
    expect(await n.worker.getData()).toMatchObject({ tokens: 4_000n, state: ContractState.closed });
  });
});

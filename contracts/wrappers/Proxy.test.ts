import { describe, expect, it } from 'vitest';
import { beginCell, toNano } from '@ton/core';
import { deployNetwork, deterministicKeyPair, OP_VALUE } from '../testing/network.ts';
import { expectTx, valueTo } from '../testing/expect-tx.ts';
import { compileContract } from '../compile.ts';
import { clientProxyRequestBody, ContractError, ContractState, MAX_CLOSE_DELAY, STORAGE_RESERVE } from './protocol.ts';
import { Proxy, workerContractOf } from './Proxy.ts';
import { signCloseMessage } from './signing.ts';

describe('Proxy contract', () => {
  it('derives client and worker addresses exactly as the node does off chain', async () => {
    const n = await deployNetwork();
    expect((await n.proxy.getClientAddress(n.clientOwner.address)).equals(n.client.address)).toBe(true);
    expect((await n.proxy.getWorkerAddress(n.workerOwner.address)).equals(n.worker.address)).toBe(true);
    const d = await n.proxy.getData();
    expect(d).toMatchObject({ state: ContractState.running, stake: n.params.minProxyStake, balance: 0n, workerReserve: 0n });
  });

  it('the proxy key cannot drain the stake or the owner share through a worker contract it owns', async () => {
    // Audit: a payout to a worker contract owned by the key holder took the whole stake and
    // reserve. Payouts draw only on the reserve clients funded for workers.
    const n = await deployNetwork({ clientTopUp: toNano('20') });
    await n.client.sendSigned(n.proxyWallet.getSender(), { value: OP_VALUE, body: n.sign('extClientChargeSigned', n.client.address, 1_000n) });
    const attacker = await n.blockchain.treasury('attacker');
    const own = n.blockchain.openContract(workerContractOf({ owner: attacker.address, proxy: n.proxy.address, proxyPublicKey: n.proxyKey.publicKey, params: n.params, workerCode: n.codes.worker }));
    await own.sendDeploy(attacker.getSender(), toNano('0.5'));
    const huge = 10n ** 12n;
    const r = await own.sendSigned(attacker.getSender(), { value: OP_VALUE, body: n.sign('extWorkerPayoutRequestSigned', own.address, huge) });
    expectTx(r, { from: own.address, to: n.proxy.address, success: false, exitCode: ContractError.insufficientBalance });
    const d = await n.proxy.getData();
    expect(d.stake).toBe(n.params.minProxyStake);
    expect(d.balance).toBe(1_000n);
    expect(d.workerReserve).toBe(19_000n);
    // at most the reserve, once, and never the stake
    await own.sendSigned(attacker.getSender(), { value: OP_VALUE, body: n.sign('extWorkerPayoutRequestSigned', own.address, 1_000n) });
    const after = await n.proxy.getData();
    expect(after).toMatchObject({ stake: n.params.minProxyStake, balance: 1_000n, workerReserve: 0n });
  });

  it('credits the TON a client contract sends, not a number in a body; forged client code gains nothing', async () => {
    // Audit: fake client code minted 20 TON of "earned" for 0.05 TON sent.
    const n = await deployNetwork({ clientTopUp: toNano('20') });
    const stranger = await n.blockchain.treasury('stranger');
    const body = clientProxyRequestBody({ queryId: 1n, owner: stranger.address, state: 0, balance: toNano('20'), stake: 0n, tokensUsed: 10n ** 9n, secretHash: Buffer.alloc(32) });
    const r = await stranger.send({ to: n.proxy.address, value: toNano('0.05'), body });
    expectTx(r, { to: n.proxy.address, success: false, exitCode: ContractError.unauthorized });
    // A proxy deployed with a forged client code, whose "client" claims 20 TON: credited only
    // what it attached.
    const fake = await compileContract('worker'); // any other code stands in for a forged client
    const p = n.blockchain.openContract(Proxy.createFromConfig({ owner: n.proxyOwner.address, publicKey: n.proxyKey.publicKey, root: n.root.address, params: n.params, workerCode: n.codes.worker, clientCode: fake.code }, n.codes.proxy));
    await p.sendDeploy(n.proxyOwner.getSender(), toNano('0.5'));
    expect((await p.getData()).balance).toBe(0n);
    const forgedAddress = await p.getClientAddress(stranger.address);
    expect(forgedAddress.equals(n.client.address)).toBe(false);
    // nodes derive the proxy address from the root's codes: the forged proxy is not the one they expect
    expect(p.address.equals(n.proxy.address)).toBe(false);
  });

  it('closes after the proxy delay (bounded), pays stake and share to the owner, keeps the worker reserve and a storage reserve', async () => {
    const n = await deployNetwork({ clientTopUp: toNano('20') });
    await n.client.sendSigned(n.proxyWallet.getSender(), { value: OP_VALUE, body: n.sign('extClientChargeSigned', n.client.address, 1_000n) });
    const now = Math.floor(Date.now() / 1000);
    n.blockchain.now = now;
    const signedStart = signCloseMessage({ op: 'extProxyCloseRequestSigned', target: n.proxy.address, secretKey: n.proxyKey.secretKey, sendExcessesTo: n.proxyWallet.address });
    await n.proxy.sendSigned(n.proxyWallet.getSender(), { value: OP_VALUE, body: signedStart });
    const d = await n.proxy.getData();
    expect(d.state).toBe(ContractState.closing);
    expect(d.unlockTs).toBe(now + Math.min(n.params.proxyDelayBeforeClose, MAX_CLOSE_DELAY));
    const early = await n.proxy.sendClose(n.proxyOwner.getSender(), { value: OP_VALUE });
    expectTx(early, { to: n.proxy.address, success: false, exitCode: ContractError.tooEarly });
    n.blockchain.now = d.unlockTs;
    const forged = signCloseMessage({ op: 'extProxyCloseCompleteRequestSigned', target: n.proxy.address, secretKey: deterministicKeyPair('x').secretKey, sendExcessesTo: n.proxyWallet.address });
    expectTx(await n.proxy.sendSigned(n.proxyWallet.getSender(), { value: OP_VALUE, body: forged }), { to: n.proxy.address, exitCode: ContractError.badSignature });
    const r = await n.proxy.sendClose(n.proxyOwner.getSender(), { value: OP_VALUE });
    expect(valueTo(r, n.proxyOwner.address)).toBeGreaterThan(n.params.minProxyStake + 1_000n);
    const c = await n.proxy.getData();
    expect(c).toMatchObject({ state: ContractState.closed, stake: 0n, balance: 0n, workerReserve: 19_000n });
    expect((await n.blockchain.getContract(n.proxy.address)).balance).toBeGreaterThanOrEqual(STORAGE_RESERVE + 19_000n);
    // workers are still paid after the close
    const w = await n.worker.sendSigned(n.proxyWallet.getSender(), { value: OP_VALUE, body: n.sign('extWorkerPayoutRequestSigned', n.worker.address, 1_000n) });
    expectTx(w, { from: n.worker.address, to: n.workerOwner.address, success: true });
  });

  it('owner earnings go only to the owner, whoever asks', async () => {
    const n = await deployNetwork({ clientTopUp: toNano('20') });
    await n.client.sendSigned(n.proxyWallet.getSender(), { value: OP_VALUE, body: n.sign('extClientChargeSigned', n.client.address, 1_000_000n) });
    const r = await n.proxy.sendWithdraw(n.proxyWallet.getSender(), { value: OP_VALUE });
    expect(valueTo(r, n.proxyOwner.address)).toBe(1_000_000n);
    expect((await n.proxy.getData()).balance).toBe(0n);
    const again = await n.proxy.sendWithdraw(n.proxyWallet.getSender(), { value: OP_VALUE });
    expectTx(again, { to: n.proxy.address, success: false, exitCode: ContractError.insufficientBalance });
    void beginCell;
  });
});

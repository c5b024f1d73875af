/**
 * The proxy's state commit (the reference's `do_not_process` + `proxy_save_state`) in the real
 * TVM: it lands as a transaction on the proxy contract, moves nothing there, and only the proxy's
 * own wallet's commits count (`savedStateOf`, what nodes read from the transactions).
 */
import { describe, expect, it } from 'vitest';
import { beginCell, SendMode, toNano, type Transaction } from '@ton/core';
import { deployNetwork } from '../../../contracts/testing/network.ts';
import { Op, proxySaveStateBody } from '../../../contracts/wrappers/protocol.ts';
import { savedStateOf, SAVE_STATE_VALUE } from './proxy-save-state.ts';

const hash = Buffer.alloc(32, 0xab);

/** The proxy contract's data cell hash: any change to any field changes it. */
async function dataHash(n: Awaited<ReturnType<typeof deployNetwork>>): Promise<string> {
  const st = (await n.blockchain.getContract(n.proxy.address)).accountState;
  if (st?.type !== 'active') throw new Error('proxy contract not active');
  return st.state.data!.hash().toString('hex');
}

describe('proxy_save_state on the proxy contract', () => {
  it('sent the reference way (1 nanoTON, bounceable, fees separate) it lands on the proxy contract and changes nothing there', async () => {
    const n = await deployNetwork();
    const before = await dataHash(n);
    const r = await n.proxyWallet.send({ to: n.proxy.address, value: SAVE_STATE_VALUE, bounce: true, sendMode: SendMode.PAY_GAS_SEPARATELY, body: proxySaveStateBody(7n, 5, hash) });
    const tx = r.transactions.find((t) => t.inMessage?.info.dest?.toString() === n.proxy.address.toString()) as Transaction | undefined;
    expect(tx).toBeDefined();
    // No bounce: nothing comes back to the wallet (1 nanoTON cannot pay for one).
    expect(r.transactions.filter((t) => t.inMessage?.info.src?.toString() === n.proxy.address.toString())).toHaveLength(0);
    expect(await dataHash(n)).toBe(before);
    const s = savedStateOf(tx!, [n.proxyWallet.address]);
    expect(s).toMatchObject({ seqno: 5, lt: tx!.lt });
    expect(s!.uniqueHash.equals(hash)).toBe(true);
  });

  it('with more TON attached the contract still moves no balance, stake or reserve', async () => {
    const n = await deployNetwork({ clientTopUp: toNano('20') });
    const before = await dataHash(n);
    const r = await n.proxyWallet.send({ to: n.proxy.address, value: toNano('0.1'), body: proxySaveStateBody(8n, 6, hash) });
    const tx = r.transactions.find((t) => t.inMessage?.info.dest?.toString() === n.proxy.address.toString())!;
    expect(tx.description.type === 'generic' && tx.description.computePhase.type === 'vm' && tx.description.computePhase.success).toBe(true);
    expect(await dataHash(n)).toBe(before);
  });

  it('nodes ignore a commit from any other sender, with another inner op, or with extra bits', async () => {
    const n = await deployNetwork();
    const stranger = await n.blockchain.treasury('stranger');
    const find = (r: { transactions: Transaction[] }) => r.transactions.find((t) => t.inMessage?.info.dest?.toString() === n.proxy.address.toString())!;
    const forged = find(await stranger.send({ to: n.proxy.address, value: SAVE_STATE_VALUE, body: proxySaveStateBody(1n, 99, hash) }));
    expect(savedStateOf(forged, [n.proxyWallet.address])).toBeNull();
    expect(savedStateOf(forged, [stranger.address])).not.toBeNull(); // the layout itself is right: only the sender is wrong

    const otherOp = beginCell().storeUint(Op.doNotProcess, 32).storeUint(1, 64).storeUint(Op.proxySaveState + 1, 32).storeInt(9, 32).storeBuffer(hash).endCell();
    expect(savedStateOf(find(await n.proxyWallet.send({ to: n.proxy.address, value: SAVE_STATE_VALUE, body: otherOp })), [n.proxyWallet.address])).toBeNull();

    const extra = beginCell().storeSlice(proxySaveStateBody(1n, 9, hash).beginParse()).storeUint(1, 1).endCell();
    expect(savedStateOf(find(await n.proxyWallet.send({ to: n.proxy.address, value: SAVE_STATE_VALUE, body: extra })), [n.proxyWallet.address])).toBeNull();
  });
});

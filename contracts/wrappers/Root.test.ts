import { describe, it, expect, beforeEach } from 'vitest';
import { toNano } from '@ton/core';
import { ContractError } from './protocol.ts';
import { DEFAULT_ROOT_PARAMS, Root } from './Root.ts';
import { deployNetwork, type SandboxNetwork } from '../testing/network.ts';
import { expectTx } from '../testing/expect-tx.ts';
import { DEFAULT_PRICING } from '../../node-core/src/payments/pricing.ts';

describe('root contract', () => {
  let net: SandboxNetwork;
  beforeEach(async () => {
    net = await deployNetwork();
  });

  it('deploys with the network defaults: price 20, worker fee 19, 15 TON stakes, pricing.ts multipliers', async () => {
    const p = await net.root.getParams();
    expect(p).toEqual(DEFAULT_ROOT_PARAMS);
    expect(p.pricePerToken).toBe(20);
    expect(p.workerFeePerToken).toBe(19);
    expect(p.minProxyStake).toBe(toNano('15'));
    expect(p.minClientStake).toBe(toNano('15'));
    expect(p.multipliers).toEqual(DEFAULT_PRICING.multipliers);
    expect(await net.root.getVersion()).toBe(0);
    expect((await net.root.getOwner()).equals(net.rootOwner.address)).toBe(true);
  });

  it('registers and removes proxies, bumping the version each time', async () => {
    const owner = net.rootOwner.getSender();
    await net.root.sendAddProxy(owner, { value: toNano('0.05'), entry: { contractAddress: net.proxy.address, endpoint: 'proxy-a.example:8443' } });
    await net.root.sendAddProxy(owner, { value: toNano('0.05'), entry: { contractAddress: net.client.address, endpoint: '127.0.0.1:9443' } });
    let list = await net.root.getProxies();
    expect(list.nextSeqno).toBe(2);
    expect(list.proxies.map((p) => [p.seqno, p.endpoint])).toEqual([[0, 'proxy-a.example:8443'], [1, '127.0.0.1:9443']]);
    expect(list.proxies[0]!.contractAddress.equals(net.proxy.address)).toBe(true);
    await net.root.sendRemoveProxy(owner, { value: toNano('0.05'), seqno: 0 });
    list = await net.root.getProxies();
    expect(list.proxies.map((p) => p.seqno)).toEqual([1]);
    expect(await net.root.getVersion()).toBe(3);
    const missing = await net.root.sendRemoveProxy(owner, { value: toNano('0.05'), seqno: 7 });
    expectTx(missing, { to: net.root.address, success: false, exitCode: ContractError.unknownProxy });
  });

  it('keeps separate allowlists of proxy images, worker images and models', async () => {
    const owner = net.rootOwner.getSender();
    await net.root.sendAddHash(owner, { value: toNano('0.05'), kind: 'proxyImage', hash: 0xaan });
    await net.root.sendAddHash(owner, { value: toNano('0.05'), kind: 'workerImage', hash: 0xbbn });
    await net.root.sendAddHash(owner, { value: toNano('0.05'), kind: 'model', hash: 0xccn });
    expect(await net.root.getIsHashAllowed('proxyImage', 0xaan)).toBe(true);
    expect(await net.root.getIsHashAllowed('workerImage', 0xaan)).toBe(false);
    expect(await net.root.getAllowedHashes()).toEqual({ proxyImages: [0xaan], workerImages: [0xbbn], models: [0xccn] });
    await net.root.sendRemoveHash(owner, { value: toNano('0.05'), kind: 'proxyImage', hash: 0xaan });
    expect(await net.root.getIsHashAllowed('proxyImage', 0xaan)).toBe(false);
    expect(await net.root.getVersion()).toBe(4);
  });

  it('updates parameters and rejects inconsistent ones', async () => {
    const owner = net.rootOwner.getSender();
    const next = { ...DEFAULT_ROOT_PARAMS, pricePerToken: 30, workerFeePerToken: 27, clientCloseDelay: 60 };
    await net.root.sendSetParams(owner, { value: toNano('0.05'), params: next });
    expect(await net.root.getParams()).toEqual(next);
    const bad = await net.root.sendSetParams(owner, {
      value: toNano('0.05'), params: { ...next, workerFeePerToken: 31 }, skipValidation: true,
    });
    expectTx(bad, { to: net.root.address, success: false, exitCode: ContractError.badParams });
    expect(() => Root.createFromConfig({ owner: net.rootOwner.address, params: { ...next, workerFeePerToken: 31 } }, net.codes.root))
      .toThrow(/workerFeePerToken cannot exceed/);
  });

  it('accepts updates only from its owner, and hands ownership over', async () => {
    const stranger = await net.blockchain.treasury('stranger');
    const r = await net.root.sendAddHash(stranger.getSender(), { value: toNano('0.05'), kind: 'model', hash: 1n });
    expectTx(r, { to: net.root.address, success: false, exitCode: ContractError.unauthorized });
    await net.root.sendChangeOwner(net.rootOwner.getSender(), { value: toNano('0.05'), newOwner: stranger.address });
    expect((await net.root.getOwner()).equals(stranger.address)).toBe(true);
    const old = await net.root.sendAddHash(net.rootOwner.getSender(), { value: toNano('0.05'), kind: 'model', hash: 1n });
    expectTx(old, { to: net.root.address, success: false, exitCode: ContractError.unauthorized });
    const now = await net.root.sendAddHash(stranger.getSender(), { value: toNano('0.05'), kind: 'model', hash: 1n });
    expectTx(now, { to: net.root.address, success: true });
  });

  it('rejects unknown operations', async () => {
    const { beginCell } = await import('@ton/core');
    const r = await net.rootOwner.send({ to: net.root.address, value: toNano('0.05'), body: beginCell().storeUint(0xdead, 32).endCell() });
    expectTx(r, { to: net.root.address, success: false, exitCode: ContractError.unknownOp });
  });
});

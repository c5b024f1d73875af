/**
 * Golden layouts: every cell is written here bit by bit from the reference definitions
 * (runners/smartcontracts/*.cpp: init_data_cell, create_*_message, sign_and_wrap_message,
 * RootContractConfig::serialize_params_cell / load_from_state, ProxyContract::on_transaction),
 * with a tiny bit writer that shares no code with protocol.ts, and compared by cell hash.
 */
import { describe, expect, it } from 'vitest';
import { Address, beginCell, Cell, toNano } from '@ton/core';
import { compileAll } from '../compile.ts';
import {
  Body, clientInitData, clientProxyRequestBody, Op, paramsCell, parseClientData, parseClientProxyRequest, parseParamsCell,
  parseProxyData, parseRootData, parseSignedTokenMessage, parseWorkerData, parseWorkerProxyRequest, proxyInitData,
  rootDataCell, tokenPayload, workerInitData, workerProxyRequestBody, wrapSigned, type RootParams,
} from './protocol.ts';

/** Independent bit writer: a string of '0'/'1' plus refs, turned into a Cell at the end. */
class Bits {
  bits = '';
  refs: Cell[] = [];
  uint(v: bigint | number, n: number) { this.bits += BigInt(v).toString(2).padStart(n, '0'); if (this.bits.length > 1023) throw new Error('overflow'); return this; }
  bit(b: boolean) { return this.uint(b ? 1 : 0, 1); }
  coins(v: bigint) { const bytes = v === 0n ? 0 : Math.ceil(v.toString(16).length / 2); this.uint(bytes, 4); if (bytes) this.uint(v, bytes * 8); return this; }
  addr(a: Address) { return this.uint(0b100, 3).uint(a.workChain & 0xff, 8).uint(BigInt('0x' + a.hash.toString('hex')), 256); }
  bytes(b: Buffer) { for (const x of b) this.uint(x, 8); return this; }
  ref(c: Cell) { this.refs.push(c); return this; }
  maybeRef(c: Cell | null) { this.bit(c !== null); if (c) this.ref(c); return this; }
  cell(): Cell {
    const b = beginCell();
    for (const ch of this.bits) b.storeBit(ch === '1');
    for (const r of this.refs) b.storeRef(r);
    return b.endCell();
  }
}

const A = (n: number) => Address.parse(`0:${n.toString(16).padStart(2, '0').repeat(32)}`);
const KEY = Buffer.alloc(32, 0xab);
const params: RootParams = {
  structVersion: 3, paramsVersion: 7, uniqueId: 0x1234_5678, isTest: true, pricePerToken: 20n, workerFeePerToken: 19n,
  promptMultiplier: 10_000, cachedMultiplier: 1_000, completionMultiplier: 12_000, reasoningMultiplier: 15_000,
  proxyDelayBeforeClose: 172_800, clientDelayBeforeClose: 86_400, minProxyStake: toNano('15'), minClientStake: toNano('1'),
};

function goldenParams(p: RootParams, codes: { proxy?: Cell; worker?: Cell; client?: Cell } = {}): Cell {
  const b = new Bits().uint(p.structVersion, 8).uint(p.paramsVersion, 32).uint(p.uniqueId, 32).bit(p.isTest).coins(p.pricePerToken).coins(p.workerFeePerToken);
  if (p.structVersion >= 2) {
    if (p.structVersion >= 3) b.uint(p.promptMultiplier, 32);
    b.uint(p.cachedMultiplier, 32);
    if (p.structVersion >= 3) b.uint(p.completionMultiplier, 32);
    b.uint(p.reasoningMultiplier, 32);
  }
  b.uint(p.proxyDelayBeforeClose, 32).uint(p.clientDelayBeforeClose, 32);
  if (p.structVersion >= 1) b.coins(p.minProxyStake).coins(p.minClientStake);
  return b.maybeRef(codes.proxy ?? null).maybeRef(codes.worker ?? null).maybeRef(codes.client ?? null).cell();
}

describe('reference layouts (golden)', () => {
  it('root params cell, all struct versions, round trip', () => {
    for (const v of [0, 1, 2, 3]) {
      const p = { ...params, structVersion: v };
      expect(paramsCell(p).hash()).toEqual(goldenParams(p).hash());
      const back = parseParamsCell(goldenParams(p));
      expect(back.pricePerToken).toBe(20n);
      expect(back.cachedMultiplier).toBe(v >= 2 ? 1_000 : 10_000);
      expect(back.promptMultiplier).toBe(v >= 3 ? 10_000 : 10_000);
      expect(back.completionMultiplier).toBe(v >= 3 ? 12_000 : 10_000);
      expect(back.minClientStake).toBe(v >= 1 ? toNano('1') : toNano('1'));
    }
  });

  it('root data as load_from_state reads it', async () => {
    const codes = await compileAll();
    const entry = (s: string) => new Bits().bit(false).uint(Buffer.byteLength(s), 7).bytes(Buffer.from(s));
    const dictOf = (d: import('@ton/core').Dictionary<number | bigint, unknown>) => beginCell().storeDictDirect(d as never).endCell();
    void dictOf;
    // Reference cell: owner ^data ^params version. Dictionaries via @ton/core's HashmapE encoder
    // (the TVM dictionary format), values written by hand.
    const { Dictionary } = await import('@ton/core');
    const raw = (bits: Bits) => ({ serialize: (_: unknown, b: import('@ton/core').Builder) => { for (const ch of bits.bits) b.storeBit(ch === '1'); }, parse: () => null });
    const proxies = Dictionary.empty(Dictionary.Keys.Uint(32), raw(entry('10.0.0.1:8443 10.0.0.1:8444')) as never);
    proxies.set(3, null as never);
    const hashes = Dictionary.empty(Dictionary.Keys.BigUint(256), Dictionary.Values.Bool());
    hashes.set(5n, true);
    const data = beginCell().storeDict(hashes).storeDict(proxies).storeUint(3, 32).storeDict(hashes).storeDict(null).endCell();
    const golden = new Bits().addr(A(1)).ref(data).ref(goldenParams(params, codes)).uint(9, 32).cell();
    const ours = rootDataCell({
      owner: A(1), proxyHashes: [5n], proxies: [{ seqno: 3, addressForWorkers: '10.0.0.1:8443', addressForClients: '10.0.0.1:8444' }],
      lastProxySeqno: 3, workerHashes: [5n], modelHashes: [], version: 9, params, codes,
    });
    expect(ours.hash()).toEqual(golden.hash());
    const back = parseRootData(golden);
    expect(back).toMatchObject({ lastProxySeqno: 3, version: 9, proxyHashes: [5n], workerHashes: [5n], modelHashes: [] });
    expect(back.proxies).toEqual([{ seqno: 3, addressForWorkers: '10.0.0.1:8443', addressForClients: '10.0.0.1:8444' }]);
    expect(back.codes.client?.equals(codes.client)).toBe(true);
  });

  it('client, worker and proxy init data (address derivation inputs)', async () => {
    const codes = await compileAll();
    const client = new Bits().uint(0, 2).coins(0n).coins(params.minClientStake).uint(0, 64).uint(0, 32).uint(0, 256)
      .ref(new Bits().addr(A(2)).addr(A(3)).bytes(KEY).cell()).ref(goldenParams(params)).cell();
    expect(clientInitData({ owner: A(2), proxy: A(3), proxyPublicKey: KEY, params }).hash()).toEqual(client.hash());
    const worker = new Bits().addr(A(4)).addr(A(3)).bytes(KEY).uint(0, 2).uint(0, 64).ref(goldenParams(params)).cell();
    expect(workerInitData({ owner: A(4), proxy: A(3), proxyPublicKey: KEY, params }).hash()).toEqual(worker.hash());
    const proxy = new Bits().addr(A(5)).bytes(KEY).addr(A(1)).uint(0, 2).coins(0n).coins(0n).uint(0, 32)
      .ref(goldenParams(params, { worker: codes.worker, client: codes.client })).cell();
    expect(proxyInitData({ owner: A(5), publicKey: KEY, root: A(1), params, workerCode: codes.worker, clientCode: codes.client }).hash()).toEqual(proxy.hash());
  });

  it('state cells parse as the reference reads them, extra fields appended after', () => {
    const client = new Bits().uint(1, 2).coins(toNano('3')).coins(toNano('1')).uint(777, 64).uint(1_700_000_000, 32).bytes(Buffer.alloc(32, 9))
      .ref(new Bits().addr(A(2)).addr(A(3)).bytes(KEY).cell()).ref(goldenParams(params)).cell();
    expect(parseClientData(client)).toMatchObject({ state: 1, balance: toNano('3'), stake: toNano('1'), tokensUsed: 777n, unlockTs: 1_700_000_000 });
    const worker = new Bits().addr(A(4)).addr(A(3)).bytes(KEY).uint(2, 2).uint(555, 64).uint(600, 64).ref(goldenParams(params)).cell();
    expect(parseWorkerData(worker)).toMatchObject({ state: 2, tokens: 555n, pendingTokens: 600n });
    const proxy = new Bits().addr(A(5)).bytes(KEY).addr(A(1)).uint(1, 2).coins(11n).coins(toNano('15')).uint(42, 32).coins(19n)
      .ref(goldenParams(params)).cell();
    expect(parseProxyData(proxy)).toMatchObject({ state: 1, balance: 11n, stake: toNano('15'), unlockTs: 42, workerReserve: 19n });
  });

  it('signed charge / payout: payload and wrapped body (sign_and_wrap_message)', () => {
    const sig = Buffer.alloc(64, 0x5a);
    for (const [op, name] of [[0xbb63ff93, 'extClientChargeSigned'], [0xa040ad28, 'extWorkerPayoutRequestSigned'], [0xefd711e1, 'extClientGrantRefundSigned'], [0xf5f26a36, 'extWorkerLastPayoutRequestSigned']] as const) {
      const payload = new Bits().uint(op, 32).uint(0x0102030405060708n, 64).uint(123_456n, 64).addr(A(7)).cell();
      expect(tokenPayload(name, 0x0102030405060708n, 123_456n, A(7)).hash()).toEqual(payload.hash());
      const wrapped = new Bits().uint(op, 32).uint(0x0102030405060708n, 64).addr(A(8)).bytes(sig).ref(payload).cell();
      expect(wrapSigned(payload, sig, A(8)).hash()).toEqual(wrapped.hash());
      expect(parseSignedTokenMessage(wrapped)).toMatchObject({ op, tokens: 123_456n, queryId: 0x0102030405060708n });
    }
  });

  it('owner and ext bodies the reference node builds', () => {
    const q = 99n;
    expect(Body.clientTopUp(q, toNano('2'), A(2)).hash()).toEqual(new Bits().uint(0xf172e6c2, 32).uint(q, 64).coins(toNano('2')).addr(A(2)).cell().hash());
    expect(Body.clientTopUpReopen(q, 5n, A(2)).hash()).toEqual(new Bits().uint(0x29111ceb, 32).uint(q, 64).coins(5n).addr(A(2)).cell().hash());
    expect(Body.clientRegister(q, 77n, A(2)).hash()).toEqual(new Bits().uint(0xc45f9f3b, 32).uint(q, 64).uint(77, 64).addr(A(2)).cell().hash());
    expect(Body.clientChangeSecretHash(q, Buffer.alloc(32, 1), A(2)).hash()).toEqual(new Bits().uint(0xa9357034, 32).uint(q, 64).bytes(Buffer.alloc(32, 1)).addr(A(2)).cell().hash());
    expect(Body.clientWithdraw(q, A(2)).hash()).toEqual(new Bits().uint(0xda068e78, 32).uint(q, 64).addr(A(2)).cell().hash());
    expect(Body.clientRequestRefund(q, A(2)).hash()).toEqual(new Bits().uint(0xfafa6cc1, 32).uint(q, 64).addr(A(2)).cell().hash());
    expect(Body.proxyWithdraw(q, A(5)).hash()).toEqual(new Bits().uint(0x7610e6eb, 32).uint(q, 64).addr(A(5)).cell().hash());
    expect(Body.proxyClose(A(5)).hash()).toEqual(new Bits().uint(0xb51d5a01, 32).addr(A(5)).cell().hash());
  });

  it('client_proxy_request / worker_proxy_request as ProxyContract::on_transaction parses them', () => {
    const st = new Bits().uint(0, 2).coins(toNano('3')).coins(toNano('1')).uint(10, 64).bytes(Buffer.alloc(32, 2)).cell();
    const reg = new Bits().uint(0xa35cb580, 32).uint(4242, 64).cell();
    const golden = new Bits().uint(0x65448ff4, 32).uint(1, 64).addr(A(2)).ref(st).maybeRef(reg).cell();
    const ours = clientProxyRequestBody({ queryId: 1n, owner: A(2), state: 0, balance: toNano('3'), stake: toNano('1'), tokensUsed: 10n, secretHash: Buffer.alloc(32, 2), payload: reg });
    expect(ours.hash()).toEqual(golden.hash());
    expect(parseClientProxyRequest(golden)).toMatchObject({ tokensUsed: 10n, payload: { op: Op.clientProxyRegister, nonce: 4242n } });
    const pay = new Bits().uint(0x08e7d036, 32).uint(900, 64).cell();
    const w = new Bits().uint(0x4d725d2c, 32).uint(900, 64).addr(A(4)).uint(0, 2).uint(300, 64).maybeRef(pay).cell();
    expect(workerProxyRequestBody({ queryId: 900n, owner: A(4), state: 0, tokens: 300n, payoutTokens: 900n }).hash()).toEqual(w.hash());
    expect(parseWorkerProxyRequest(w)).toMatchObject({ tokens: 300n, payoutTokens: 900n });
  });
});

import { describe, expect, it } from 'vitest';
import { FrameDecoder, FrameEncoder } from './framing.ts';
import { CLIENT_ACCEPTS_FROM_PROXY, PROXY_ACCEPTS_FROM_CLIENT, PROXY_ACCEPTS_FROM_WORKER, WORKER_ACCEPTS_FROM_PROXY } from './messages.ts';
import { decodeChallenge, decodeResponse, encodeChallenge, encodeResponse } from './pow.ts';
import { cocoonCodec, type TlObject } from './tl-codec.ts';
import { tokensUsed } from './messages.ts';
import { adjustedCounts } from '../payments/adjusted-tokens.ts';
import { tokenCountsFromUsage } from '../payments/pricing.ts';

/**
 * Golden bytes for every message kind we send or accept, built here by hand from the TL layouts
 * (constructor ids as the reference's generated code has them, little-endian ints, TL bytes
 * padding) — not with the codec under test. Each case checks encode → exact bytes and
 * decode(bytes) → the same object.
 */
const ID: Record<string, number> = {
  'tcp.connect': 0xa57c4261, 'tcp.connected': 0x636d41d6, 'tcp.ping': 0xbbe9627c, 'tcp.pong': 0x0bd4302c,
  'tcp.packet': 0x9c17baf8, 'tcp.query': 0x3af51908, 'tcp.queryAnswer': 0xc048c311, 'tcp.queryError': 0x4cd2f602,
  'client.params': 0x40fdca64, 'client.connectToProxy': 0xff5fa0f4, 'client.connectedToProxy': 0x95317ad1,
  'client.proxyConnectionAuthShort': 0xd6ffc5af, 'client.proxyConnectionAuthLong': 0x417bf016,
  'client.authorizeWithProxyShort': 0x6c276723, 'client.authorizeWithProxyLong': 0xd3474303,
  'client.authorizationWithProxySuccess': 0x75d5ac34, 'client.authorizationWithProxyFailed': 0x60551c96,
  'client.runQueryEx': 0xf54cb74b, 'client.queryAnswerEx': 0xcd524720, 'client.queryAnswerPartEx': 0xc07bfaec,
  'client.queryAnswerErrorEx': 0x072562a8, 'client.queryAnswerError': 0x6d60569a, 'client.queryAnswerPartError': 0xd790a022,
  'client.queryFinalInfo': 0x69a452f0, 'proxy.clientRequestPayment': 0xc6bcf127, 'client.getWorkerTypesV2': 0xb2133d72,
  'client.workerTypesV2': 0x0cf0dc67, 'client.workerTypeV2': 0xb27d8197, 'client.workerInstanceV2': 0x3ea93d00,
  'client.updatePaymentStatus': 0x9ed1c697, 'client.paymentStatus': 0xaa8a0ecc,
  'worker.params': 0x869c73ed, 'proxy.params': 0xd5c5609f, 'worker.connectToProxy': 0xcc484c5d, 'worker.connectedToProxy': 0x66bc82ee,
  'worker.compareBalanceWithProxy': 0xdb386501, 'worker.compareBalanceWithProxyResult': 0x9054c411,
  'worker.extendedCompareBalanceWithProxy': 0xf8dd9914, 'worker.extendedCompareBalanceWithProxyResult': 0x0c10973e,
  'worker.proxyHandshakeComplete': 0xf843b066, 'worker.proxyHandshakeCompleted': 0x3ad9b886,
  'worker.updatePaymentStatus': 0xdc70a524, 'worker.paymentStatus': 0xa88bd701,
  'proxy.runQueryEx': 0xc805e7e2, 'proxy.queryAnswerEx': 0x1ce574e8, 'proxy.queryAnswerPartEx': 0x6d85b50f,
  'proxy.queryAnswerErrorEx': 0x8f7fb0a7, 'proxy.queryFinalInfo': 0xe794e6fc, 'proxy.workerRequestPayment': 0x1436c0d5,
  'worker.enabledDisabled': 0xb3b71039, 'worker.newCoefficient': 0x6af092b0,
  'proxy.signedPayment': 0x02998182, 'proxy.signedPaymentEmpty': 0xb347ce64,
  'http.request': 0x47492de5, 'http.response': 0x1cd0c42b, 'http.header': 0x8e9be511, 'tokensUsed': 0x70c5b15c,
  'cocoonx.cancelQuery': 0x89c03a88, 'cocoonx.workerLoad': 0xa4061aad,
};

// A minimal TL writer written from the TL serialization rules, independent of tl-codec.ts.
const u32 = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(n >>> 0); return b; };
const i32 = (n: number) => { const b = Buffer.alloc(4); b.writeInt32LE(n); return b; };
const i64 = (n: bigint) => { const b = Buffer.alloc(8); b.writeBigInt64LE(n); return b; };
const f64 = (n: number) => { const b = Buffer.alloc(8); b.writeDoubleLE(n); return b; };
const id = (name: string) => u32(ID[name]!);
const bytes = (data: Buffer) => {
  const head = data.length < 254 ? Buffer.from([data.length]) : Buffer.from([254, data.length & 0xff, (data.length >> 8) & 0xff, (data.length >> 16) & 0xff]);
  const pad = (4 - ((head.length + data.length) % 4)) % 4;
  return Buffer.concat([head, data, Buffer.alloc(pad)]);
};
const str = (s: string) => bytes(Buffer.from(s, 'utf8'));
const bool = (v: boolean) => u32(v ? 0x997275b5 : 0xbc799737);
// `(vector t)` fields are bare in the reference's TL (count, then items; no Vector id).
const vec = (items: Buffer[]) => Buffer.concat([u32(items.length), ...items]);
const cat = (...parts: Buffer[]) => Buffer.concat(parts);

const RID = Buffer.alloc(32, 0xab);
const KEY = Buffer.alloc(32, 0x11);
const ADDR = `0:${'0'.repeat(64)}`;
const tokens = (p: number, c: number, o: number, r: number): [TlObject, Buffer] => [
  { _: 'tokensUsed', prompt_tokens_used: BigInt(p), cached_tokens_used: BigInt(c), completion_tokens_used: BigInt(o), reasoning_tokens_used: BigInt(r), total_tokens_used: BigInt(p + c + o + r) },
  cat(i64(BigInt(p)), i64(BigInt(c)), i64(BigInt(o)), i64(BigInt(r)), i64(BigInt(p + c + o + r))),
];
const [T, Tb] = tokens(10, 2, 30, 4);
const payment: TlObject = { _: 'proxy.signedPayment', data: Buffer.from('signed') };
const paymentB = cat(id('proxy.signedPayment'), str('signed'));
const empty: TlObject = { _: 'proxy.signedPaymentEmpty' };
const emptyB = id('proxy.signedPaymentEmpty');
const proxyParams: TlObject = { _: 'proxy.params', flags: 3, proxy_public_key: KEY, proxy_owner_address: ADDR, proxy_sc_address: ADDR, is_test: true, proto_version: 2 };
const proxyParamsB = cat(i32(3), KEY, str(ADDR), str(ADDR), bool(true), i32(2)); // bare (field type is proxy.params)
const httpReq = cat(id('http.request'), str('POST'), str('/v1/chat/completions'), str('HTTP/1.1'), vec([cat(str('Content-Type'), str('application/json'))]), str('{"model":"m"}'));
const httpRes = cat(id('http.response'), str('HTTP/1.1'), i32(200), str('OK'), vec([cat(str('Content-Type'), str('text/event-stream'))]), str('data: {}\n\n'));
const clientFinal: TlObject = { _: 'client.queryFinalInfo', flags: 0, tokens_used: T };
const clientFinalB = cat(i32(0), Tb); // bare
const proxyFinal: TlObject = { _: 'proxy.queryFinalInfo', flags: 0, tokens_used: T };
const proxyFinalB = cat(i32(0), Tb);

/** [direction, object, expected bytes without the constructor id of the object itself] */
const cases: Array<[string, TlObject, Buffer]> = [
  // Transport (both directions).
  ['both', { _: 'tcp.connect', id: 0x0102030405060708n }, i64(0x0102030405060708n)],
  ['both', { _: 'tcp.connected', id: -2n }, i64(-2n)],
  ['both', { _: 'tcp.ping', id: 7n }, i64(7n)],
  ['both', { _: 'tcp.pong', id: 7n }, i64(7n)],
  ['both', { _: 'tcp.packet', data: Buffer.from('abc') }, str('abc')],
  ['both', { _: 'tcp.query', id: 5n, data: Buffer.alloc(300, 1) }, cat(i64(5n), bytes(Buffer.alloc(300, 1)))],
  ['both', { _: 'tcp.queryAnswer', id: 5n, data: Buffer.from('x') }, cat(i64(5n), str('x'))],
  ['both', { _: 'tcp.queryError', id: 5n, code: 602, message: 'too old client' }, cat(i64(5n), i32(602), str('too old client'))],
  // Client → proxy.
  ['client→proxy', { _: 'client.connectToProxy', params: { _: 'client.params', flags: 3, client_owner_address: ADDR, is_test: true, min_proto_version: 1, max_proto_version: 2 }, min_config_version: 0 },
    cat(i32(3), str(ADDR), bool(true), i32(1), i32(2), i32(0))], // params:client.params is bare
  ['client→proxy', { _: 'client.authorizeWithProxyShort', data: Buffer.from('secret') }, str('secret')],
  ['client→proxy', { _: 'client.authorizeWithProxyLong' }, Buffer.alloc(0)],
  ['client→proxy', { _: 'client.getWorkerTypesV2' }, Buffer.alloc(0)],
  ['client→proxy', { _: 'client.updatePaymentStatus' }, Buffer.alloc(0)],
  ['client→proxy', { _: 'client.runQueryEx', model_name: 'm', query: httpReq, max_coefficient: 4000, max_tokens: 100, timeout: 57, request_id: RID, min_config_version: 0, flags: 1, enable_debug: false },
    cat(str('m'), bytes(httpReq), i32(4000), i32(100), f64(57), RID, i32(0), i32(1), bool(false))],
  ['client→proxy', { _: 'cocoonx.cancelQuery', request_id: RID }, RID],
  // Proxy → client.
  ['proxy→client', { _: 'client.connectedToProxy', params: proxyParams, client_sc_address: ADDR, auth: { _: 'client.proxyConnectionAuthLong', nonce: 9n }, signed_payment: empty },
    cat(proxyParamsB, str(ADDR), id('client.proxyConnectionAuthLong'), i64(9n), emptyB)],
  ['proxy→client', { _: 'client.connectedToProxy', params: proxyParams, client_sc_address: ADDR, auth: { _: 'client.proxyConnectionAuthShort', secret_hash: KEY, nonce: 9n }, signed_payment: payment },
    cat(proxyParamsB, str(ADDR), id('client.proxyConnectionAuthShort'), KEY, i64(9n), paymentB)],
  ['proxy→client', { _: 'client.authorizationWithProxySuccess', signed_payment: empty, tokens_committed_to_db: 1n, max_tokens: 2n }, cat(emptyB, i64(1n), i64(2n))],
  ['proxy→client', { _: 'client.authorizationWithProxyFailed', error_code: 602, error: 'no' }, cat(i32(602), str('no'))],
  ['proxy→client', { _: 'client.workerTypesV2', types: [{ _: 'client.workerTypeV2', name: 'm', workers: [{ _: 'client.workerInstanceV2', flags: 0, coefficient: 1000, active_requests: 1, max_active_requests: 8 }] }] },
    vec([cat(str('m'), vec([cat(i32(0), i32(1000), i32(1), i32(8))]))])],
  ['proxy→client', { _: 'client.paymentStatus', signed_payment: empty, db_tokens: 3n, max_tokens: 4n }, cat(emptyB, i64(3n), i64(4n))],
  ['proxy→client', { _: 'client.queryAnswerEx', request_id: RID, answer: httpRes, flags: 0 }, cat(RID, bytes(httpRes), i32(0))],
  ['proxy→client', { _: 'client.queryAnswerPartEx', request_id: RID, answer: Buffer.from('data: [DONE]\n\n'), flags: 1, final_info: clientFinal },
    cat(RID, str('data: [DONE]\n\n'), i32(1), clientFinalB)],
  ['proxy→client', { _: 'client.queryAnswerErrorEx', request_id: RID, error_code: 651, error: 'no worker', flags: 1, final_info: clientFinal },
    cat(RID, i32(651), str('no worker'), i32(1), clientFinalB)],
  ['proxy→client', { _: 'client.queryAnswerError', error_code: 652, error: 'timeout', request_id: RID, request_tokens_used: T }, cat(i32(652), str('timeout'), RID, Tb)],
  ['proxy→client', { _: 'client.queryAnswerPartError', error_code: 602, error: 'x', request_id: RID, request_tokens_used: T }, cat(i32(602), str('x'), RID, Tb)],
  ['proxy→client', { _: 'proxy.clientRequestPayment', request_id: RID, signed_payment: payment, db_tokens: 1n, max_tokens: 2n, request_tokens: 46n },
    cat(RID, paymentB, i64(1n), i64(2n), i64(46n))],
  // Worker → proxy.
  ['worker→proxy', { _: 'worker.connectToProxy', params: { _: 'worker.params', flags: 3, worker_owner_address: ADDR, model: 'm', coefficient: 1000, is_test: true, proxy_cnt: 1, max_active_requests: 32, min_proto_version: 1, max_proto_version: 2 } },
    cat(i32(3), str(ADDR), str('m'), i32(1000), bool(true), i32(1), i32(32), i32(1), i32(2))],
  ['worker→proxy', { _: 'worker.compareBalanceWithProxy', tokens_committed_to_blockchain: 1n, tokens_committed_to_db: 2n, max_tokens: 3n }, cat(i64(1n), i64(2n), i64(3n))],
  ['worker→proxy', { _: 'worker.extendedCompareBalanceWithProxy', tokens_committed_to_db: 2n, other: Buffer.alloc(0) }, cat(i64(2n), bytes(Buffer.alloc(0)))],
  ['worker→proxy', { _: 'worker.proxyHandshakeComplete', is_disabled: false }, bool(false)],
  ['worker→proxy', { _: 'worker.updatePaymentStatus' }, Buffer.alloc(0)],
  ['worker→proxy', { _: 'worker.enabledDisabled', disabled: 1 }, i32(1)],
  ['worker→proxy', { _: 'worker.newCoefficient', new_coefficient: 1500 }, i32(1500)],
  ['worker→proxy', { _: 'proxy.queryAnswerEx', request_id: RID, answer: httpRes, flags: 0 }, cat(RID, bytes(httpRes), i32(0))],
  ['worker→proxy', { _: 'proxy.queryAnswerPartEx', request_id: RID, answer: Buffer.from('data: [DONE]\n\n'), flags: 1, final_info: proxyFinal },
    cat(RID, str('data: [DONE]\n\n'), i32(1), proxyFinalB)],
  ['worker→proxy', { _: 'proxy.queryAnswerErrorEx', request_id: RID, error_code: 601, error: 'engine', flags: 1, final_info: proxyFinal },
    cat(RID, i32(601), str('engine'), i32(1), proxyFinalB)],
  ['worker→proxy', { _: 'cocoonx.workerLoad', active_requests: 3, max_active_requests: 32 }, cat(i32(3), i32(32))],
  // Proxy → worker.
  ['proxy→worker', { _: 'worker.connectedToProxy', params: proxyParams, worker_sc_address: ADDR }, cat(proxyParamsB, str(ADDR))],
  ['proxy→worker', { _: 'worker.compareBalanceWithProxyResult', signed_payment: empty, tokens_committed_to_db: 2n, max_tokens: 3n, error_code: 0 }, cat(emptyB, i64(2n), i64(3n), i32(0))],
  ['proxy→worker', { _: 'worker.extendedCompareBalanceWithProxyResult', error_code: 0 }, i32(0)],
  ['proxy→worker', { _: 'worker.proxyHandshakeCompleted' }, Buffer.alloc(0)],
  ['proxy→worker', { _: 'worker.paymentStatus', signed_payment: payment, db_tokens: 1n, max_tokens: 2n }, cat(paymentB, i64(1n), i64(2n))],
  ['proxy→worker', { _: 'proxy.runQueryEx', query: httpReq, signed_payment: empty, coefficient: 1000n, timeout: 54.15, request_id: RID, flags: 1, enable_debug: false },
    cat(bytes(httpReq), emptyB, i64(1000n), f64(54.15), RID, i32(1), bool(false))],
  ['proxy→worker', { _: 'proxy.workerRequestPayment', request_id: RID, signed_payment: empty, db_tokens: 1n, max_tokens: 2n, request_tokens: 46n, request_client_owner: ADDR },
    cat(RID, emptyB, i64(1n), i64(2n), i64(46n), str(ADDR))],
  ['proxy→worker', { _: 'cocoonx.cancelQuery', request_id: RID }, RID],
];

describe('golden wire bytes', () => {
  const codec = cocoonCodec();
  for (const [dir, obj, body] of cases) {
    it(`${dir}: ${obj._}`, () => {
      const expected = cat(id(obj._), body);
      expect(codec.encode(obj).toString('hex')).toBe(expected.toString('hex'));
      expect(codec.decode(expected)).toEqual(obj);
    });
  }

  it('covers every message each hop accepts', () => {
    const covered = new Set(cases.map(([, o]) => o._));
    for (const set of [PROXY_ACCEPTS_FROM_CLIENT, PROXY_ACCEPTS_FROM_WORKER, WORKER_ACCEPTS_FROM_PROXY, CLIENT_ACCEPTS_FROM_PROXY]) {
      for (const name of set) expect(covered, name).toContain(name);
    }
  });

  it('final info carries adjusted tokens as the reference defines them', () => {
    // Engine usage: prompt 120 (50 cached), completion 40 (15 reasoning); worker coefficient 1.5×,
    // multipliers 1× except cached 0.1×. By hand: 70×1.5 = 105, 50×1.5×0.1 = 7.5 → 7,
    // 25×1.5 = 37.5 → 37, 15×1.5 = 22.5 → 22; total 171.
    const raw = tokenCountsFromUsage({ prompt_tokens: 120, completion_tokens: 40, prompt_tokens_details: { cached_tokens: 50 }, completion_tokens_details: { reasoning_tokens: 15 } });
    const used = tokensUsed(adjustedCounts(raw, 1500, { prompt: 10_000, cached: 1_000, completion: 10_000, reasoning: 10_000 }));
    const usedB = cat(i64(105n), i64(7n), i64(37n), i64(22n), i64(171n)); // bare tokensUsed
    for (const kind of ['proxy.queryFinalInfo', 'client.queryFinalInfo']) {
      const expected = cat(id(kind), i32(0), usedB);
      expect(codec.encode({ _: kind, flags: 0, tokens_used: used }).toString('hex')).toBe(expected.toString('hex'));
      expect(codec.decode(expected)).toEqual({ _: kind, flags: 0, tokens_used: used });
    }
    // As the worker ends an answer: proxy.queryAnswerPartEx with flags bit 0 and the final info.
    const part = cat(id('proxy.queryAnswerPartEx'), RID, bytes(Buffer.from('data: [DONE]\n\n')), i32(1), i32(0), usedB);
    expect(codec.encode({ _: 'proxy.queryAnswerPartEx', request_id: RID, answer: Buffer.from('data: [DONE]\n\n'), flags: 1, final_info: { _: 'proxy.queryFinalInfo', flags: 0, tokens_used: used } }).toString('hex')).toBe(part.toString('hex'));
  });

  it('http.request and http.response payloads', () => {
    const codec2 = cocoonCodec();
    expect(codec2.encode(codec2.decode(httpReq))).toEqual(httpReq);
    expect(codec2.decode(httpRes)).toMatchObject({ _: 'http.response', status_code: 200, payload: Buffer.from('data: {}\n\n') });
  });

  it('frames: length, then sequence number, then payload (little-endian)', () => {
    const enc = new FrameEncoder();
    const ping = cat(id('tcp.ping'), i64(1n));
    expect(enc.encode(ping).toString('hex')).toBe(cat(u32(12), i32(0), ping).toString('hex'));
    expect(enc.encode(ping).toString('hex')).toBe(cat(u32(12), i32(1), ping).toString('hex'));
    const dec = new FrameDecoder();
    expect(dec.push(cat(u32(12), i32(0), ping, u32(12), i32(1), ping))).toEqual([ping, ping]);
    expect(() => dec.push(cat(u32(12), i32(5), ping))).toThrow(/bad seqno: expected 2, got 5/);
  });

  it('PoW challenge and response', () => {
    const salt = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
    const challenge = Buffer.from('91128e41' + '14000000' + '00112233445566778899aabbccddeeff', 'hex');
    expect(encodeChallenge({ difficultyBits: 20, salt })).toEqual(challenge);
    expect(decodeChallenge(challenge)).toEqual({ difficultyBits: 20, salt });
    const response = Buffer.from('19738201' + '2a00000000000000', 'hex');
    expect(encodeResponse(42n)).toEqual(response);
    expect(decodeResponse(response)).toBe(42n);
  });
});

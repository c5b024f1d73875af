import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FrameDecoder, FrameEncoder, FrameError } from './framing.ts';
import { TlDecodeError, cocoonCodec } from './tl-codec.ts';

const codec = cocoonCodec();
const tokens = { _: 'tokensUsed', prompt_tokens_used: 10n, cached_tokens_used: 2n, completion_tokens_used: 30n, reasoning_tokens_used: 5n, total_tokens_used: 40n };

describe('TL codec driven by the reference schema', () => {
  it('keeps explicit constructor ids from the schema', () => {
    expect(codec.idOf('worker.params')).toBe(0x869c73ed);
    expect(codec.idOf('client.params')).toBe(0x40fdca64);
  });

  it('round-trips flags, optional fields, int256, bytes, nested and boxed types', () => {
    const msg = {
      _: 'client.queryAnswerPartEx', request_id: randomBytes(32), answer: Buffer.from('{"x":1}'), flags: 1,
      final_info: { _: 'client.queryFinalInfo', flags: 1, tokens_used: tokens, worker_debug: 'w', proxy_debug: 'p' },
    };
    expect(codec.decode(codec.encode(msg))).toEqual(msg);
    const params = { _: 'worker.params', flags: 1, worker_owner_address: 'EQ...', model: 'Qwen/Qwen3-0.6B', coefficient: 1000, is_test: true, proxy_cnt: 1, max_active_requests: 64 };
    expect(codec.decode(codec.encode({ _: 'worker.connectToProxy', params }))).toEqual({ _: 'worker.connectToProxy', params });
  });

  it('round-trips vectors and long strings (4-byte length prefix)', () => {
    const big = 'x'.repeat(1000);
    const msg = { _: 'client.workerTypesV2', types: [{ _: 'client.workerTypeV2', name: big, workers: [{ _: 'client.workerInstanceV2', flags: 0, coefficient: 1, active_requests: 2, max_active_requests: 3 }] }] };
    expect(codec.decode(codec.encode(msg))).toEqual(msg);
  });

  it('rejects unknown constructors, truncation, trailing bytes and wrong boxed types', () => {
    const good = codec.encode({ _: 'tcp.ping', id: 7n });
    expect(() => codec.decode(Buffer.from([1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0]))).toThrow(/unknown constructor/);
    expect(() => codec.decode(good.subarray(0, 6))).toThrow(/truncated/);
    expect(() => codec.decode(Buffer.concat([good, Buffer.alloc(4)]))).toThrow(/trailing/);
    expect(() => codec.encode({ _: 'proxy.signedPaymentEmpty', x: 1 } as never)).not.toThrow();
    expect(() => codec.encode({ _: 'client.connectedToProxy', params: {}, client_sc_address: '', auth: { _: 'tcp.ping', id: 1n }, signed_payment: { _: 'proxy.signedPaymentEmpty' } } as never)).toThrow();
  });

  it('fails only with TlDecodeError on 20000 random or mutated inputs', () => {
    const sample = codec.encode({ _: 'client.runQueryEx', model_name: 'm', query: Buffer.from('{}'), max_coefficient: 1, max_tokens: 1, timeout: 1, request_id: randomBytes(32), min_config_version: 0, flags: 0 });
    for (let i = 0; i < 20000; i++) {
      let input: Buffer;
      if (i % 2) input = randomBytes(i % 64);
      else {
        input = Buffer.from(sample);
        const k = (i * 7) % input.length;
        input[k] = input[k]! ^ (1 + (i % 255));
      }
      try {
        codec.decode(input);
      } catch (err) {
        expect(err).toBeInstanceOf(TlDecodeError);
      }
    }
  });
});

describe('framing', () => {
  it('reassembles frames split across chunks and rejects oversized ones', () => {
    const enc = new FrameEncoder();
    const frames = [Buffer.from('hello'), Buffer.alloc(300, 1)].map((p) => enc.encode(p));
    const all = Buffer.concat(frames);
    const dec = new FrameDecoder(1024);
    const out: Buffer[] = [];
    for (let i = 0; i < all.length; i += 3) out.push(...dec.push(all.subarray(i, i + 3)));
    expect(out.map((b) => b.length)).toEqual([5, 300]);
    expect(() => new FrameDecoder(100).push(new FrameEncoder().encode(Buffer.alloc(101)))).toThrow(FrameError);
    expect(() => new FrameDecoder().push(Buffer.alloc(8))).toThrow(/shorter than/);
  });
});

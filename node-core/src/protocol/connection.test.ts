import net, { type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../log.ts';
import { Connection } from './connection.ts';
import { FrameDecoder, FrameEncoder } from './framing.ts';
import { cocoonCodec, type TlObject } from './tl-codec.ts';

const log = createLogger('test');
const codec = cocoonCodec();
const cleanup: Array<() => void> = [];
afterEach(() => { for (const f of cleanup.splice(0)) f(); });

async function socketPair(): Promise<[net.Socket, net.Socket]> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
  const dialer = net.connect((server.address() as AddressInfo).port, '127.0.0.1');
  const acceptor = await accepted;
  cleanup.push(() => { dialer.destroy(); acceptor.destroy(); server.close(); });
  return [dialer, acceptor];
}

/** Reads frames from a raw socket as the peer sees them. */
function rawReader(s: net.Socket): () => Promise<TlObject> {
  const dec = new FrameDecoder();
  const queue: TlObject[] = [];
  const waiters: Array<(o: TlObject) => void> = [];
  s.on('data', (d) => {
    for (const f of dec.push(d)) {
      const o = codec.decode(f);
      const w = waiters.shift();
      if (w) w(o); else queue.push(o);
    }
  });
  return () => (queue.length ? Promise.resolve(queue.shift()!) : new Promise((r) => waiters.push(r)));
}

describe('connection', () => {
  it('the dialer opens with tcp.connect; the acceptor answers tcp.connected with the same id; seqnos count from 0', async () => {
    const [d, a] = await socketPair();
    const next = rawReader(a);
    const conn = new Connection(d, { log, role: 'dialer', accept: new Set() });
    cleanup.push(() => conn.close('test over'));
    const first = await next();
    expect(first._).toBe('tcp.connect');
    const enc = new FrameEncoder();
    a.write(enc.encode(codec.encode({ _: 'tcp.connected', id: first.id })));
    a.write(enc.encode(codec.encode({ _: 'tcp.ping', id: 77n })));
    expect(await next()).toEqual({ _: 'tcp.pong', id: 77n });
    expect(conn.closed).toBe(false);
  });

  it('the dialer sends nothing after tcp.connect until tcp.connected is back (the reference acceptor reads any earlier frame as another tcp.connect)', async () => {
    const [d, a] = await socketPair();
    const frames: TlObject[] = [];
    const dec = new FrameDecoder();
    a.on('data', (b) => { for (const f of dec.push(b)) frames.push(codec.decode(f)); });
    const conn = new Connection(d, { log, role: 'dialer', accept: new Set() });
    cleanup.push(() => conn.close('test over'));
    conn.send({ _: 'client.getWorkerTypesV2' });
    await new Promise((r) => setTimeout(r, 100));
    expect(frames.map((f) => f._)).toEqual(['tcp.connect']);
    a.write(new FrameEncoder().encode(codec.encode({ _: 'tcp.connected', id: frames[0]!.id })));
    await new Promise((r) => setTimeout(r, 100));
    expect(frames.map((f) => f._)).toEqual(['tcp.connect', 'tcp.packet']);
    expect(codec.decode(frames[1]!.data as Buffer)._).toBe('client.getWorkerTypesV2');
  });

  it('the acceptor refuses anything but tcp.connect first, and a dialer refuses a tcp.connected with another id', async () => {
    const [d, a] = await socketPair();
    const acceptor = new Connection(a, { log, role: 'acceptor', accept: new Set() });
    const reason = new Promise((r) => acceptor.once('close', r));
    d.write(new FrameEncoder().encode(codec.encode({ _: 'tcp.ping', id: 1n })));
    expect(await reason).toMatch(/expected tcp.connect as the first packet, got tcp.ping/);

    const [d2, a2] = await socketPair();
    const next = rawReader(a2);
    const dialer = new Connection(d2, { log, role: 'dialer', accept: new Set() });
    const reason2 = new Promise((r) => dialer.once('close', r));
    const connect = await next();
    a2.write(new FrameEncoder().encode(codec.encode({ _: 'tcp.connected', id: (connect.id as bigint) + 1n })));
    expect(await reason2).toMatch(/another tcp.connect id/);
  });

  it('a handler that throws closes only that connection, with the reason', async () => {
    const [d, a] = await socketPair();
    const acceptor = new Connection(a, {
      log, role: 'acceptor', accept: new Set(['cocoonx.workerLoad']),
      onPacket: (p) => { (p.request_id as Buffer).toString('hex'); }, // the bug class: a field this message lacks
    });
    const dialer = new Connection(d, { log, role: 'dialer', accept: new Set() });
    const reason = new Promise((r) => acceptor.once('close', r));
    dialer.send({ _: 'cocoonx.workerLoad', active_requests: 1, max_active_requests: 2 });
    expect(await reason).toMatch(/handler failed on cocoonx.workerLoad/);
  });

  it('a query handler that throws synchronously answers tcp.queryError and keeps the connection', async () => {
    const [d, a] = await socketPair();
    const acceptor = new Connection(a, { log, role: 'acceptor', accept: new Set(['client.getWorkerTypesV2']), onQuery: () => { throw new Error('boom'); } });
    const dialer = new Connection(d, { log, role: 'dialer', accept: new Set() });
    cleanup.push(() => { acceptor.close('over'); dialer.close('over'); });
    await expect(dialer.query({ _: 'client.getWorkerTypesV2' })).rejects.toThrow(/boom \(code 601\)/);
    expect(acceptor.closed).toBe(false);
  });

  it('the dialer pings after half its idle timeout and closes when nothing comes back', async () => {
    const [d, a] = await socketPair();
    const next = rawReader(a);
    const dialer = new Connection(d, { log, role: 'dialer', accept: new Set(), idleTimeoutMs: 400 });
    const connect = await next();
    a.write(new FrameEncoder().encode(codec.encode({ _: 'tcp.connected', id: connect.id })));
    expect((await next())._).toBe('tcp.ping');
    expect(await new Promise((r) => dialer.once('close', r))).toMatch(/nothing received for 400 ms/);
  });

  it('writes packets and queries byte for byte as the wrapper encoded around the encoded message, for every length prefix and padding', async () => {
    const [d, a] = await socketPair();
    const raw: Buffer[] = [];
    a.on('data', (c: Buffer) => raw.push(c));
    const dialer = new Connection(d, { log, role: 'dialer', accept: new Set() });
    cleanup.push(() => dialer.close('over'));
    const expected = new FrameEncoder();
    const want: Buffer[] = [];
    // The dialer's own tcp.connect went first (seqno 0); its id is read back from the bytes.
    // Every size around the 254-byte switch of the bytes length prefix, for the answer and the whole message.
    const sizes = [0, 1, 2, 3, ...Array.from({ length: 80 }, (_, i) => 190 + i), 1000, 70_000];
    await new Promise((r) => setTimeout(r, 20));
    const connect = codec.decode(new FrameDecoder().push(Buffer.concat(raw))[0]!);
    want.push(expected.encode(codec.encode(connect)));
    // Opened: from here on the dialer writes at once, through the one-pass path under test.
    a.write(new FrameEncoder().encode(codec.encode({ _: 'tcp.connected', id: connect.id })));
    await new Promise((r) => setTimeout(r, 20));
    for (const n of sizes) {
      const message: TlObject = { _: 'client.queryAnswerPartEx', request_id: Buffer.alloc(32, n & 0xff), answer: Buffer.alloc(n, 0x61), flags: 0 };
      dialer.send(message);
      want.push(expected.encode(codec.encode({ _: 'tcp.packet', data: codec.encode(message) })));
      const error: TlObject = { _: 'client.queryAnswerErrorEx', request_id: Buffer.alloc(32, 1), error_code: 602, error: `é${'x'.repeat(n)}`, flags: 0 };
      dialer.send(error);
      want.push(expected.encode(codec.encode({ _: 'tcp.packet', data: codec.encode(error) })));
    }
    void dialer.query({ _: 'client.getWorkerTypesV2' }, 1000).catch(() => undefined);
    const wanted = Buffer.concat(want);
    await vi.waitFor(() => expect(Buffer.concat(raw).length).toBeGreaterThan(wanted.length));
    const got = Buffer.concat(raw);
    expect(got.subarray(0, wanted.length).equals(wanted)).toBe(true);
    // The query: tcp.query {id, data}, with the id the connection picked.
    const query = codec.decode(new FrameDecoder().push(got).at(-1)!);
    expect(query._).toBe('tcp.query');
    expect(codec.decode(query.data as Buffer)).toEqual({ _: 'client.getWorkerTypesV2' });
    expect(got.subarray(wanted.length).equals(expected.encode(codec.encode(query)))).toBe(true);
  });

  it('two connections writing in the same ticks (frames interleaved in the shared slab, slabs used up and a message larger than one) each send exactly their own frames', async () => {
    const pairs = await Promise.all([socketPair(), socketPair()]);
    const conns = pairs.map(([, a]) => new Connection(a, { log, role: 'acceptor', accept: new Set() }));
    cleanup.push(() => { for (const c of conns) c.close('over'); });
    const raws = pairs.map(([d]) => { const raw: Buffer[] = []; d.on('data', (c: Buffer) => raw.push(c)); return raw; });
    const want: Buffer[][] = [[], []];
    const encoders = [new FrameEncoder(), new FrameEncoder()];
    const sizes = [5, 300, 16_000, 40_000, 3, 100_000, 253, 254, 9_000];
    for (let tick = 0; tick < 6; tick++) {
      for (const [k, n] of sizes.entries()) {
        const i = (k + tick) % 2;
        const message: TlObject = { _: 'client.queryAnswerPartEx', request_id: Buffer.alloc(32, tick), answer: Buffer.alloc(n + tick, 0x41 + k), flags: 0 };
        conns[i]!.send(message);
        want[i]!.push(encoders[i]!.encode(codec.encode({ _: 'tcp.packet', data: codec.encode(message) })));
      }
      await new Promise((r) => setImmediate(r));
    }
    for (const i of [0, 1]) {
      const wanted = Buffer.concat(want[i]!);
      await vi.waitFor(() => expect(Buffer.concat(raws[i]!).length).toBeGreaterThanOrEqual(wanted.length));
      expect(Buffer.concat(raws[i]!).equals(wanted)).toBe(true);
    }
  });
});

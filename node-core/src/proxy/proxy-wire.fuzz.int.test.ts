import { Writable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { TLSSocket } from 'node:tls';
import OpenAI from 'openai';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectRaTls, createPeerVerifier, createPolicy, createRaTlsIdentity, fakeQuoteProvider, type RaTlsIdentity } from '../attestation/index.ts';
import { startLocalNetwork, type LocalNetwork } from '../network/local-network.ts';
import { FrameDecoder } from '../protocol/framing.ts';
import { PROXY_ACCEPTS_FROM_CLIENT, PROXY_ACCEPTS_FROM_WORKER } from '../protocol/messages.ts';
import { ZERO_ADDRESS } from '../protocol/settlement.ts';
import { cocoonCodec, type TlObject } from '../protocol/tl-codec.ts';
import { fuzzSeed, seededRng, type Rng } from '../testing/fuzz.ts';
import { FUZZ_KINDS, sendFuzzFrame, writePacket, type WireWriter } from '../testing/wire-fuzz.ts';

/**
 * Fuzz: TL frames against the proxy's client and worker ports, from peers that completed a real
 * RA-TLS handshake (proof of work, TLS 1.3, attestation) and, for half the cases, the Cocoon
 * handshake too (a registered worker, an authorized client). Random bytes, bad lengths, wrong
 * seqnos, unknown constructors, mutated and truncated frames, valid constructors with hostile
 * fields. Each case must end with the proxy answering (pong) or closing that connection with a
 * logged reason; a bystander client keeps being served throughout, the proxy forgets every fuzz
 * peer afterwards, and memory returns near its baseline. Seeded (COCOON_FUZZ_SEED replays a run).
 */
const SEED = fuzzSeed(13_013);
const CASES = 1500;
const CONCURRENCY = 12;
const codec = cocoonCodec();

interface LogLine { level: number; msg: string; reason?: string; err?: unknown }
const logLines: LogLine[] = [];
const log = pino({ level: 'warn' }, new Writable({
  write(chunk: Buffer, _enc, done) {
    for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) logLines.push(JSON.parse(line) as LogLine);
    done();
  },
}));

let net: LocalNetwork;
let identities: Record<'client' | 'worker', RaTlsIdentity>;

beforeAll(async () => {
  net = await startLocalNetwork({ log });
  identities = {
    client: await createRaTlsIdentity({ provider: null, role: 'client' }),
    worker: await createRaTlsIdentity({ provider: fakeQuoteProvider(), role: 'worker' }),
  };
}, 60_000);
afterAll(async () => {
  await net?.stop();
});

/** A raw peer: our own framing, so any byte can be sent after the real handshake. */
class RawPeer implements WireWriter {
  /** Our outgoing seqno; frames are built by hand so a fuzz payload of any size can be sent. */
  seqno = 0;
  private readonly decoder = new FrameDecoder();
  private readonly waiting = new Map<bigint, (p: TlObject) => void>();
  private nextId = 1n;
  closedByProxy = false;
  private ourClose = false;
  readonly closed: Promise<void>;

  constructor(readonly socket: TLSSocket) {
    this.closed = new Promise((resolve) => socket.once('close', () => {
      if (!this.ourClose) this.closedByProxy = true;
      resolve();
    }));
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      let frames: Buffer[];
      try {
        frames = this.decoder.push(chunk);
      } catch {
        return this.close();
      }
      for (const f of frames) {
        const p = codec.decode(f);
        const id = p.id as bigint | undefined;
        // tcp.connected echoes our tcp.connect id: only answers and pongs settle a wait.
        if (p._ !== 'tcp.connected' && id !== undefined && this.waiting.has(id)) {
          this.waiting.get(id)!(p);
          this.waiting.delete(id);
        }
      }
    });
    // connectRaTls hands the socket over paused (nothing read before the caller listens).
    socket.resume();
  }

  static async dial(port: number, role: 'client' | 'worker'): Promise<RawPeer> {
    const { socket } = await connectRaTls({ host: '127.0.0.1', port, identity: identities[role], verifier: createPeerVerifier(createPolicy({ name: 'any' })) });
    return new RawPeer(socket);
  }

  packet(p: TlObject): void {
    writePacket(this, p);
  }
  raw(bytes: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  /** Resolves with what came back for `id` (tcp.pong / tcp.queryAnswer / tcp.queryError), or null on close or timeout. */
  awaitId(id: bigint, timeoutMs: number): Promise<TlObject | null> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => { this.waiting.delete(id); resolve(null); }, timeoutMs);
      this.waiting.set(id, (p) => { clearTimeout(timer); resolve(p); });
      void this.closed.then(() => { clearTimeout(timer); resolve(null); });
    });
  }

  async query(q: TlObject, timeoutMs = 5_000): Promise<TlObject> {
    const id = this.nextId++;
    this.packet({ _: 'tcp.query', id, data: codec.encode(q) });
    const a = await this.awaitId(id, timeoutMs);
    if (!a) throw new Error(`no answer to ${q._}`);
    if (a._ === 'tcp.queryError') throw new Error(`${q._} refused: ${String(a.message)}`);
    return codec.decode(a.data as Buffer);
  }

  /** tcp.ping after the fuzz frames: a pong proves the proxy read them all and kept the connection. */
  async probe(timeoutMs: number): Promise<'alive' | 'closed' | 'stalled'> {
    const id = 0x7000_0000n + this.nextId++;
    this.packet({ _: 'tcp.ping', id });
    const pong = await this.awaitId(id, timeoutMs);
    if (pong) return 'alive';
    return this.closedByProxy ? 'closed' : 'stalled';
  }

  close(): void {
    this.ourClose = !this.closedByProxy;
    this.socket.destroy();
  }
}

const clientParams = { _: 'client.params', flags: 3, client_owner_address: ZERO_ADDRESS, is_test: true, min_proto_version: 1, max_proto_version: 2 };
const workerParams = (n: number) => ({ _: 'worker.params', flags: 3, worker_owner_address: ZERO_ADDRESS, model: `fuzz/model-${n % 4}@0123abcd`, coefficient: 1000, is_test: true, proxy_cnt: 1, max_active_requests: 4, min_proto_version: 1, max_proto_version: 2 });

async function handshake(peer: RawPeer, role: 'client' | 'worker', n: number): Promise<void> {
  if (role === 'client') {
    await peer.query({ _: 'client.connectToProxy', params: clientParams, min_config_version: 0 });
    await peer.query({ _: 'client.authorizeWithProxyLong' });
  } else {
    await peer.query({ _: 'worker.connectToProxy', params: workerParams(n) });
    await peer.query({ _: 'worker.compareBalanceWithProxy', tokens_committed_to_blockchain: 0n, tokens_committed_to_db: 0n, max_tokens: 0n });
    await peer.query({ _: 'worker.proxyHandshakeComplete', is_disabled: false });
  }
}

interface Outcome { role: 'client' | 'worker'; handshaken: boolean; result: 'alive' | 'closed' | 'stalled' | 'refused-handshake'; why?: string; kinds?: string[] }

async function runCase(rng: Rng, n: number): Promise<Outcome> {
  const role = rng.chance(0.5) ? 'client' : 'worker';
  const port = role === 'client' ? net.proxy.endpoint.port : net.proxy.workerEndpoint.port;
  const accepted = [...(role === 'client' ? PROXY_ACCEPTS_FROM_CLIENT : PROXY_ACCEPTS_FROM_WORKER)];
  const peer = await RawPeer.dial(port, role);
  try {
    // A quarter of the cases start the stream wrong (no tcp.connect first).
    if (rng.chance(0.25)) {
      const k = rng.pick(FUZZ_KINDS);
      sendFuzzFrame(rng, peer, k, accepted);
      return { role, handshaken: false, result: await peer.probe(250), kinds: ['open', k] };
    }
    peer.packet({ _: 'tcp.connect', id: BigInt(n + 1) });
    const handshaken = rng.chance(0.5);
    if (handshaken) {
      try {
        await handshake(peer, role, n);
      } catch (err) {
        return { role, handshaken, result: 'refused-handshake', why: `case ${n}: ${(err as Error).message}` };
      }
    }
    let inFrame = true;
    const kinds: string[] = [];
    for (let i = rng.int(1, 4); i > 0 && inFrame; i--) {
      const k = rng.pick(FUZZ_KINDS);
      kinds.push(k);
      inFrame = sendFuzzFrame(rng, peer, k, accepted);
    }
    return { role, handshaken, result: await peer.probe(inFrame ? 2_000 : 250), kinds };
  } finally {
    peer.close();
  }
}

function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

describe('fuzz: TL frames against the proxy after a real attested handshake', () => {
  it(`survives ${CASES} hostile peers (seed ${SEED}); only the offending connections close, each with a logged reason`, async () => {
    const rng = seededRng(SEED);
    const baseline = net.proxy.stats();
    const bystander = await RawPeer.dial(net.proxy.endpoint.port, 'client');
    bystander.packet({ _: 'tcp.connect', id: 99n });
    await handshake(bystander, 'client', 0);
    collectGarbage();
    const rssBefore = process.memoryUsage().rss;
    const heapBefore = process.memoryUsage().heapUsed;
    const started = Date.now();

    const outcomes: Outcome[] = [];
    let next = 0;
    const lane = async () => {
      while (next < CASES) {
        const n = next++;
        // Each case draws from its own stream, so concurrency does not change what it sends.
        outcomes.push(await runCase(seededRng(rng.int(0, 2 ** 31) ^ n), n));
        if (n % 100 === 0) expect((await bystander.query({ _: 'client.getWorkerTypesV2' })).types).toBeDefined();
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, lane));
    const seconds = (Date.now() - started) / 1000;

    // The bystander was served throughout and still is; so is an OpenAI request end to end.
    expect(bystander.closedByProxy).toBe(false);
    expect((await bystander.query({ _: 'client.getWorkerTypesV2' })).types).toBeDefined();
    const openai = new OpenAI({ baseURL: net.openaiUrl, apiKey: 'x', maxRetries: 0 });
    const res = await openai.chat.completions.create({ model: net.models[0]!, messages: [{ role: 'user', content: 'after the fuzz' }] });
    expect(res.choices[0]!.message.content!.length).toBeGreaterThan(0);
    bystander.close();

    // Every outcome is one of the expected ones, and the suite exercised both.
    const tally = (r: Outcome['result']) => outcomes.filter((o) => o.result === r).length;
    expect(outcomes).toHaveLength(CASES);
    expect(tally('closed')).toBeGreaterThan(CASES / 4);
    expect(tally('alive')).toBeGreaterThan(CASES / 20);
    expect(outcomes.filter((o) => o.result === 'refused-handshake').map((o) => o.why)).toEqual([]);
    // Each connection the proxy dropped says why in its log (closes for a bad stream are warnings).
    const closings = logLines.filter((l) => l.msg === 'closing connection');
    expect(closings.length).toBeGreaterThanOrEqual(tally('closed'));
    expect(closings.every((l) => typeof l.reason === 'string' && l.reason.length > 0)).toBe(true);
    expect(logLines.filter((l) => l.level >= 50)).toEqual([]);

    // The proxy forgets every fuzz peer: no worker or client left behind.
    await expect.poll(() => net.proxy.stats().workers.length, { timeout: 10_000 }).toBe(baseline.workers.length);
    await expect.poll(() => net.proxy.stats().clients, { timeout: 10_000 }).toBe(baseline.clients);
    collectGarbage();
    const grownMb = (process.memoryUsage().rss - rssBefore) / 2 ** 20;
    const heapMb = (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20;
    console.log(`proxy wire fuzz: seed ${SEED}, ${CASES} cases in ${seconds.toFixed(1)} s, closed ${tally('closed')}, alive ${tally('alive')}, stalled ${tally('stalled')}, RSS +${grownMb.toFixed(1)} MiB, heap +${heapMb.toFixed(1)} MiB`);
    // RSS shows what the OS sees (allocator pages come back slowly); the heap shows what is kept.
    expect(grownMb).toBeLessThan(96);
    expect(heapMb).toBeLessThan(48);
  }, 120_000);
});

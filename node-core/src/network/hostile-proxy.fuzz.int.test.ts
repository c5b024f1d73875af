import type { Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPeerVerifier, createPolicy, createRaTlsIdentity, createRaTlsServer, fakeQuoteProvider } from '../attestation/index.ts';
import { startClient, type ClientRunner } from '../client/client-runner.ts';
import { createOpenAiCompatibleBackend } from '../inference/backend.ts';
import { startTestEngine, type TestEngine } from '../inference/test-engine.ts';
import { FrameDecoder } from '../protocol/framing.ts';
import { chatCompletionQuery, encodeHttpResponse } from '../protocol/http-payload.ts';
import { CLIENT_ACCEPTS_FROM_PROXY, WORKER_ACCEPTS_FROM_PROXY } from '../protocol/messages.ts';
import { LOCAL_POW_DIFFICULTY } from '../protocol/pow.ts';
import { noSettlementProxy } from '../protocol/settlement.ts';
import { cocoonCodec, type TlObject } from '../protocol/tl-codec.ts';
import { ClientHandshake, WorkerHandshake } from '../proxy/peer-handshake.ts';
import { fuzzSeed, mutateBytes, nastyString, seededRng, type Rng } from '../testing/fuzz.ts';
import { randomTlObject } from '../testing/tl-fuzz.ts';
import { FUZZ_KINDS, sendFuzzFrame, writePacket, type WireWriter } from '../testing/wire-fuzz.ts';
import { startWorker, type WorkerHandle } from '../worker/worker-runner.ts';

/**
 * Fuzz: a hostile proxy against the worker and the client. The proxy is real up to the Cocoon
 * handshake (proof of work, RA-TLS with a development quote, the reference handshake answered by
 * the proxy's own handshake code); then it sends hostile frames — bad headers and seqnos, unknown
 * constructors, mutated and truncated frames, and valid messages with hostile fields aimed at
 * live requests (query bodies for the worker, answers to the client's in-flight requests). The
 * worker and the client must drop only that connection, say why in their log, keep reconnecting,
 * answer every OpenAI request the client was given (an error is fine, a hang or a crash is not),
 * and return to their memory baseline. Seeded (COCOON_FUZZ_SEED replays a run).
 */
const SEED = fuzzSeed(13_031);
const CASES_PER_ROLE = 40;
const FRAMES_PER_CASE = 12;
const MODEL = 'fuzz/model';
const codec = cocoonCodec();

interface LogLine { level: number; msg: string; reason?: string; err?: unknown }
const logLines: LogLine[] = [];
const log = pino({ level: 'info' }, new Writable({
  write(chunk: Buffer, _enc, done) {
    for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) logLines.push(JSON.parse(line) as LogLine);
    done();
  },
}));

type Role = 'worker' | 'client';
interface CaseResult { role: Role; outcome: 'closed' | 'survived' }
const results: CaseResult[] = [];
/** The OpenAI traffic's own stream; each hostile connection has its own (HostileLink.rng). */
let rng: Rng;
const caseCounters: Record<Role, number> = { worker: 0, client: 0 };
let engine: TestEngine;
let server: Server;
let workers: WorkerHandle[] = [];
let client: ClientRunner;
let done = false;

/** One dialer's connection, as the hostile proxy sees it. */
class HostileLink implements WireWriter {
  seqno = 0;
  private readonly decoder = new FrameDecoder();
  private readonly handshake: WorkerHandshake | ClientHandshake;
  private fuzzing = false;
  private pongs = new Map<bigint, () => void>();
  /** Request ids the dialer used (client.runQueryEx) or we sent (proxy.runQueryEx): the hostile frames aim at them. */
  private readonly liveIds: Buffer[] = [];
  private closed = false;
  /**
   * Each connection draws from its own stream, seeded by the run's seed, its role and its place
   * in that role's order, so a failing case replays from the seed however the others interleave.
   */
  private readonly rng: Rng;
  readonly caseNo: number;

  constructor(private readonly socket: TLSSocket, private readonly role: Role) {
    this.caseNo = caseCounters[role]++;
    this.rng = seededRng((SEED ^ Math.imul(this.caseNo + 1, 0x9e3779b1) ^ (role === 'worker' ? 0 : 0x5bd1e995)) >>> 0);
    const settlement = noSettlementProxy();
    this.handshake = role === 'worker' ? new WorkerHandshake(settlement, Buffer.alloc(32, 7)) : new ClientHandshake(settlement, Buffer.alloc(32, 7));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
      for (const wake of this.pongs.values()) wake();
    });
    socket.on('data', (chunk: Buffer) => void this.onData(chunk));
    socket.resume();
  }

  raw(bytes: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  private async onData(chunk: Buffer): Promise<void> {
    let frames: Buffer[];
    try {
      frames = this.decoder.push(chunk);
    } catch {
      return void this.socket.destroy();
    }
    for (const f of frames) {
      const p = codec.decode(f);
      if (p._ === 'tcp.connect') writePacket(this, { _: 'tcp.connected', id: p.id });
      else if (p._ === 'tcp.ping') writePacket(this, { _: 'tcp.pong', id: p.id });
      else if (p._ === 'tcp.pong') this.pongs.get(p.id as bigint)?.();
      else if (p._ === 'tcp.packet') {
        const inner = codec.decode(p.data as Buffer);
        if (inner._ === 'client.runQueryEx') this.liveIds.push(inner.request_id as Buffer);
      } else if (p._ === 'tcp.query') await this.answer(p.id as bigint, codec.decode(p.data as Buffer));
    }
  }

  private async answer(id: bigint, q: TlObject): Promise<void> {
    try {
      const answer = q._ === 'client.getWorkerTypesV2'
        ? { _: 'client.workerTypesV2', types: [{ _: 'client.workerTypeV2', name: MODEL, workers: [{ _: 'client.workerInstanceV2', flags: 0, coefficient: 1000, active_requests: 0, max_active_requests: 8 }] }] }
        : await this.handshake.answer(q);
      if (!answer) throw new Error(`unexpected query ${q._}`);
      writePacket(this, { _: 'tcp.queryAnswer', id, data: codec.encode(answer) });
    } catch (err) {
      writePacket(this, { _: 'tcp.queryError', id, code: 500, message: (err as Error).message });
    }
    // Handshake done: this connection's case starts once the dialer has settled in.
    if (this.handshake.state === 'ok' && !this.fuzzing) {
      this.fuzzing = true;
      setTimeout(() => void this.fuzz(), 30);
    }
  }

  /** tcp.ping; true when the dialer answers (it read everything before and kept the connection). */
  private probe(timeoutMs: number): Promise<boolean> {
    const id = BigInt(this.rng.int(1, 2 ** 31));
    return new Promise((resolve) => {
      const timer = setTimeout(() => { this.pongs.delete(id); resolve(false); }, timeoutMs);
      this.pongs.set(id, () => { clearTimeout(timer); this.pongs.delete(id); resolve(!this.closed); });
      writePacket(this, { _: 'tcp.ping', id });
    });
  }

  private async fuzz(): Promise<void> {
    const accepted = [...(this.role === 'worker' ? WORKER_ACCEPTS_FROM_PROXY : CLIENT_ACCEPTS_FROM_PROXY)];
    for (let i = 0; i < FRAMES_PER_CASE && !this.closed && !done; i++) {
      const inFrame = this.rng.chance(0.6) ? this.sendAimed() : sendFuzzFrame(this.rng, this, this.rng.pick(FUZZ_KINDS), accepted);
      if (!(await this.probe(inFrame ? 3_000 : 300))) break;
    }
    if (done) return void this.socket.destroy();
    results.push({ role: this.role, outcome: this.closed ? 'closed' : 'survived' });
    this.socket.destroy();
  }

  /** A well-formed message with hostile content, aimed at a request the dialer is running. */
  private sendAimed(): boolean {
    const id = this.liveIds.length && this.rng.chance(0.8) ? this.rng.pick(this.liveIds) : this.rng.bytes(32);
    if (this.role === 'worker') {
      const body = Buffer.from(this.rng.chance(0.5)
        ? JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: nastyString(this.rng) }], stream: this.rng.chance(0.5), max_tokens: this.rng.pick([1, 4, -1, 1e9]) })
        : nastyString(this.rng));
      const query = this.rng.chance(0.5) ? chatCompletionQuery(body) : mutateBytes(this.rng, chatCompletionQuery(body));
      const run = { ...randomTlObject(this.rng, 'proxy.runQueryEx'), query, request_id: id, timeout: this.rng.pick([0, 1, 5, 0x7fffffff, -1]) };
      if (this.rng.chance(0.7)) this.liveIds.push(id);
      writePacket(this, { _: 'tcp.packet', data: codec.encode(this.rng.chance(0.8) ? run : { _: 'cocoonx.cancelQuery', request_id: id }) });
      return true;
    }
    const answer = this.rng.chance(0.5)
      ? encodeHttpResponse({ status: this.rng.pick([200, 200, 404, 500, 0]), reason: 'x', headers: [['content-type', this.rng.pick(['text/event-stream', 'application/json'])]], body: Buffer.from(this.rng.pick(['data: {"choices":[]}\n\n', 'data: [DONE]\n\n', nastyString(this.rng), '{"x":'])) })
      : this.rng.bytes(this.rng.int(0, 200));
    const name = this.rng.pick(['client.queryAnswerEx', 'client.queryAnswerPartEx', 'client.queryAnswerErrorEx', 'proxy.clientRequestPayment', 'client.queryAnswerError']);
    const base = randomTlObject(this.rng, name);
    writePacket(this, { _: 'tcp.packet', data: codec.encode({ ...base, ...('request_id' in base && { request_id: id }), ...('answer' in base && { answer: this.rng.chance(0.8) ? answer : mutateBytes(this.rng, answer) }) }) });
    return true;
  }
}

beforeAll(async () => {
  rng = seededRng(SEED);
  engine = await startTestEngine({ model: MODEL });
  const any = () => createPeerVerifier(createPolicy({ name: 'any' }));
  server = createRaTlsServer({
    identity: await createRaTlsIdentity({ provider: fakeQuoteProvider(), role: 'proxy' }), verifier: any(), powDifficulty: LOCAL_POW_DIFFICULTY,
    onSecureConnection: (socket, peer) => new HostileLink(socket, peer.role === 'client' ? 'client' : 'worker'),
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const proxy = { host: '127.0.0.1', port: (server.address() as AddressInfo).port };
  const backend = createOpenAiCompatibleBackend({ baseUrl: engine.url });
  const workerIdentity = await createRaTlsIdentity({ provider: fakeQuoteProvider(), role: 'worker' });
  // Several workers, so cases run side by side despite each dialer's reconnect backoff.
  workers = await Promise.all(Array.from({ length: 4 }, () => startWorker({ proxies: [proxy], backend, model: MODEL, identity: workerIdentity, verifier: any(), statsPort: null, log })));
  client = await startClient({ proxy, identity: await createRaTlsIdentity({ provider: null, role: 'client' }), verifier: any(), apiKey: null, knownModels: [MODEL], requestTimeoutSeconds: 5, log });
}, 60_000);

afterAll(async () => {
  done = true;
  await client?.stop();
  for (const w of workers) await w.stop();
  server?.close();
  await engine?.stop();
});

function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

describe('fuzz: a hostile proxy against the worker and the client', () => {
  it(`each drops only the hostile connection, logs why, keeps reconnecting and answers every request (seed ${SEED})`, async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
    process.on('warning', onWarning);
    collectGarbage();
    const rssBefore = process.memoryUsage().rss;
    const heapBefore = process.memoryUsage().heapUsed;
    const started = Date.now();
    // OpenAI traffic through the client while its proxy misbehaves: each request must settle.
    const statuses = new Map<number | string, number>();
    let inFlight = 0;
    let sent = 0;
    const traffic = (async () => {
      while (results.filter((r) => r.role === 'client').length < CASES_PER_ROLE) {
        const pending = Array.from({ length: 4 }, async () => {
          inFlight++;
          sent++;
          try {
            const res = await fetch(`${client.openaiUrl}/chat/completions`, {
              method: 'POST', headers: { 'content-type': 'application/json' }, signal: AbortSignal.timeout(30_000),
              body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], stream: rng.chance(0.5), stream_options: { include_usage: true } }),
            });
            await res.arrayBuffer().catch(() => undefined);
            statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          } catch (err) {
            const key = (err as Error).name;
            statuses.set(key, (statuses.get(key) ?? 0) + 1);
          } finally {
            inFlight--;
          }
        });
        await Promise.all(pending);
        // A steady trickle, not a flood: the requests are there to be in flight when frames hit.
        await new Promise((r) => setTimeout(r, 25));
      }
    })();
    await expect.poll(() => results.filter((r) => r.role === 'worker').length >= CASES_PER_ROLE && results.filter((r) => r.role === 'client').length >= CASES_PER_ROLE, { timeout: 90_000, interval: 200 }).toBe(true);
    await traffic;
    const seconds = (Date.now() - started) / 1000;

    process.off('warning', onWarning);
    // No process warning either (a hostile query timeout once overflowed setTimeout).
    expect(warnings).toEqual([]);
    // No request hung (a timeout would be named TimeoutError) and none was lost.
    expect(inFlight).toBe(0);
    expect(statuses.get('TimeoutError')).toBeUndefined();
    expect([...statuses.values()].reduce((a, b) => a + b, 0)).toBe(sent);
    // Both outcomes were exercised, and every connection a dialer dropped was logged with its reason.
    const tally = (role: Role, outcome: CaseResult['outcome']) => results.filter((r) => r.role === role && r.outcome === outcome).length;
    for (const role of ['worker', 'client'] as const) expect(tally(role, 'closed')).toBeGreaterThan(CASES_PER_ROLE / 4);
    const closing = logLines.filter((l) => l.msg === 'closing connection');
    expect(closing.every((l) => typeof l.reason === 'string' && l.reason.length > 0)).toBe(true);
    expect(closing.length).toBeGreaterThanOrEqual(tally('worker', 'closed') + tally('client', 'closed'));
    expect(logLines.filter((l) => l.level >= 50).map((l) => `${l.msg}: ${JSON.stringify(l.err ?? l)}`.slice(0, 600))).toEqual([]);

    // Still alive: every worker reports stats, the client answers its API.
    for (const w of workers) expect(w.stats().model).toBe(MODEL);
    const models = await fetch(`${client.openaiUrl}/models`);
    // 503 while the hostile proxy is between connections; either way an answer, in JSON.
    expect([200, 503]).toContain(models.status);
    expect(await models.json()).toBeTypeOf('object');
    collectGarbage();
    const grownMb = (process.memoryUsage().rss - rssBefore) / 2 ** 20;
    const heapMb = (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20;
    console.log(`hostile proxy fuzz: seed ${SEED}, ${results.length} connections in ${seconds.toFixed(1)} s; worker closed ${tally('worker', 'closed')} survived ${tally('worker', 'survived')}; client closed ${tally('client', 'closed')} survived ${tally('client', 'survived')}; OpenAI answers ${JSON.stringify(Object.fromEntries(statuses))}; RSS +${grownMb.toFixed(1)} MiB, heap +${heapMb.toFixed(1)} MiB`);
    expect(grownMb).toBeLessThan(96);
    expect(heapMb).toBeLessThan(48);
  }, 150_000);
});

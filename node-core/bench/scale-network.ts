/**
 * `npm run bench -- scale --network [--workers 1000] [--streams 10000] [--chunk-ms 1000]
 * [--chunks 15] [--links 20]`: a real `cocoon proxy` process holding N simulated workers and M
 * concurrent streams, on loopback with PoW + RA-TLS (fake quotes, development policy).
 *
 * In this process: N workers, each our own worker code (`startWorker`, its own attested
 * connection and owner address) over a TEST DOUBLE engine that emits one SSE chunk per stream
 * every `--chunk-ms` (one shared ticker, so 10,000 streams cost one timer); `--links` clients,
 * each our own `ProxyLink`, sharing the M streams. Measured on the proxy process only (/proc):
 *   - routing cost per request: the proxy's CPU while the M queries start, per query (this is
 *     the whole start of a query: decode, admission, worker pick, forward), plus the isolated
 *     `WorkerPool.pick` figure of `npm run bench -- scale`;
 *   - CPU per streamed chunk: the proxy's CPU while every stream is open and streaming, per chunk
 *     the clients received;
 *   - memory per stream: the proxy's RSS with all streams open minus with none, per stream.
 * Writes bench-results/scale-network.json.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { Address } from '@ton/core';
import { spawnRole, stopRole } from './spawn-role.ts';
import { cpuMs } from './proc-cpu.ts';
import { benchBody } from './load-generator.ts';
import { FAKE_MODEL } from './fake-openai-backend.ts';
import { startWorker, waitForWorker, type WorkerHandle } from '../src/worker/worker-runner.ts';
import { ProxyLink } from '../src/client/proxy-link.ts';
import { roleAttestation } from '../src/cli/role-flags.ts';
import { createLogger } from '../src/log.ts';
import type { InferenceBackend, EngineResponse } from '../src/inference/backend.ts';

interface Options { workers: number; streams: number; chunkMs: number; chunks: number; links: number }

function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * TEST DOUBLE for the GPU engine: every answer is a role chunk, `chunks` content chunks and a
 * usage chunk, one per tick of a shared timer (a slow generation, so many streams stay open).
 */
function tickingEngine(model: string, chunks: number, chunkMs: number): InferenceBackend & { stop(): void } {
  const base = { id: 'chatcmpl-scale', object: 'chat.completion.chunk', created: 1_700_000_000, model };
  const ev = (o: object) => Buffer.from(`data: ${JSON.stringify({ ...base, ...o })}\n\n`);
  const events = [ev({ choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] })];
  for (let i = 0; i < chunks; i++) events.push(ev({ choices: [{ index: 0, delta: { content: `token ${i} ` }, finish_reason: null }] }));
  events.push(Buffer.concat([
    ev({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] }),
    ev({ choices: [], usage: { prompt_tokens: 30, completion_tokens: chunks, total_tokens: 30 + chunks } }),
    Buffer.from('data: [DONE]\n\n'),
  ]));
  let waiting: Array<() => void> = [];
  const ticker = setInterval(() => {
    const wake = waiting;
    waiting = [];
    for (const w of wake) w();
  }, chunkMs);
  const notUsed = () => { throw new Error('the scale bench engine only answers post()'); };
  return {
    baseUrl: 'bench://ticking-engine',
    listModels: async () => [model],
    streamChat: notUsed,
    streamChatRaw: notUsed,
    post: async (): Promise<EngineResponse> => {
      let next = 0;
      let done = false;
      return {
        status: 200, statusText: 'OK', contentType: 'text/event-stream',
        read: async () => {
          if (done || next >= events.length) return null;
          if (next > 0) await new Promise<void>((r) => waiting.push(r));
          return done ? null : [events[next++]!];
        },
        destroy: () => { done = true; },
      };
    },
    stop: () => clearInterval(ticker),
  };
}

function flags(args: string[]): Options {
  const get = (name: string, fallback: number) => {
    const i = args.indexOf(`--${name}`);
    const v = i >= 0 ? Number(args[i + 1]) : fallback;
    if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be a positive integer, got ${args[i + 1]}`);
    return v;
  };
  return { workers: get('workers', 1000), streams: get('streams', 10_000), chunkMs: get('chunk-ms', 1000), chunks: get('chunks', 15), links: get('links', 20) };
}

export async function runNetworkScale(args: string[]): Promise<void> {
  const o = flags(args);
  const log = createLogger('scale-bench');
  const dev = ['--quote', 'fake', '--policy', 'fake'];
  const proxy = await spawnRole<{ clientPort: number; workerPort: number }>(['proxy', ...dev, '--pow-difficulty', '4']);
  const pid = proxy.child.pid!;
  const engine = tickingEngine(FAKE_MODEL, o.chunks, o.chunkMs);
  const workers: WorkerHandle[] = [];
  const links: ProxyLink[] = [];
  try {
    const workerAtt = await roleAttestation('worker', { quote: 'fake', policy: 'fake' }, log);
    const clientAtt = await roleAttestation('client', { policy: 'fake' }, log);
    const idle = { rssKiB: rssKiB(pid) };
    const t0 = Date.now();
    // Workers connect a hundred at a time (each is a PoW + RA-TLS handshake with the proxy).
    for (let i = 0; i < o.workers; i += 100) {
      const batch = await Promise.all(Array.from({ length: Math.min(100, o.workers - i) }, (_, j) => startWorker({
        proxies: [{ host: '127.0.0.1', port: proxy.info.workerPort }], backend: engine, model: FAKE_MODEL,
        maxActiveRequests: Math.ceil((o.streams / o.workers) * 1.5), statsPort: null, log,
        ownerAddress: new Address(0, createHash('sha256').update(`scale worker ${i + j}`).digest()).toString(),
        identity: workerAtt.identity, verifier: workerAtt.verifierFor('proxy'),
      })));
      await Promise.all(batch.map((w) => waitForWorker(w, 60_000)));
      workers.push(...batch);
    }
    const connectMs = Date.now() - t0;
    for (let i = 0; i < o.links; i++) {
      const link = new ProxyLink({ host: '127.0.0.1', port: proxy.info.clientPort, identity: clientAtt.identity, verifier: clientAtt.verifierFor('proxy'), log });
      link.start();
      links.push(link);
    }
    while (!links.every((l) => l.connected)) await sleep(50);
    await sleep(1000); // the proxy settles after the handshakes
    const ready = { rssKiB: rssKiB(pid), cpuMs: cpuMs(pid) };

    // Start every stream at once; count the chunks the clients receive.
    const request = Buffer.from(benchBody(FAKE_MODEL));
    let chunksReceived = 0;
    let started = 0;
    let failed = 0;
    const firstError: string[] = [];
    const ends: Promise<void>[] = [];
    const tStart = Date.now();
    for (let s = 0; s < o.streams; s++) {
      ends.push(new Promise<void>((resolve) => {
        let first = true;
        links[s % o.links]!.runQuery({ model: FAKE_MODEL, request, maxCoefficient: 4000, maxTokens: 1000, timeoutSeconds: 600 }, {
          onPart: (chunks) => {
            if (first) { first = false; started++; }
            chunksReceived += chunks.length;
          },
          onFinal: () => resolve(),
          onError: (_code, message) => { failed++; if (firstError.length === 0) firstError.push(message); resolve(); },
        });
      }));
    }
    // Every stream has its first chunk (the role chunk, sent at once): the queries are routed.
    while (started + failed < o.streams && Date.now() - tStart < 120_000) await sleep(20);
    const routedMs = Date.now() - tStart;
    const routed = { cpuMs: cpuMs(pid) };
    // Steady streaming: measure over most of the answer, before the first stream ends.
    const windowMs = Math.max(1000, (o.chunks - 3) * o.chunkMs - routedMs);
    const c0 = chunksReceived;
    await sleep(windowMs);
    const streaming = { cpuMs: cpuMs(pid), rssKiB: rssKiB(pid), chunks: chunksReceived - c0 };
    await Promise.all(ends);
    const totalMs = Date.now() - tStart;

    const result = {
      when: new Date().toISOString(), ...o, failed, firstError: firstError[0] ?? null, connectMs,
      routing: { ms: routedMs, proxyCpuMs: routed.cpuMs - ready.cpuMs, proxyCpuUsPerRequest: ((routed.cpuMs - ready.cpuMs) * 1000) / o.streams },
      streaming: { windowMs, chunks: streaming.chunks, chunksPerSecond: (streaming.chunks * 1000) / windowMs, proxyCpuMs: streaming.cpuMs - routed.cpuMs, proxyCpuUsPerChunk: ((streaming.cpuMs - routed.cpuMs) * 1000) / Math.max(1, streaming.chunks) },
      memory: { proxyIdleMiB: idle.rssKiB / 1024, proxyWithWorkersMiB: ready.rssKiB / 1024, proxyStreamingMiB: streaming.rssKiB / 1024, proxyKiBPerWorker: (ready.rssKiB - idle.rssKiB) / o.workers, proxyKiBPerStream: (streaming.rssKiB - ready.rssKiB) / o.streams },
      totalMs,
    };
    console.log(`proxy process with ${o.workers} workers and ${o.streams} concurrent streams (${o.links} client links, a chunk per stream every ${o.chunkMs} ms); ${failed} failed${failed ? ` (first: ${firstError[0]})` : ''}`);
    console.log('| what | figure |');
    console.log('|---|---|');
    console.log(`| workers connected (PoW + RA-TLS) | ${(connectMs / 1000).toFixed(1)} s |`);
    console.log(`| proxy RSS: idle → ${o.workers} workers → ${o.streams} streams | ${result.memory.proxyIdleMiB.toFixed(0)} → ${result.memory.proxyWithWorkersMiB.toFixed(0)} → ${result.memory.proxyStreamingMiB.toFixed(0)} MiB |`);
    console.log(`| memory per worker / per stream | ${result.memory.proxyKiBPerWorker.toFixed(1)} KiB / ${result.memory.proxyKiBPerStream.toFixed(1)} KiB |`);
    console.log(`| all ${o.streams} streams routed and started | ${(routedMs / 1000).toFixed(1)} s, proxy CPU ${result.routing.proxyCpuUsPerRequest.toFixed(0)} µs per request |`);
    console.log(`| steady streaming | ${result.streaming.chunksPerSecond.toFixed(0)} chunks/s, proxy CPU ${result.streaming.proxyCpuUsPerChunk.toFixed(1)} µs per chunk |`);
    mkdirSync('bench-results', { recursive: true });
    writeFileSync('bench-results/scale-network.json', JSON.stringify(result, null, 2));
    console.log('wrote bench-results/scale-network.json');
  } finally {
    for (const l of links) l.stop();
    await Promise.all(workers.map((w) => w.stop().catch(() => undefined)));
    engine.stop();
    await stopRole(proxy.child);
  }
}

import http from 'node:http';
import { mkdirSync, writeFileSync } from 'node:fs';
import { spawnRole, stopRole } from './spawn-role.ts';

/**
 * `npm run bench -- relay`: the full chain (client → proxy → worker → engine, each its own
 * process, RA-TLS on every hop) against the same test engine directly, streaming requests at zero
 * token delay. Reports req/s, p50/p99 latency at concurrency 1, 10, 30 and the time-to-first-token
 * the chain adds. All processes share this machine's cores with the load generator.
 */
const MODEL = 'Qwen/Qwen3-0.6B';
const LEVELS = [1, 10, 30];
const FIRST_CONTENT = /"content":"[^"]/;
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

interface Sample { latencyMs: number; ttftMs: number }

function streamOnce(baseUrl: string, i: number): Promise<Sample> {
  const body = JSON.stringify({ model: MODEL, stream: true, messages: [{ role: 'user', content: `benchmark request ${i}` }] });
  const url = new URL(`${baseUrl}/chat/completions`);
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`HTTP ${res.statusCode}`));
      let ttft = 0;
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        if (!ttft) {
          buf += d;
          // First token = first non-empty content delta (the role chunk carries an empty one).
          if (FIRST_CONTENT.test(buf)) ttft = performance.now() - t0;
        }
      });
      res.on('end', () => resolve({ latencyMs: performance.now() - t0, ttftMs: ttft || performance.now() - t0 }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function level(baseUrl: string, concurrency: number, durationMs: number) {
  const samples: Sample[] = [];
  let i = 0;
  const deadline = performance.now() + durationMs;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < deadline) samples.push(await streamOnce(baseUrl, i++));
  }));
  const elapsed = (performance.now() - t0) / 1000;
  const pct = (xs: number[], p: number) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))]!; };
  const lat = samples.map((s) => s.latencyMs);
  const ttft = samples.map((s) => s.ttftMs);
  return { concurrency, requests: samples.length, reqPerSec: samples.length / elapsed, p50Ms: pct(lat, 0.5), p99Ms: pct(lat, 0.99), ttftP50Ms: pct(ttft, 0.5), ttftP99Ms: pct(ttft, 0.99) };
}

type LevelResult = Awaited<ReturnType<typeof level>>;

export async function run(args: string[]): Promise<void> {
  const seconds = Number(args.find((a) => a.startsWith('--seconds='))?.split('=')[1] ?? 6);
  const rounds = Number(args.find((a) => a.startsWith('--rounds='))?.split('=')[1] ?? 3);
  const roles = [];
  try {
    const engine = await spawnRole<{ url: string }>(['engine']);
    roles.push(engine.child);
    const proxy = await spawnRole<{ clientPort: number; workerPort: number }>(['proxy']);
    roles.push(proxy.child);
    const worker = await spawnRole(['worker', '--proxy', `127.0.0.1:${proxy.info.workerPort}`, '--backend', engine.info.url, '--max-active', '64']);
    roles.push(worker.child);
    const client = await spawnRole<{ openai: string }>(['client', '--proxy', `127.0.0.1:${proxy.info.clientPort}`]);
    roles.push(client.child);
    const direct = `${engine.info.url}/v1`;
    // Warm up both paths (JIT, TLS sessions, tokenizer caches).
    await level(direct, 4, 1000);
    await level(client.info.openai, 4, 1000);
    const rows = [];
    // Direct and chain alternate in short rounds and the median round counts, so a burst of
    // other load on this shared machine hits both sides alike instead of skewing one.
    const median = <T,>(xs: T[], key: (x: T) => number) => [...xs].sort((a, b) => key(a) - key(b))[Math.floor(xs.length / 2)]!;
    for (const c of LEVELS) {
      const ds: LevelResult[] = [];
      const chs: LevelResult[] = [];
      for (let r = 0; r < rounds; r++) {
        ds.push(await level(direct, c, (seconds * 1000) / rounds));
        chs.push(await level(client.info.openai, c, (seconds * 1000) / rounds));
      }
      const d = median(ds, (x) => x.reqPerSec);
      const ch = median(chs, (x) => x.reqPerSec);
      const ttft = (xs: typeof ds) => median(xs, (x) => x.ttftP50Ms).ttftP50Ms;
      rows.push({ concurrency: c, direct: d, chain: ch, chainShareOfDirect: ch.reqPerSec / d.reqPerSec, addedTtftP50Ms: ttft(chs) - ttft(ds) });
    }
    const fmt = (n: number) => n.toFixed(1).padStart(8);
    console.log('relay benchmark (streaming, zero token delay; chain = client → proxy → worker → engine, separate processes)');
    console.log(' conc |  direct req/s   p50 ms   p99 ms |  chain req/s   p50 ms   p99 ms | chain/direct | added TTFT p50 ms');
    for (const r of rows) {
      console.log(`${String(r.concurrency).padStart(5)} | ${fmt(r.direct.reqPerSec)}     ${fmt(r.direct.p50Ms)} ${fmt(r.direct.p99Ms)} | ${fmt(r.chain.reqPerSec)}    ${fmt(r.chain.p50Ms)} ${fmt(r.chain.p99Ms)} | ${(r.chainShareOfDirect * 100).toFixed(0).padStart(10)} % | ${fmt(r.addedTtftP50Ms)}`);
    }
    mkdirSync('bench-results', { recursive: true });
    writeFileSync('bench-results/relay.json', JSON.stringify({ when: new Date().toISOString(), seconds, rounds, rows }, null, 2));
    console.log('wrote bench-results/relay.json');
  } finally {
    for (const r of roles.reverse()) await stopRole(r);
    agent.destroy();
  }
}

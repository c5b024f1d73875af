import { mkdirSync, writeFileSync } from 'node:fs';
import type { Connection } from '../src/protocol/connection.ts';
import { WorkerPool } from '../src/proxy/worker-pool.ts';

/**
 * `npm run bench -- scale`: the proxy's routing cost per request as the number of workers grows
 * (1 … 10,000 workers of one model, each with room for 10 streams, half of them busy), using the
 * proxy's own WorkerPool. Routing = pick the best worker + account the stream on it + release it.
 * A cost that grows with the workers shows up as ns/request rising along the rows.
 *
 * The routing part of the scale goal; `--network` runs the whole of it (a proxy process
 * holding 1,000 simulated workers and 10,000 concurrent streams over PoW + RA-TLS on loopback:
 * CPU per chunk, memory per stream, CPU per routed request) — scale-network.ts.
 */
const COUNTS = [1, 10, 100, 1000, 10_000];

export async function run(argv: string[]): Promise<void> {
  if (argv.includes('--network')) {
    const { runNetworkScale } = await import('./scale-network.ts');
    return runNetworkScale(argv.filter((a) => a !== '--network'));
  }
  const iterations = Number(argv.find((a) => a.startsWith('--iterations='))?.split('=')[1] ?? 200_000);
  const rows = [];
  // Workers are never written to here: pick() reads only their bookkeeping.
  const noConnection = {} as Connection;
  for (const n of COUNTS) {
    const pool = new WorkerPool();
    const workers = Array.from({ length: n }, (_, i) => pool.add({ connection: noConnection, owner: `w${i}`, model: 'Qwen/Qwen3-8B', coefficient: 1000, maxActive: 10, disabled: false, extensions: false }));
    for (const w of workers) w.active = Math.floor(Math.random() * 10);
    const none = new Set<number>();
    const run = (count: number) => {
      for (let i = 0; i < count; i++) {
        const w = pool.pick('Qwen/Qwen3-8B', 1000, none);
        if (!w) throw new Error(`no worker picked among ${n}`);
        w.active++;
        pool.recordSuccess(w, 10);
        w.active--;
      }
    };
    run(Math.min(iterations, 20_000)); // warm up the JIT
    // Fewer iterations where one is slow, so a row takes about the same time.
    const count = Math.max(2000, Math.floor(iterations / Math.max(1, n / 100)));
    const t0 = process.hrtime.bigint();
    run(count);
    const ns = Number(process.hrtime.bigint() - t0) / count;
    rows.push({ workers: n, nsPerRequest: ns, requestsPerCoreSecond: 1e9 / ns });
  }
  console.log('proxy routing cost per request (WorkerPool.pick + accounting), one model, half-busy workers');
  console.log('| workers | ns/request | requests per core-second |');
  console.log('|---|---|---|');
  for (const r of rows) console.log(`| ${r.workers} | ${r.nsPerRequest.toFixed(0)} | ${r.requestsPerCoreSecond.toFixed(0)} |`);
  mkdirSync('bench-results', { recursive: true });
  writeFileSync('bench-results/scale.json', JSON.stringify({ when: new Date().toISOString(), rows }, null, 2));
  console.log('wrote bench-results/scale.json');
}

import { mkdirSync, writeFileSync } from 'node:fs';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { startLocalNetwork } from '../src/network/local-network.ts';

/**
 * `npm run bench -- fairness`: four ~3.9 MB prompts sent at once, then a tiny request 100 ms
 * later, against the in-process local network (every role on one event loop). Reports the tiny
 * request's latency, each big one's, and the longest event-loop stall, and where the time went
 * (a CPU profile: `node --cpu-prof` over this bench points at the function).
 */
const BIG_BYTES = 3.9 * 1024 * 1024;

async function post(url: string, content: string): Promise<{ ms: number; status: number }> {
  const t0 = performance.now();
  const res = await fetch(`${url}/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'Qwen/Qwen3-0.6B', messages: [{ role: 'user', content }], max_tokens: 4 }),
  });
  await res.text();
  return { ms: Math.round(performance.now() - t0), status: res.status };
}

export async function run(): Promise<void> {
  const net = await startLocalNetwork({ workers: 1 });
  try {
    // Varied words, like a real document (a single repeated word tokenizes unrealistically fast).
    const words = ['alpha', 'beta', 'gamma', 'delta', 'tokenizer', 'network', 'cocoon', 'TON', 'confidential', 'inference'];
    const big = (seed: number) => {
      let s = '';
      let i = seed;
      while (s.length < BIG_BYTES) s += words[(i = (i * 7 + 3) % words.length)] + (i % 3 ? ' ' : '\n');
      return s;
    };
    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    const bigs = [0, 1, 2, 3].map((i) => post(net.openaiUrl, big(i)));
    await new Promise((r) => setTimeout(r, 100));
    const tiny = await post(net.openaiUrl, 'hi');
    const bigResults = await Promise.all(bigs);
    loop.disable();
    const result = { tinyMs: tiny.ms, tinyStatus: tiny.status, bigMs: bigResults.map((b) => b.ms), bigStatus: bigResults.map((b) => b.status), maxLoopStallMs: Math.round(loop.max / 1e6) };
    console.table([result]);
    mkdirSync('bench-results', { recursive: true });
    writeFileSync('bench-results/fairness.json', JSON.stringify(result, null, 2));
  } finally {
    await net.stop();
  }
}

import { mkdirSync, writeFileSync } from 'node:fs';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { createLogger } from '../src/log.ts';
import { startLocalNetwork } from '../src/network/local-network.ts';

/**
 * `npm run bench -- fairness`: four ~3.9 MB prompts sent at once while a tiny request is sent
 * every 250 ms, against the in-process local network (client, proxy and worker on one event
 * loop). Reports the tiny requests' worst and median latency, each big one's, and the longest
 * event-loop stall — once with the test engine on that same loop (how it was: its tokenization
 * of the big prompts stalled every relay) and once on its own thread (the default now).
 * `node --cpu-prof` over this bench points at the function when a stall comes back.
 */
const BIG_BYTES = 3.9 * 1024 * 1024;
const model = 'Qwen/Qwen3-0.6B';

async function post(url: string, content: string): Promise<{ ms: number; status: number }> {
  const t0 = performance.now();
  const res = await fetch(`${url}/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content }], max_tokens: 4 }),
  });
  await res.text();
  return { ms: Math.round(performance.now() - t0), status: res.status };
}

/** Varied words, like a real document (one repeated word tokenizes unrealistically fast); spaces only, so the JSON body stays under the 4 MiB limit. */
function big(seed: number): string {
  const words = ['alpha', 'beta', 'gamma', 'delta', 'tokenizer', 'network', 'cocoon', 'TON', 'confidential', 'inference'];
  const parts: string[] = [];
  let size = 0;
  let i = seed;
  while (size < BIG_BYTES - 16) {
    const w = words[(i = (i * 7 + 3) % words.length)]!;
    parts.push(w);
    size += w.length + 1;
  }
  return parts.join(' ');
}

async function measure(engineThread: boolean): Promise<Record<string, unknown>> {
  const net = await startLocalNetwork({ workers: 1, engineThread, log: createLogger('bench', {}) });
  try {
    await post(net.openaiUrl, 'warm up');
    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    let running = true;
    const bigs = Promise.all([0, 1, 2, 3].map((i) => post(net.openaiUrl, big(i)))).finally(() => { running = false; });
    const tiny: Array<{ ms: number; status: number }> = [];
    await new Promise((r) => setTimeout(r, 100));
    while (running) {
      tiny.push(await post(net.openaiUrl, 'hi'));
      await new Promise((r) => setTimeout(r, 250));
    }
    const bigResults = await bigs;
    loop.disable();
    const sorted = tiny.map((t) => t.ms).sort((a, b) => a - b);
    return {
      engine: engineThread ? 'own thread' : 'same event loop',
      tinyRequests: tiny.length,
      tinyMaxMs: sorted.at(-1) ?? null,
      tinyMedianMs: sorted[Math.floor(sorted.length / 2)] ?? null,
      tinyNon200: tiny.filter((t) => t.status !== 200).length,
      bigMs: bigResults.map((b) => b.ms).join(' '),
      bigStatus: bigResults.map((b) => b.status).join(' '),
      maxLoopStallMs: Math.round(loop.max / 1e6),
    };
  } finally {
    await net.stop();
  }
}

export async function run(): Promise<void> {
  process.env.COCOON_LOG_LEVEL ??= 'warn';
  const rows = [await measure(false), await measure(true)];
  console.table(rows);
  mkdirSync('bench-results', { recursive: true });
  writeFileSync('bench-results/fairness.json', JSON.stringify(rows, null, 2));
}

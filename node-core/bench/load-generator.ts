import { execFile, spawnSync } from 'node:child_process';
import http from 'node:http';

/**
 * Closed-loop load: `concurrency` callers, each sending the same request body again as soon as
 * its previous answer was read to the end, for a fixed time. Two generators measure the same
 * thing: `hey` (Go, what the figures and the reference's benchmark use; cheaper per
 * request than anything in this Node process) and our own, in TS, for machines without hey.
 * Latency is the whole answer (last byte), as hey reports it.
 */
export interface LevelResult {
  concurrency: number;
  requests: number;
  errors: number;
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
}

export type LoadGeneratorName = 'hey' | 'ts';

export interface LoadOptions {
  /** OpenAI base URL ending in /v1. */
  baseUrl: string;
  body: string;
  concurrency: number;
  durationMs: number;
  /** A new TCP connection per request (the reference benchmark runs hey with -disable-keepalive). */
  noKeepalive?: boolean;
}

export function heyInstalled(): boolean {
  return spawnSync('hey', ['-h'], { stdio: 'ignore' }).error === undefined;
}

function percentile(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]! : NaN;
}

function summarize(concurrency: number, latenciesMs: number[], errors: number, elapsedS: number): LevelResult {
  const s = [...latenciesMs].sort((a, b) => a - b);
  return { concurrency, requests: s.length, errors, reqPerSec: s.length / elapsedS, p50Ms: percentile(s, 0.5), p99Ms: percentile(s, 0.99) };
}

/** hey with per-request CSV output, so percentiles come from every request, not hey's histogram. */
export function heyLevel(o: LoadOptions): Promise<LevelResult> {
  const seconds = Math.max(1, Math.round(o.durationMs / 1000));
  const args = ['-z', `${seconds}s`, '-c', String(o.concurrency), '-m', 'POST', '-T', 'application/json', '-d', o.body, '-o', 'csv', ...(o.noKeepalive ? ['-disable-keepalive'] : []), `${o.baseUrl}/chat/completions`];
  return new Promise((resolve, reject) => {
    execFile('hey', args, { maxBuffer: 256 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`hey failed: ${err.message}\n${stderr}`));
      // response-time,DNS+dialup,DNS,Request-write,Response-delay,Response-read,status-code,offset
      const lat: number[] = [];
      let errors = 0;
      let lastOffset = 0;
      for (const line of stdout.split('\n').slice(1)) {
        const f = line.split(',');
        if (f.length < 8) continue;
        if (f[6] === '200') lat.push(Number(f[0]) * 1000);
        else errors++;
        lastOffset = Math.max(lastOffset, Number(f[7]) + Number(f[0]));
      }
      // Requests still in flight when -z ran out are not written; elapsed = hey's own run time.
      resolve(summarize(o.concurrency, lat, errors, Math.max(seconds, lastOffset)));
    });
  });
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 1024 });

function once(url: URL, body: string, noKeepalive: boolean): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', agent: noKeepalive ? false : agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      if (res.statusCode !== 200) { res.resume(); return reject(new Error(`HTTP ${res.statusCode}`)); }
      res.on('data', () => undefined);
      res.on('end', () => resolve(performance.now() - t0));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

export async function tsLevel(o: LoadOptions): Promise<LevelResult> {
  const url = new URL(`${o.baseUrl}/chat/completions`);
  const lat: number[] = [];
  let errors = 0;
  const t0 = performance.now();
  const deadline = t0 + o.durationMs;
  await Promise.all(Array.from({ length: o.concurrency }, async () => {
    while (performance.now() < deadline) {
      try { lat.push(await once(url, o.body, o.noKeepalive ?? false)); } catch { errors++; }
    }
  }));
  return summarize(o.concurrency, lat, errors, (performance.now() - t0) / 1000);
}

export function runLevel(gen: LoadGeneratorName, o: LoadOptions): Promise<LevelResult> {
  return gen === 'hey' ? heyLevel(o) : tsLevel(o);
}

/** The reference benchmark's request body (benchmark/run-benchmark.sh), with the served model. */
export function benchBody(model: string): string {
  return JSON.stringify({
    stream: true, model,
    messages: [{ role: 'user', content: 'hello' }, { role: 'assistant', content: '\nHello! How can I assist you today? 😊' }, { role: 'user', content: 'what is your name' }],
    max_tokens: 8000,
  });
}

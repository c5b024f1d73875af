import type { ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { spawnRole, stopRole } from './spawn-role.ts';

/**
 * `npm run bench -- soak [--minutes N]` (10 by default): the network as separate processes
 * (test engine, proxy, three workers, client; development attestation) under mixed load — chat
 * streamed and not, tool calls, JSON mode, legacy completions, embeddings — while chaos runs:
 * a random worker is killed (SIGKILL) and replaced every 20 s, one request in ten is abandoned
 * by its caller mid-answer, and the proxy is killed and restarted on the same client port every
 * 90 s (shorter runs: four worker kills and two proxy restarts' worth) (its workers are restarted with it: the proxy's worker port is not fixed by a flag, so
 * they are pointed at the new one). Prints requests served, errors by kind, p99 latency and the
 * RSS of every process over time; writes bench-results/soak.json.
 */
const MODEL = 'Qwen/Qwen3-0.6B';
const CONCURRENCY = 6;
const DEV = ['--quote', 'fake', '--policy', 'fake'];

interface Role { child: ChildProcess; name: string }

export async function run(args: string[]): Promise<void> {
  const at = args.indexOf('--minutes');
  const minutes = Number(at >= 0 ? args[at + 1] : (args.find((a) => a.startsWith('--minutes='))?.split('=')[1] ?? 10));
  if (!(minutes > 0)) throw new Error('--minutes must be a positive number');
  // Counted from when the network is up: starting six processes takes a while on a busy machine.
  let deadline = Infinity;
  const roles = new Map<string, Role>();
  const spawn = async <T,>(name: string, argv: string[]): Promise<T> => {
    const { info, child } = await spawnRole<T>(argv);
    roles.set(name, { child, name });
    return info;
  };
  const kill = async (name: string) => {
    const r = roles.get(name);
    roles.delete(name);
    if (r && r.child.exitCode === null && r.child.signalCode === null) {
      const exited = new Promise((res) => r.child.once('exit', res));
      r.child.kill('SIGKILL');
      await exited;
    }
  };

  const served = { total: 0, byKind: {} as Record<string, number> };
  const errors: Record<string, number> = {};
  const latencies: number[] = [];
  const rssSamples: Array<Record<string, number | string>> = [];
  const events: string[] = [];
  const t0 = Date.now();
  const elapsed = () => `${Math.round((Date.now() - t0) / 1000)}s`;

  try {
    const engine = await spawn<{ url: string }>('engine', ['engine', '--token-delay-ms', '2']);
    let proxy = await spawn<{ clientPort: number; workerPort: number }>('proxy', ['proxy', ...DEV, '--pow-difficulty', '4']);
    const startWorker = (i: number) => spawn(`worker${i}`, ['worker', ...DEV, '--proxy', `127.0.0.1:${proxy.workerPort}`, '--backend', engine.url, '--max-active', '8']);
    for (let i = 0; i < 3; i++) await startWorker(i);
    const client = await spawn<{ openai: string }>('client', ['client', '--policy', 'fake', '--proxy', `127.0.0.1:${proxy.clientPort}`]);
    deadline = Date.now() + minutes * 60_000;
    events.push(`${elapsed()} network up`);

    const requests: Array<{ kind: string; path: string; body: Record<string, unknown> }> = [
      { kind: 'chat', path: 'chat/completions', body: { model: MODEL, messages: [{ role: 'user', content: 'soak' }], max_tokens: 24 } },
      { kind: 'chat-stream', path: 'chat/completions', body: { model: MODEL, stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'soak stream' }], max_tokens: 48 } },
      { kind: 'tools', path: 'chat/completions', body: { model: MODEL, messages: [{ role: 'user', content: 'get_time please' }], tools: [{ type: 'function', function: { name: 'get_time', parameters: { type: 'object', properties: { zone: { type: 'string' } }, required: ['zone'] } } }] } },
      { kind: 'json', path: 'chat/completions', body: { model: MODEL, messages: [{ role: 'user', content: 'facts' }], response_format: { type: 'json_object' }, n: 2 } },
      { kind: 'completions', path: 'completions', body: { model: MODEL, prompt: 'Once upon a time', max_tokens: 16 } },
      { kind: 'embeddings', path: 'embeddings', body: { model: MODEL, input: ['soak test', 'cocoon'] } },
    ];

    const one = async (i: number) => {
      const r = requests[i % requests.length]!;
      const abandon = Math.random() < 0.1;
      const ac = new AbortController();
      if (abandon) setTimeout(() => ac.abort(), 5 + Math.random() * 60).unref();
      const start = performance.now();
      try {
        const res = await fetch(`${client.openai}/${r.path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(r.body), signal: ac.signal });
        const text = await res.text();
        if (res.status !== 200) {
          const code = (() => { try { return (JSON.parse(text) as { error?: { code?: string } }).error?.code; } catch { return undefined; } })();
          errors[`http ${res.status}${code ? ` ${code}` : ''}`] = (errors[`http ${res.status}${code ? ` ${code}` : ''}`] ?? 0) + 1;
          return;
        }
        if (r.kind === 'chat-stream' && text.includes('"error"')) { errors['stream error event'] = (errors['stream error event'] ?? 0) + 1; return; }
        served.total++;
        served.byKind[r.kind] = (served.byKind[r.kind] ?? 0) + 1;
        latencies.push(performance.now() - start);
      } catch (err) {
        const kind = ac.signal.aborted ? 'abandoned by caller (intended)' : `fetch ${(err as Error).cause ? String((err as { cause: { code?: string } }).cause.code ?? (err as Error).message) : (err as Error).message}`;
        errors[kind] = (errors[kind] ?? 0) + 1;
      }
    };

    let counter = 0;
    const loops = Array.from({ length: CONCURRENCY }, async () => {
      while (Date.now() < deadline) await one(counter++);
    });

    const chaos = (async () => {
      // Short runs (--minutes 1) still see both kinds of chaos.
      const workerEvery = Math.min(20_000, (minutes * 60_000) / 4);
      const proxyEvery = Math.min(90_000, (minutes * 60_000) / 2);
      let nextWorkerKill = Date.now() + workerEvery;
      let nextProxyRestart = Date.now() + proxyEvery;
      let nextSample = Date.now();
      while (Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 500));
        if (Date.now() >= nextSample) {
          nextSample += 10_000;
          const row: Record<string, number | string> = { t: elapsed(), served: served.total };
          for (const [name, r] of roles) row[name] = r.child.pid ? rssMb(r.child.pid) : 0;
          rssSamples.push(row);
        }
        if (Date.now() >= nextProxyRestart && Date.now() + 15_000 < deadline) {
          nextProxyRestart += proxyEvery;
          events.push(`${elapsed()} proxy killed and restarted`);
          for (let i = 0; i < 3; i++) await kill(`worker${i}`);
          await kill('proxy');
          proxy = await spawn('proxy', ['proxy', ...DEV, '--pow-difficulty', '4', '--port', String(proxy.clientPort)]);
          for (let i = 0; i < 3; i++) await startWorker(i);
        } else if (Date.now() >= nextWorkerKill) {
          nextWorkerKill += workerEvery;
          const i = Math.floor(Math.random() * 3);
          events.push(`${elapsed()} worker${i} killed`);
          await kill(`worker${i}`);
          await startWorker(i);
        }
      }
    })();
    await Promise.all([...loops, chaos]);

    latencies.sort((a, b) => a - b);
    const pct = (p: number) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0);
    const summary = { minutes, served: served.total, servedByKind: served.byKind, errors, p50Ms: pct(0.5), p99Ms: pct(0.99), events };
    console.log(JSON.stringify(summary, null, 2));
    console.log('RSS (MB) over time:');
    console.table(rssSamples);
    mkdirSync('bench-results', { recursive: true });
    writeFileSync('bench-results/soak.json', JSON.stringify({ ...summary, rss: rssSamples }, null, 2));
  } finally {
    for (const r of roles.values()) await stopRole(r.child);
  }
}

function rssMb(pid: number): number {
  try {
    // /proc/PID/status VmRSS in kB (Linux; the bench machines are).
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
  } catch {
    return 0;
  }
}

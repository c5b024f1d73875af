import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cpuMs } from './proc-cpu.ts';
import { benchBody, heyInstalled, runLevel } from './load-generator.ts';
import { spawnNode, spawnRole, stopRole } from './spawn-role.ts';
import type { ChildProcess } from 'node:child_process';

/**
 * `npm run bench -- idle-gc [--runs N] [--idle SECONDS] [--seconds N]`: the proxy's back-to-back
 * full collections after an idle spell (node-core/src/heap-tuning.ts), with and without the heap
 * tuning. Each run starts a fresh chain (fake backend, proxy, worker, client, own processes),
 * loads it at c=30, leaves it idle, loads it twice more, and prints the proxy's CPU per request
 * divided by the client's: a ratio, because absolute CPU moves ±30 % with this shared host. The
 * tuned and untuned chains alternate (`COCOON_HEAP_TUNING=off` for the untuned one).
 */
const FAKE_BACKEND = fileURLToPath(new URL('./fake-openai-backend.ts', import.meta.url));
const TSX = import.meta.resolve('tsx');

async function oneRun(tuned: boolean, idleS: number, seconds: number): Promise<number[]> {
  const env = tuned ? {} : { COCOON_HEAP_TUNING: 'off' };
  const children: ChildProcess[] = [];
  try {
    const backend = await spawnNode<{ url: string; model: string }>('backend', ['--import', TSX, FAKE_BACKEND]);
    children.push(backend.child);
    const dev = ['--quote', 'fake', '--policy', 'fake'];
    const proxy = await spawnRole<{ clientPort: number; workerPort: number }>(['proxy', ...dev, '--pow-difficulty', '4'], env);
    children.push(proxy.child);
    const worker = await spawnRole(['worker', ...dev, '--proxy', `127.0.0.1:${proxy.info.workerPort}`, '--backend', backend.info.url, '--model', backend.info.model, '--max-active', '256'], env);
    children.push(worker.child);
    const client = await spawnRole<{ openai: string }>(['client', '--policy', 'fake', '--proxy', `127.0.0.1:${proxy.info.clientPort}`], env);
    children.push(client.child);
    const body = benchBody(backend.info.model);
    const phase = async () => {
      const p0 = cpuMs(proxy.child.pid!), c0 = cpuMs(client.child.pid!);
      await runLevel(heyInstalled() ? 'hey' : 'ts', { baseUrl: client.info.openai, body, concurrency: 30, durationMs: seconds * 1000 });
      return (cpuMs(proxy.child.pid!) - p0) / (cpuMs(client.child.pid!) - c0);
    };
    const ratios = [await phase()];
    await new Promise((r) => setTimeout(r, idleS * 1000));
    ratios.push(await phase(), await phase());
    return ratios;
  } finally {
    for (const ch of children.reverse()) await stopRole(ch);
  }
}

export async function run(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, strict: true, options: { runs: { type: 'string' }, idle: { type: 'string' }, seconds: { type: 'string' } } });
  const runs = Number(values.runs ?? 3), idleS = Number(values.idle ?? 15), seconds = Number(values.seconds ?? 4);
  if (!Number.isInteger(runs) || runs < 1 || !(idleS >= 0) || !(seconds > 0)) throw new Error('--runs must be a positive integer, --idle >= 0 and --seconds > 0');
  console.log(`proxy CPU ÷ client CPU per request at c=30: load ${seconds} s, idle ${idleS} s, load ${seconds} s twice; fresh chain per run`);
  console.log('| run | heap tuning | before idle | after idle (1) | after idle (2) |');
  console.log('|---|---|---|---|---|');
  for (let r = 1; r <= runs; r++) {
    for (const tuned of r % 2 ? [false, true] : [true, false]) {
      const ratios = await oneRun(tuned, idleS, seconds);
      console.log(`| ${r} | ${tuned ? 'on' : 'off'} | ${ratios.map((x) => x.toFixed(2)).join(' | ')} |`);
    }
  }
}

import { mkdirSync, writeFileSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cpuMs, groupPids, syscalls } from './proc-cpu.ts';
import { benchBody, heyInstalled, runLevel, type LevelResult, type LoadGeneratorName } from './load-generator.ts';
import { missingReferenceBinaries, REFERENCE_ENGINE_PORT, REFERENCE_MODEL, startReferenceNetwork } from './reference-network.ts';
import { startFloorRelay } from './floor-relay.ts';
import { spawnNode, spawnRole, stopRole } from './spawn-role.ts';

/**
 * `npm run bench -- relay [options]`: the full chain (client → proxy → worker → engine, each its
 * own process, PoW + RA-TLS on every hop) against the engine directly, and optionally against
 * the reference node software's local network on the same engine — all in the same alternating
 * rounds, so a burst of other load on this shared machine hits every system alike. Streaming,
 * closed loop, fixed request body (the reference benchmark's). Medians over rounds.
 *
 *   --backend URL|fake   engine: an external OpenAI engine, or `fake` (node-core/bench's fast fake,
 *                        50 chunks per answer); default: our test engine (`cocoon engine`)
 *   --reference DIR      reference build folder (client-runner, proxy-runner, worker-runner,
 *                        tee/router); its network uses the fake engine on :8000
 *   --reference-checkout DIR (default /tmp/cocoon-ref)  --reference-verbosity N (default 1)
 *   --loadgen hey|ts     default hey when installed   --no-keepalive   (hey -disable-keepalive)
 *   --seconds N          per system per round per level (default 3)   --rounds N (default 3)
 *   --levels 1,10,30     --out FILE (default bench-results/relay.json)   --warmup SECONDS (default 4)
 *   --settle-policy production|dev (with settlement on; default production: submit when worth the fee)
 *   --floor              also run the floor: a bare three-process Node TLS relay with no protocol
 *                        work (floor-relay.ts), the most any Node chain of our shape reaches here
 */
const FAKE_BACKEND = fileURLToPath(new URL('./fake-openai-backend.ts', import.meta.url));
// tsx's loader by absolute URL, so the fake backend starts whatever the working directory.
const TSX = import.meta.resolve('tsx');

interface System {
  name: 'direct' | 'ours' | 'settled' | 'reference' | 'floor';
  url: string;
  /** Processes whose CPU is charged to this system while it is measured. */
  processes: () => Array<{ pid: number; name: string }>;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Data events (`data:` lines or JSON lines) in one answer, to express CPU per chunk. */
async function chunksPerAnswer(url: string, body: string): Promise<number> {
  const res = await fetch(`${url}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  if (!res.ok) throw new Error(`${url} answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
  const text = await res.text();
  const n = (text.match(/^data: \{/gm) ?? text.match(/^\{/gm) ?? []).length;
  if (!n) throw new Error(`${url} answered no chunks: ${text.slice(0, 300)}`);
  return n;
}

export async function run(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv, strict: true,
    options: {
      backend: { type: 'string' }, reference: { type: 'string' }, 'reference-checkout': { type: 'string' }, 'reference-verbosity': { type: 'string' },
      loadgen: { type: 'string' }, 'no-keepalive': { type: 'boolean' }, seconds: { type: 'string' }, rounds: { type: 'string' },
      levels: { type: 'string' }, out: { type: 'string' }, warmup: { type: 'string' }, settlement: { type: 'string' }, 'settle-policy': { type: 'string' },
      floor: { type: 'boolean' },
    },
  });
  const settlement = values.settlement ?? 'off';
  if (!['on', 'off', 'both'].includes(settlement)) throw new Error(`--settlement must be on, off or both, got "${settlement}"`);
  // The roles' settle policy with settlement on: production (submit when the fee is worth it,
  // as on testnet/mainnet: what a user pays in speed) unless `--settle-policy dev` (cocoon up's
  // every-few-seconds submissions on the embedded chain).
  const settlePolicy = values['settle-policy'] ?? 'production';
  if (settlePolicy !== 'production' && settlePolicy !== 'dev') throw new Error(`--settle-policy must be production or dev, got "${settlePolicy}"`);
  const seconds = Number(values.seconds ?? 3);
  const rounds = Number(values.rounds ?? 3);
  const levels = (values.levels ?? '1,10,30').split(',').map(Number);
  if (!(seconds > 0) || !Number.isInteger(rounds) || rounds < 1 || levels.some((c) => !Number.isInteger(c) || c < 1)) {
    throw new Error('--seconds must be > 0, --rounds a positive integer, --levels positive integers like 1,10,30');
  }
  const loadgen = (values.loadgen ?? (heyInstalled() ? 'hey' : 'ts')) as LoadGeneratorName;
  if (loadgen !== 'hey' && loadgen !== 'ts') throw new Error(`--loadgen must be hey or ts, got "${loadgen}"`);
  if (loadgen === 'hey' && !heyInstalled()) throw new Error('hey is not installed (apt-get install hey, or --loadgen ts)');
  let referenceDir = values.reference;
  let referenceSkipped: string | null = null;
  if (referenceDir) {
    const missing = missingReferenceBinaries(referenceDir);
    if (missing.length) {
      referenceSkipped = `reference build ${referenceDir} lacks ${missing.join(', ')} (not built yet?): reference skipped`;
      console.log(referenceSkipped);
      referenceDir = undefined;
    } else if (values.backend && values.backend !== 'fake' && new URL(values.backend).port !== String(REFERENCE_ENGINE_PORT)) {
      throw new Error(`the reference worker calls its engine at 127.0.0.1:${REFERENCE_ENGINE_PORT}; with --reference, --backend must be fake or on that port`);
    }
  }
  const backendKind = values.backend ?? (referenceDir ? 'fake' : 'test-engine');

  const children: ChildProcess[] = [];
  const stops: Array<() => Promise<void>> = [];
  try {
    // The engine.
    let engineUrl: string;
    let enginePid: number | null = null;
    if (backendKind === 'fake') {
      const port = referenceDir ? ['--port', String(REFERENCE_ENGINE_PORT)] : [];
      const fake = await spawnNode<{ url: string; pid: number }>('backend', ['--import', TSX, FAKE_BACKEND, ...port]);
      children.push(fake.child);
      engineUrl = fake.info.url;
      enginePid = fake.info.pid;
    } else if (backendKind === 'test-engine') {
      const engine = await spawnRole<{ url: string }>(['engine']);
      children.push(engine.child);
      engineUrl = engine.info.url;
      enginePid = engine.child.pid!;
    } else {
      engineUrl = backendKind.replace(/\/+$/, '').replace(/\/v1$/, '');
    }
    const models = (await (await fetch(`${engineUrl}/v1/models`)).json()) as { data: Array<{ id: string }> };
    const model = referenceDir ? REFERENCE_MODEL : models.data[0]!.id;
    const body = benchBody(model);

    // Our chain, each role its own process. Development attestation and a low PoW difficulty
    // (connection setup only; this measures the relay), both explicit as the CLI requires.
    const dev = ['--quote', 'fake', '--policy', 'fake'];
    const proxy = await spawnRole<{ clientPort: number; workerPort: number }>(['proxy', ...dev, '--pow-difficulty', '4']);
    children.push(proxy.child);
    const worker = await spawnRole(['worker', ...dev, '--proxy', `127.0.0.1:${proxy.info.workerPort}`, '--backend', engineUrl, '--model', model, '--max-active', '256']);
    children.push(worker.child);
    const client = await spawnRole<{ openai: string }>(['client', '--policy', 'fake', '--proxy', `127.0.0.1:${proxy.info.clientPort}`]);
    children.push(client.child);

    const engineProc = enginePid ? [{ pid: enginePid, name: 'engine' }] : [];
    const systems: System[] = [
      { name: 'direct', url: `${engineUrl}/v1`, processes: () => engineProc },
      ...(settlement === 'on' ? [] : [{ name: 'ours' as const, url: client.info.openai, processes: () => [{ pid: client.child.pid!, name: 'client' }, { pid: proxy.child.pid!, name: 'proxy' }, { pid: worker.child.pid!, name: 'worker' }, ...engineProc] }]),
    ];
    if (settlement !== 'off') {
      const settled = await startSettledChain({ dev, engineUrl, model, children, settlePolicy });
      stops.push(settled.stop);
      systems.push({ name: 'settled', url: settled.openai, processes: () => [...settled.pids, ...engineProc] });
    }
    if (values.floor) {
      const floor = await startFloorRelay(engineUrl);
      children.push(...floor.children);
      systems.push({ name: 'floor', url: floor.url, processes: () => [...floor.processes, ...engineProc] });
    }
    if (referenceDir) {
      const ref = await startReferenceNetwork({
        buildDir: referenceDir, checkout: values['reference-checkout'] ?? '/tmp/cocoon-ref',
        verbosity: Number(values['reference-verbosity'] ?? 1), body,
      });
      stops.push(ref.stop);
      systems.push({ name: 'reference', url: ref.openaiUrl, processes: () => [...groupPids(ref.child.pid!).filter((p) => p.name !== 'python3'), ...engineProc] });
    }
    // Pids, for attaching strace/perf to one system while it runs.
    console.log(`processes: ${systems.map((s) => `${s.name}: ${s.processes().map((p) => `${p.name} ${p.pid}`).join(', ')}`).join('; ')}`);
    const chunks = Object.fromEntries(await Promise.all(systems.map(async (s) => [s.name, await chunksPerAnswer(s.url, body)] as const)));

    // Warm up every path (JIT, TLS sessions, connection pools): with 1 s our chain's first c=1
    // figures still carried TurboFan compilation (bench/README.md).
    const warmupMs = Number(values.warmup ?? 4) * 1000;
    for (const s of systems) await runLevel(loadgen, { baseUrl: s.url, body, concurrency: 10, durationMs: warmupMs });

    const noKeepalive = values['no-keepalive'] ?? false;
    const rows = [];
    for (const c of levels) {
      const per: Record<string, { runs: LevelResult[]; cpu: Record<string, number>; sys: Record<string, { reads: number; writes: number }> }> = {};
      for (const s of systems) per[s.name] = { runs: [], cpu: {}, sys: {} };
      for (let r = 0; r < rounds; r++) {
        // Alternate the order too, so no system always runs right after the same other one.
        const order = r % 2 ? [...systems].reverse() : systems;
        for (const s of order) {
          const procs = s.processes();
          const before = procs.map((p) => cpuMs(p.pid));
          const sysBefore = procs.map((p) => syscalls(p.pid));
          const res = await runLevel(loadgen, { baseUrl: s.url, body, concurrency: c, durationMs: seconds * 1000, noKeepalive });
          const acc = per[s.name]!;
          procs.forEach((p, i) => {
            acc.cpu[p.name] = (acc.cpu[p.name] ?? 0) + cpuMs(p.pid) - before[i]!;
            const now = syscalls(p.pid);
            const sum = acc.sys[p.name] ?? { reads: 0, writes: 0 };
            acc.sys[p.name] = { reads: sum.reads + now.reads - sysBefore[i]!.reads, writes: sum.writes + now.writes - sysBefore[i]!.writes };
          });
          per[s.name]!.runs.push(res);
        }
      }
      const row: Record<string, unknown> = { concurrency: c };
      for (const s of systems) {
        const { runs, cpu, sys } = per[s.name]!;
        const total = runs.reduce((a, x) => a + x.requests, 0);
        const rps = runs.map((x) => x.reqPerSec);
        row[s.name] = {
          reqPerSec: median(rps), p50Ms: median(runs.map((x) => x.p50Ms)), p99Ms: median(runs.map((x) => x.p99Ms)),
          errors: runs.reduce((a, x) => a + x.errors, 0),
          // Noise: spread of the rounds around their median.
          spread: (Math.max(...rps) - Math.min(...rps)) / median(rps),
          rounds: runs,
          cpuUsPerChunk: Object.fromEntries(Object.entries(cpu).map(([k, ms]) => [k, total ? (ms * 1000) / (total * chunks[s.name]!) : NaN])),
          // Read/write system calls per chunk (sockets: for small TLS writes one write ≈ one record).
          syscallsPerChunk: Object.fromEntries(Object.entries(sys).map(([k, v]) => [k, { reads: v.reads / (total * chunks[s.name]!), writes: v.writes / (total * chunks[s.name]!) }])),
        };
      }
      rows.push(row);
      printRow(row, systems.map((s) => s.name), c === levels[0], settlePolicy);
    }
    mkdirSync('bench-results', { recursive: true });
    const out = values.out ?? 'bench-results/relay.json';
    writeFileSync(out, JSON.stringify({ when: new Date().toISOString(), settlement, settlePolicy, loadgen, keepalive: !noKeepalive, backend: backendKind, model, seconds, rounds, chunksPerAnswer: chunks, referenceSkipped, rows }, null, 2));
    console.log(`wrote ${out}`);
  } finally {
    for (const s of stops.reverse()) await s().catch(() => undefined);
    for (const ch of children.reverse()) await stopRole(ch);
  }
}

type Cell = { reqPerSec: number; p50Ms: number; p99Ms: number; spread: number; errors: number; cpuUsPerChunk: Record<string, number>; syscallsPerChunk: Record<string, { reads: number; writes: number }> };

function printRow(row: Record<string, unknown>, names: string[], header: boolean, settlePolicy: string): void {
  const cell = (n: string) => row[n] as Cell | undefined;
  const fmt = (x: Cell | undefined) => (x ? `${x.reqPerSec.toFixed(0)} req/s, p50 ${x.p50Ms.toFixed(1)}, p99 ${x.p99Ms.toFixed(1)} (±${(x.spread * 50).toFixed(0)}%${x.errors ? `, ${x.errors} errors` : ''})` : '—');
  const ratio = (a?: Cell, b?: Cell) => (a && b ? (a.reqPerSec / b.reqPerSec).toFixed(2) : '—');
  const settled = cell('settled');
  const ours = cell('ours') ?? settled, ref = cell('reference'), direct = cell('direct');
  if (header) {
    console.log('relay benchmark: streaming, closed loop; chain = client → proxy → worker → engine, separate processes; medians of rounds (± half the spread of rounds)');
    console.log('| c | reference chain | our chain | backend direct | ours ÷ reference | ours ÷ direct | ours added p50 ms | ours p99 ÷ direct p99 |');
    console.log('|---|---|---|---|---|---|---|---|');
  }
  const added = ours && direct ? (ours.p50Ms - direct.p50Ms).toFixed(2) : '—';
  const p99 = ours && direct ? (ours.p99Ms / direct.p99Ms).toFixed(2) : '—';
  console.log(`| ${row.concurrency} | ${names.includes('reference') ? fmt(ref) : 'not run'} | ${fmt(ours)} | ${fmt(direct)} | ${ratio(ours, ref)} | ${ratio(ours, direct)} | ${added} | ${p99} |`);
  const floor = cell('floor');
  if (floor) console.log(`|   | floor (bare Node relay, no protocol work): ${fmt(floor)}; floor ÷ direct ${ratio(floor, direct)}, ours ÷ floor ${ratio(ours, floor)}, floor ÷ reference ${ratio(floor, ref)}, added p50 ${direct ? (floor.p50Ms - direct.p50Ms).toFixed(2) : '—'} ms |`);
  if (settled && cell('ours')) console.log(`|   | settlement on (settle policy ${settlePolicy}): ${fmt(settled)}; on ÷ off ${ratio(settled, cell('ours'))} |`);
  const cpu = (n: string) => { const x = cell(n); return x ? Object.entries(x.cpuUsPerChunk).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ') : ''; };
  console.log(`|   | CPU µs per chunk: ${names.map((n) => `${n}: ${cpu(n)}`).join('; ')} |`);
  const sys = (n: string) => { const x = cell(n); return x ? Object.entries(x.syscallsPerChunk).map(([k, v]) => `${k} ${v.reads.toFixed(2)}r/${v.writes.toFixed(2)}w`).join(', ') : ''; };
  console.log(`|   | syscalls per chunk: ${names.map((n) => `${n}: ${sys(n)}`).join('; ')} |`);
}

/**
 * The same chain with settlement on (`--settle`): an embedded TON chain in this process (its
 * loopback HTTP API announced in a scratch COCOON_HOME), the local proxy contract, a client
 * contract opened with a stake large enough that the bench never waits for credit, and every
 * answer recorded in the proxy ledger, signed to both parties and settled on its timer.
 */
async function startSettledChain(o: { dev: string[]; engineUrl: string; model: string; children: ChildProcess[]; settlePolicy: string }): Promise<{ openai: string; pids: Array<{ pid: number; name: string }>; stop: () => Promise<void> }> {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { toNano } = await import('@ton/core');
  const { startLocalChain } = await import('../src/chain/local/local-chain.ts');
  const { ClientAccount } = await import('../src/payments/client-account.ts');
  const home = mkdtempSync(join(tmpdir(), 'cocoon-bench-settle-'));
  const chain = await startLocalChain({ dataDir: join(home, 'chain'), port: 0, announceFile: join(home, 'local-chain.json') });
  // As `cocoon up`: the development image is allowed on the root, whose allowlist the roles read.
  const { allowImagesOnRoot } = await import('../src/network/root-config.ts');
  const { DEV_IMAGE_HASH } = await import('../src/network/dev-images.ts');
  const owner = chain.wallets.find((w) => w.name === 'owner')!;
  await allowImagesOnRoot({ network: 'local', endpoint: chain.endpoint, rootAddress: chain.rootAddress }, owner.mnemonic, [{ kind: 'proxyImage', hash: DEV_IMAGE_HASH }, { kind: 'workerImage', hash: DEV_IMAGE_HASH }]);
  const env = { COCOON_HOME: home, COCOON_NETWORK: '', COCOON_TON_ENDPOINT: '', COCOON_ROOT_ADDRESS: '' };
  const settle = (wallet: string) => ['--settle', '--local-wallet', wallet, '--settle-policy', o.settlePolicy];
  const proxy = await spawnRole<{ clientPort: number; workerPort: number }>(['proxy', ...o.dev, '--pow-difficulty', '4', ...settle('proxy')], env);
  o.children.push(proxy.child);
  const account = await ClientAccount.openLocal({ endpoint: chain.endpoint, rootAddress: chain.rootAddress, chainDataDir: join(home, 'chain') });
  await account.stake(toNano('5000'));
  const worker = await spawnRole(['worker', ...o.dev, '--proxy', `127.0.0.1:${proxy.info.workerPort}`, '--backend', o.engineUrl, '--model', o.model, '--max-active', '256', ...settle('worker')], env);
  o.children.push(worker.child);
  const client = await spawnRole<{ openai: string }>(['client', '--policy', 'fake', '--proxy', `127.0.0.1:${proxy.info.clientPort}`, ...settle('client')], env);
  o.children.push(client.child);
  return {
    openai: client.info.openai,
    pids: [{ pid: client.child.pid!, name: 'client' }, { pid: proxy.child.pid!, name: 'proxy' }, { pid: worker.child.pid!, name: 'worker' }],
    stop: async () => {
      for (const ch of [client.child, worker.child, proxy.child]) await stopRole(ch);
      await chain.stop();
      rmSync(home, { recursive: true, force: true });
    },
  };
}

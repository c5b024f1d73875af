#!/usr/bin/env node
// `npm run test:interop`: our nodes against a build of the reference node software
// (TelegramMessenger/cocoon). Needs COCOON_REFERENCE_BUILD=DIR (its CMake build folder, with
// proxy-runner, worker-runner, client-runner and tee/router) and the reference source for its
// launcher (COCOON_REFERENCE_SRC, default /tmp/cocoon-ref). Without a build it says so and exits 0:
// CI has none. node-core/src/protocol/README.md describes each pairing and what it proves.
//
// Pairings run:
//   1. our client  → reference router (PoW + RA-TLS) → reference proxy → reference worker → our engine
//   2. reference client → reference proxy → our worker (dialing the reference router) → our engine
// Pairing 3 (reference worker → our proxy) needs a reference worker configured with our proxy's
// address; the README lists the manual steps.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const build = process.env.COCOON_REFERENCE_BUILD;
if (!build) {
  console.log('test:interop skipped: COCOON_REFERENCE_BUILD is not set. Build the reference node software (see node-core/src/protocol/README.md, "Interop with a reference build") and run COCOON_REFERENCE_BUILD=/path/to/build npm run test:interop');
  process.exit(0);
}
const src = process.env.COCOON_REFERENCE_SRC ?? '/tmp/cocoon-ref';
for (const bin of ['proxy-runner', 'worker-runner', 'client-runner', 'tee/router']) {
  if (!existsSync(join(build, bin))) {
    console.error(`test:interop: ${join(build, bin)} is missing; build it (ninja -C BUILD client-runner proxy-runner worker-runner router gen-cert cocoon-subst)`);
    process.exit(2);
  }
}
if (!existsSync(join(src, 'scripts/cocoon-launch'))) {
  console.error(`test:interop: ${join(src, 'scripts/cocoon-launch')} not found; set COCOON_REFERENCE_SRC to the reference source checkout`);
  process.exit(2);
}

const CLI = fileURLToPath(new URL('../node-core/bin/cocoon.mjs', import.meta.url));
// The reference's --local-all layout (scripts/cocoon-launch): router reverse ports for workers
// and clients, its client's HTTP port, the engine address its worker calls, the model it serves.
const REF = { workerPort: 11001, clientPort: 11002, clientHttp: 10000, engine: 8000, model: 'Qwen/Qwen3-8B' };
const OUR_MODEL = 'interop/our-worker';
const children = [];
const results = [];

function start(cmd, args, name, { json = false } = {}) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, COCOON_LOG_LEVEL: process.env.COCOON_LOG_LEVEL ?? 'warn' } });
  children.push(child);
  let tail = '';
  const keep = (d) => { tail = (tail + d).slice(-6000); };
  child.stderr.on('data', keep);
  if (!json) child.stdout.on('data', keep);
  const ready = json
    ? new Promise((resolve, reject) => {
        createInterface({ input: child.stdout }).once('line', (l) => resolve(JSON.parse(l)));
        child.once('exit', (code) => reject(new Error(`${name} exited with ${code}:\n${tail}`)));
      })
    : Promise.resolve(null);
  return { child, ready, tail: () => tail };
}

const cocoon = (args, name) => start(process.execPath, [CLI, ...args, '--json'], name, { json: true });

async function waitPort(port, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise((r) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); r(true); });
      s.once('error', () => r(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function check(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    results.push({ name, ok: true, ms: Date.now() - t0 });
    console.log(`PASS ${name} (${Date.now() - t0} ms)`);
  } catch (err) {
    results.push({ name, ok: false, error: String(err?.message ?? err) });
    console.log(`FAIL ${name}: ${err?.message ?? err}`);
  }
}

async function chatChecks(baseUrl, model) {
  const { default: OpenAI } = await import('openai');
  const openai = new OpenAI({ baseURL: baseUrl, apiKey: 'interop', maxRetries: 0, timeout: 120_000 });
  const models = await openai.models.list();
  if (!models.data.some((m) => m.id === model)) throw new Error(`/v1/models lacks ${model}: ${JSON.stringify(models.data.map((m) => m.id))}`);
  const res = await openai.chat.completions.create({ model, messages: [{ role: 'user', content: 'interop, not streamed' }], max_tokens: 32 });
  if (!res.choices[0]?.message.content) throw new Error(`empty non-streamed answer: ${JSON.stringify(res)}`);
  const stream = await openai.chat.completions.create({ model, messages: [{ role: 'user', content: 'interop, streamed' }], max_tokens: 32, stream: true, stream_options: { include_usage: true } });
  let text = '';
  let usage;
  for await (const c of stream) {
    text += c.choices[0]?.delta.content ?? '';
    if (c.usage) usage = c.usage;
  }
  if (!text) throw new Error('empty streamed answer');
  if (!usage?.completion_tokens) throw new Error(`streamed answer has no usage: ${JSON.stringify(usage)}`);
}

async function main() {
  // Engines: the reference worker calls 127.0.0.1:8000; ours gets its own model on another port.
  const refEngine = cocoon(['engine', '--port', String(REF.engine), '--model', REF.model], 'engine for the reference worker');
  const ourEngine = cocoon(['engine', '--model', OUR_MODEL], 'engine for our worker');
  const [, ours] = await Promise.all([refEngine.ready, ourEngine.ready]);

  const launch = start('python3', [join(src, 'scripts/cocoon-launch'), '--local-all', '--skip-build', '--build-dir', build], 'reference --local-all');
  await waitPort(REF.clientPort);
  await waitPort(REF.clientHttp);

  await check('our client → reference proxy (router PoW + RA-TLS, its worker): /v1/models, chat, streamed chat', async () => {
    const client = cocoon(['client', '--proxy', `127.0.0.1:${REF.clientPort}`, '--policy', 'any'], 'our client');
    const info = await client.ready;
    await chatChecks(info.openai, REF.model);
  });

  await check('our worker → reference proxy, asked by the reference client', async () => {
    const worker = cocoon(['worker', '--proxy', `127.0.0.1:${REF.workerPort}`, '--backend', ours.url, '--model', `${OUR_MODEL}@interop`, '--policy', 'any'], 'our worker');
    await worker.ready;
    // Give the reference proxy a moment to list the new worker.
    await new Promise((r) => setTimeout(r, 3000));
    await chatChecks(`http://127.0.0.1:${REF.clientHttp}/v1`, OUR_MODEL);
  });

  if (results.some((r) => !r.ok)) console.log(`\nreference launcher output (tail):\n${launch.tail()}`);
}

function stopAll() {
  for (const c of children.reverse()) {
    try { process.kill(-c.pid, 'SIGTERM'); } catch { /* already gone */ }
  }
}

process.on('SIGINT', () => { stopAll(); process.exit(130); });
try {
  await main();
} catch (err) {
  console.error(`test:interop: ${err?.message ?? err}`);
  results.push({ name: 'setup', ok: false });
} finally {
  stopAll();
}
console.log(`\n${results.filter((r) => r.ok).length}/${results.length} pairings passed`);
process.exit(results.every((r) => r.ok) ? 0 : 1);

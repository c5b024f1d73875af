import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startClient, type ClientRunner } from '../client/client-runner.ts';
import { createPeerVerifier, createPolicy, createRaTlsIdentity, fakeQuoteProvider } from '../attestation/index.ts';
import { startTestEngine, type TestEngine } from '../inference/test-engine.ts';
import { createLogger } from '../log.ts';
import { DEV_IMAGE_HASH } from '../network/dev-images.ts';
import { LOCAL_POW_DIFFICULTY } from '../protocol/pow.ts';
import { startProxy, type ProxyHandle } from '../proxy/proxy-runner.ts';

/**
 * The real thing, minus TDX and the GPU: the development guest (Debian kernel, busybox initramfs)
 * booted by `cocoon td launch` in emulation mode; the worker inside dials this host's proxy
 * through QEMU user networking (host = 10.0.2.2); a chat request through the client is answered
 * by that worker; `cocoon td stop` from another process powers the guest off through QMP.
 * The test engine stands in for the GPU engine and runs on the host (the guest reaches it at
 * 10.0.2.2): this machine has no GPU, and under TCG an in-guest engine would add minutes.
 */
const CLI = fileURLToPath(new URL('../../bin/cocoon.mjs', import.meta.url));
const BUILD = fileURLToPath(new URL('../../../td-image/dev-guest/build.sh', import.meta.url));
const OWNER = 'UQAuz15H1ZHrZ_psVrAra7HealMIVeFq0wguqlmFno1f3B-m';
const ROOT = 'EQCns7bYSp0igFvS1wpb5wsZjCKCV19MD5AVzI4EyxsnU73k';

function missingPackages(): string[] {
  const missing: string[] = [];
  if (spawnSync('qemu-system-x86_64', ['--version']).status !== 0) missing.push('qemu-system-x86');
  if (!existsSync('/bin/busybox') || spawnSync('ldd', ['/bin/busybox']).status === 0) missing.push('busybox-static');
  if (spawnSync('apt-get', ['--version']).status !== 0) missing.push('apt (to download linux-image-amd64)');
  return missing;
}
const missing = missingPackages();
if (missing.length) {
  console.warn(`SKIPPED dev-guest boot test: missing Debian packages ${missing.join(', ')} — run scripts/install-system-deps.sh`);
}

const freePort = () => new Promise<number>((resolve) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const { port } = s.address() as { port: number };
    s.close(() => resolve(port));
  });
});

describe.skipIf(missing.length > 0)('development guest under the real launcher', () => {
  const log = createLogger('td-int');
  let engine: TestEngine;
  let proxy: ProxyHandle;
  let client: ClientRunner;
  let launcher: ChildProcess | null = null;
  let image: { kernel: string; initrd: string; cmdline: string };
  const dir = mkdtempSync(join(tmpdir(), 'td-guest-'));
  const cocoon = (...args: string[]) => spawnSync(process.execPath, [CLI, 'td', ...args], { encoding: 'utf8', env: { ...process.env, COCOON_LOG_LEVEL: 'warn' } });

  beforeAll(async () => {
    const t0 = Date.now();
    const built = spawnSync('bash', [BUILD], { encoding: 'utf8', timeout: 240_000 });
    expect(built.status, built.stderr).toBe(0);
    image = JSON.parse(built.stdout.trim().split('\n').pop()!);
    console.log(`dev guest built in ${Date.now() - t0} ms (${built.stdout.includes('"cached":true') ? 'kernel and initramfs cached' : 'from the Debian packages'})`);
    engine = await startTestEngine({ log });
    // Development attestation on every hop, as the local network runs it.
    const dev = (role: 'proxy' | 'worker' | 'client') => createPeerVerifier(createPolicy({ name: 'fake', network: 'local', ...(role !== 'client' && { allowedImageHashes: [DEV_IMAGE_HASH] }) }), { expectedRole: role });
    proxy = await startProxy({
      identity: await createRaTlsIdentity({ provider: fakeQuoteProvider(), role: 'proxy' }), log,
      workerVerifier: dev('worker'), clientVerifier: dev('client'),
      // A token proof of work: the guest's worker solves it under TCG emulation.
      powDifficulty: LOCAL_POW_DIFFICULTY,
    });
    client = await startClient({
      proxy: proxy.endpoint, log,
      identity: await createRaTlsIdentity({ provider: null, role: 'client' }),
      verifier: dev('proxy'),
    });
    await client.waitConnected(30_000);
  }, 300_000);

  afterAll(async () => {
    if (launcher && launcher.exitCode === null) {
      cocoon('stop', '--config', join(dir, 'worker.json'), '--timeout-s', '20');
      launcher.kill('SIGKILL');
    }
    await client?.stop();
    await proxy?.stop();
    await engine?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('boots, serves a chat request from inside the guest, and powers off cleanly on td stop', async () => {
    const t0 = Date.now();
    const config = {
      instance: 0, mode: 'emulation', stateDir: join(dir, 'state'),
      image: { kernel: image.kernel, initrd: image.initrd, cmdline: image.cmdline },
      cpus: 2, memoryMiB: 1024,
      ports: { http: await freePort() },
      persistentDisk: { path: join(dir, 'persistent.img'), sizeGiB: 1 },
      model: engine.model, ownerAddress: OWNER, priceCoefficient: 1000,
      network: { name: 'local', rootContract: ROOT, endpoint: 'http://127.0.0.1:1/jsonRPC', proxies: [`10.0.2.2:${proxy.workerEndpoint.port}`] },
      development: { quote: 'fake', policy: 'fake', backend: `http://10.0.2.2:${new URL(engine.url).port}`, shareHostNode: true },
    };
    const configFile = join(dir, 'worker.json');
    writeFileSync(configFile, JSON.stringify(config, null, 2));

    launcher = spawn(process.execPath, [CLI, 'td', 'launch', '--config', configFile, '--json'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, COCOON_LOG_LEVEL: 'warn' } });
    let stderr = '';
    launcher.stderr!.on('data', (d) => (stderr += d));
    const states: Array<{ state: string; at: number }> = [];
    const reached = new Map<string, () => void>();
    const waitFor = (state: string) => new Promise<void>((resolve) => {
      if (states.some((s) => s.state === state)) resolve();
      else reached.set(state, resolve);
    });
    createInterface({ input: launcher.stdout! }).on('line', (line) => {
      const e = JSON.parse(line) as { state: string };
      states.push({ state: e.state, at: Date.now() - t0 });
      reached.get(e.state)?.();
    });
    const launcherExit = new Promise<number | null>((r) => launcher!.once('exit', r));
    const failed = launcherExit.then((code) => { throw new Error(`td launch exited (${code}) early: ${stderr}\nstates: ${JSON.stringify(states)}`); });

    await Promise.race([waitFor('worker connected'), failed]);
    // The only worker the proxy knows is the one inside the guest.
    expect(proxy.stats().workers).toHaveLength(1);

    const openai = new OpenAI({ baseURL: client.openaiUrl, apiKey: 'local' });
    const res = await openai.chat.completions.create({ model: engine.model, messages: [{ role: 'user', content: 'hello from the host' }] });
    expect(res.choices[0]!.message.content!.length).toBeGreaterThan(0);
    expect(res.usage!.completion_tokens).toBeGreaterThan(0);
    expect(proxy.stats().workers[0]!.successes).toBe(1);

    // The guest reports its worker's stats on the console; a completed request means serving.
    await Promise.race([waitFor('serving'), failed]);
    const status = cocoon('status', '--config', configFile, '--json');
    expect(status.status).toBe(0);
    const st = JSON.parse(status.stdout);
    expect(st).toMatchObject({ state: 'serving', mode: 'emulation', vm: 'running', stale: false });
    expect(st.workerStats).toMatchObject({ completed: 1, proxies: [{ connected: true }] });

    // `td stop` from another process (async, so this process keeps reaping the launcher).
    const stopper = spawn(process.execPath, [CLI, 'td', 'stop', '--config', configFile, '--timeout-s', '60'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stopOut = '';
    stopper.stdout!.on('data', (d) => (stopOut += d));
    stopper.stderr!.on('data', (d) => (stopOut += d));
    const stopCode = await new Promise<number | null>((r) => stopper.once('exit', r));
    expect(stopCode, stopOut).toBe(0);
    expect(stopOut).toMatch(/guest powered off cleanly/);
    expect(await launcherExit).toBe(0);
    expect(states.map((s) => s.state)).toEqual(expect.arrayContaining(['starting', 'booted', 'worker connected', 'serving', 'stopping', 'stopped']));
    const after = JSON.parse(cocoon('status', '--config', configFile, '--json').stdout);
    expect(after).toMatchObject({ state: 'stopped', qemuPid: null, supervisorPid: null });
    const logs = cocoon('logs', '--config', configFile);
    expect(logs.stdout).toMatch(/cocoon-guest: power button: stopping/);
    console.log(`dev guest: ${states.map((s) => `${s.state} @${(s.at / 1000).toFixed(1)}s`).join(', ')}; total ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  }, 300_000);
});

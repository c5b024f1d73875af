import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseWorkerConfig } from './config.ts';
import { instancePaths, isAlive, readPid, readStatus } from './state-dir.ts';
import { createTdSupervisor } from './supervisor.ts';

const CLI = fileURLToPath(new URL('../../bin/cocoon.mjs', import.meta.url));
const BUILD = fileURLToPath(new URL('../../../td-image/dev-guest/build.sh', import.meta.url));
const OWNER = 'UQAuz15H1ZHrZ_psVrAra7HealMIVeFq0wguqlmFno1f3B-m';
const ROOT = 'EQCns7bYSp0igFvS1wpb5wsZjCKCV19MD5AVzI4EyxsnU73k';
const hasQemu = spawnSync('qemu-system-x86_64', ['--version']).status === 0;
if (!hasQemu) console.warn('SKIPPED supervisor restart test: qemu-system-x86_64 missing — run scripts/install-system-deps.sh');

describe.skipIf(!hasQemu)('TD supervisor with a real QEMU', () => {
  it('restarts a QEMU that dies unasked with growing delays, then gives up as failed with its error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'td-sup-'));
    // A kernel file QEMU cannot boot: it exits at once, every time.
    writeFileSync(join(dir, 'bad-kernel'), 'not a kernel');
    const config = parseWorkerConfig({
      mode: 'emulation', stateDir: join(dir, 'state'), cpus: 1, memoryMiB: 256,
      image: { kernel: join(dir, 'bad-kernel'), initrd: join(dir, 'bad-kernel') },
      ports: { http: 1 + Math.floor(Math.random() * 1000) + 40000 },
      model: 'm', ownerAddress: 'UQAuz15H1ZHrZ_psVrAra7HealMIVeFq0wguqlmFno1f3B-m',
      network: { name: 'local', rootContract: 'EQCns7bYSp0igFvS1wpb5wsZjCKCV19MD5AVzI4EyxsnU73k', endpoint: 'http://127.0.0.1:1/', proxies: ['10.0.2.2:1'] },
    });
    const sup = createTdSupervisor({ config, accel: 'tcg', restart: { maxRestarts: 2, baseDelayMs: 100 } });
    const seen: Array<{ state: string; at: number; detail?: string }> = [];
    const t0 = Date.now();
    sup.onState((s) => { if (seen.at(-1)?.state !== s.state) seen.push({ state: s.state, at: Date.now() - t0, ...(s.detail && { detail: s.detail }) }); });
    await sup.start();
    await expect(sup.waitForState('booted', 60_000)).rejects.toThrow(/guest failed before reaching "booted"/);
    expect(seen.map((s) => s.state)).toEqual(['starting', 'crashed', 'starting', 'crashed', 'starting', 'failed']);
    expect(seen[1]!.detail).toMatch(/restarting in 100 ms/);
    expect(seen[3]!.detail).toMatch(/restarting in 200 ms/);
    expect(seen.at(-1)!.detail).toMatch(/not restarting: .*kernel/i);
    // The backoff really waited between attempts.
    expect(seen[4]!.at - seen[3]!.at).toBeGreaterThanOrEqual(190);
    expect(sup.status().restarts).toBe(2);
    expect(readStatus(sup.paths)).toMatchObject({ state: 'failed', restarts: 2 });
    expect((await sup.stop()).clean).toBe(false);
    expect(readStatus(sup.paths)).toMatchObject({ state: 'stopped', stale: false });
    rmSync(dir, { recursive: true, force: true });
  }, 90_000);

  it('restarts a QEMU killed mid-run; td status sees a killed supervisor as stale; td stop powers the orphan down or kills it', async () => {
    const built = spawnSync('bash', [BUILD], { encoding: 'utf8', timeout: 240_000 });
    expect(built.status, built.stderr).toBe(0);
    const image = JSON.parse(built.stdout.trim().split('\n').pop()!);
    const dir = mkdtempSync(join(tmpdir(), 'td-orphan-'));
    const configFile = join(dir, 'worker.json');
    writeFileSync(configFile, JSON.stringify({
      mode: 'emulation', stateDir: join(dir, 'state'), cpus: 1, memoryMiB: 512,
      image: { kernel: image.kernel, initrd: image.initrd, cmdline: image.cmdline }, ports: { http: await freePort() },
      model: 'm', ownerAddress: OWNER, network: { name: 'local', rootContract: ROOT, endpoint: 'http://127.0.0.1:1/', proxies: ['10.0.2.2:1'] },
    }));
    const td = (...args: string[]) => spawnSync(process.execPath, [CLI, 'td', ...args, '--config', configFile], { encoding: 'utf8', env: { ...process.env, COCOON_LOG_LEVEL: 'silent' } });
    const launcher = spawn(process.execPath, [CLI, 'td', 'launch', '--config', configFile, '--json', '--accel', 'tcg'], { stdio: ['ignore', 'pipe', 'ignore'] });
    const exited = new Promise((r) => launcher.once('exit', r));
    let qemuPid: number | null = null;
    try {
      for (let i = 0; i < 100 && !qemuPid; i++) {
        await new Promise((r) => setTimeout(r, 200));
        qemuPid = readPid(join(dir, 'state', 'qemu.pid'));
      }
      expect(isAlive(qemuPid)).toBe(true);
      // QEMU killed under a live supervisor: a crash, restarted after the first backoff step.
      const restartsBefore = readStatus(instancePaths(0, join(dir, 'state')))!.restarts;
      process.kill(qemuPid!, 'SIGKILL');
      const first = qemuPid;
      for (let i = 0; i < 100 && (qemuPid === first || !qemuPid); i++) {
        await new Promise((r) => setTimeout(r, 200));
        qemuPid = readPid(join(dir, 'state', 'qemu.pid'));
      }
      expect(qemuPid).not.toBe(first);
      expect(isAlive(qemuPid)).toBe(true);
      expect(readStatus(instancePaths(0, join(dir, 'state')))).toMatchObject({ restarts: restartsBefore + 1, qemuPid });
    } finally {
      launcher.kill('SIGKILL');
      await exited;
    }

    const st = JSON.parse(td('status', '--json').stdout);
    expect(st).toMatchObject({ stale: true, state: 'stopped', supervisorPid: null, qemuPid });
    expect(st.detail).toMatch(/is gone .* QEMU \d+ still runs/);
    // A second launch refuses to start beside the orphan.
    expect(td('launch').stderr).toMatch(/still runs without its supervisor/);

    const stop = td('stop', '--timeout-s', '3');
    if (isAlive(qemuPid)) process.kill(qemuPid!, 'SIGKILL');
    expect(stop.status, stop.stderr).toBe(0);
    expect(stop.stdout).toMatch(new RegExp(`orphaned QEMU ${qemuPid} (powered off|killed)`));
    expect(isAlive(qemuPid)).toBe(false);
    expect(JSON.parse(td('status', '--json').stdout)).toMatchObject({ state: 'stopped', stale: false, qemuPid: null });
    rmSync(dir, { recursive: true, force: true });
  }, 300_000);
});

/**
 * A port free now, for QEMU's host forwarding (the kernel's pick, so not one of the ephemeral
 * ports other tests hold: a random port in 40000–60000 collided, and QEMU's first attempt died).
 */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

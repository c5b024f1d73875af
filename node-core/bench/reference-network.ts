import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * The reference node software's local network (router + proxy-runner + worker-runner +
 * client-runner, fake TON), started by its own launcher (`scripts/cocoon-launch --local-all`) so
 * configs and topology are exactly what its authors run: client HTTP :10000 → router SOCKS5 :8116
 * → [PoW + RA-TLS] → router :11002 → proxy :11102; the worker dials out through router :11001 and
 * calls its engine at 127.0.0.1:8000.
 *
 * Two things are changed for measuring, without touching the reference checkout: the runners get
 * a lower log verbosity (the launcher passes -v3; wrappers in a shim build folder swap it), and
 * the launcher's "cmake --build" step is a no-op (a `cmake` on PATH that does nothing for
 * --build) so a bench never starts a compile. The launcher renders into the fixed folders /tmp/run
 * and /tmp/proxy-db, so only one copy may run at a time.
 */
export const REFERENCE_BINARIES = ['client-runner', 'proxy-runner', 'worker-runner', 'tee/router', 'tee/cocoon-subst'];
export const REFERENCE_CLIENT_URL = 'http://127.0.0.1:10000/v1';
export const REFERENCE_ENGINE_PORT = 8000;
export const REFERENCE_MODEL = 'Qwen/Qwen3-8B';

export function missingReferenceBinaries(buildDir: string): string[] {
  return REFERENCE_BINARIES.filter((b) => !existsSync(join(buildDir, b)));
}

export interface ReferenceNetwork {
  openaiUrl: string;
  stop(): Promise<void>;
  child: ChildProcess;
  logTail(): string;
}

export async function startReferenceNetwork(opts: { buildDir: string; checkout: string; verbosity: number; body: string; readyTimeoutMs?: number }): Promise<ReferenceNetwork> {
  const buildDir = resolve(opts.buildDir);
  const missing = missingReferenceBinaries(buildDir);
  if (missing.length) throw new Error(`reference build ${buildDir} lacks ${missing.join(', ')}`);
  const launcher = join(opts.checkout, 'scripts/cocoon-launch');
  if (!existsSync(launcher)) throw new Error(`no reference launcher at ${launcher}`);

  const shim = mkdtempSync(join(tmpdir(), 'cocoon-ref-shim-'));
  const bin = join(shim, 'bin');
  const build = join(shim, 'build');
  mkdirSync(bin);
  mkdirSync(build);
  writeFileSync(join(bin, 'cmake'), '#!/bin/sh\ncase " $* " in *" --build "*) echo "bench: reference build step skipped (binaries present)"; exit 0;; esac\necho "bench: cmake $* refused" >&2; exit 1\n');
  chmodSync(join(bin, 'cmake'), 0o755);
  writeFileSync(join(build, 'CMakeCache.txt'), '# bench shim: the real build is elsewhere\n');
  symlinkSync(join(buildDir, 'tee'), join(build, 'tee'));
  for (const runner of ['client-runner', 'proxy-runner', 'worker-runner']) {
    const path = join(build, runner);
    // The launcher passes -v3 (info); measuring wants the runners quieter.
    writeFileSync(path, `#!/bin/sh\nreal=${JSON.stringify(join(buildDir, runner))}\nfor a; do shift; if [ "$a" = -v3 ]; then set -- "$@" -v${opts.verbosity}; else set -- "$@" "$a"; fi; done\nexec "$real" "$@"\n`);
    chmodSync(path, 0o755);
  }

  let log = '';
  const child = spawn('python3', [launcher, '--local-all', '--build-dir', build], {
    stdio: ['ignore', 'pipe', 'pipe'], detached: true,
    env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
  });
  const keep = (d: Buffer) => (log = (log + d).slice(-8000));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      // The launcher stops its runners on Ctrl-C; the group kill is the fallback.
      child.kill('SIGINT');
      const timer = setTimeout(() => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ } }, 8000);
      await exited;
      clearTimeout(timer);
    }
    try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* group already gone */ }
    rmSync(shim, { recursive: true, force: true });
  };

  // Ready = one streamed answer came back through the whole chain.
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 120_000);
  for (;;) {
    if (child.exitCode !== null) { await stop(); throw new Error(`reference launcher exited with ${child.exitCode}:\n${log}`); }
    try {
      const res = await fetch(`${REFERENCE_CLIENT_URL}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: opts.body, signal: AbortSignal.timeout(5000) });
      const text = await res.text();
      if (res.ok && text.includes('usage')) break;
    } catch { /* not up yet */ }
    if (Date.now() > deadline) { await stop(); throw new Error(`reference network not answering at ${REFERENCE_CLIENT_URL} after ${opts.readyTimeoutMs ?? 120_000} ms:\n${log}`); }
    await new Promise((r) => setTimeout(r, 1000));
  }
  return { openaiUrl: REFERENCE_CLIENT_URL, stop, child, logTail: () => log };
}

import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, createWriteStream, existsSync, openSync, ftruncateSync, type WriteStream } from 'node:fs';
import { CocoonError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { WorkerConfig } from './config.ts';
import { guestSpec, writeGuestSpec } from './guest-spec.ts';
import { connectQmp } from './qmp.ts';
import { buildQemuArgv, type Accel } from './qemu-args.ts';
import {
  ensureInstanceDir, instancePaths, isAlive, readPid, removeFile, writePid, writeStatus,
  type InstancePaths, type TdState, type TdStatus,
} from './state-dir.ts';

/**
 * Supervises one worker guest: QEMU as a child process, its serial console appended to a log and
 * streamed line by line, QMP for a clean `system_powerdown`, restart with exponential backoff
 * when QEMU dies unasked, and the guest's progress read from the markers its init prints:
 *   starting → booted ("cocoon-guest: booted") → worker connected ("cocoon-guest: worker
 *   connected") → serving (the worker's stats, "cocoon-guest: stats {...}", show a completed
 *   request).
 * Every change is written to the instance's state dir so other shells see it.
 */
export interface TdSupervisorOptions {
  config: WorkerConfig;
  /** Emulation: accelerator to use (the caller probes, see chooseAccel). */
  accel?: Accel;
  /** Emulation: add vhost-vsock. */
  vsock?: boolean;
  log?: Logger;
  /** Seconds the guest gets to power off after system_powerdown before QEMU is killed. */
  powerdownTimeoutMs?: number;
  restart?: { maxRestarts?: number; baseDelayMs?: number; maxDelayMs?: number };
}

export interface TdSupervisor {
  readonly paths: InstancePaths;
  readonly argv: string[];
  status(): TdStatus;
  /** Starts QEMU; resolves once the process runs (watch the state for the guest's progress). */
  start(): Promise<void>;
  /** Clean stop: system_powerdown, then SIGTERM/SIGKILL after the timeout. */
  stop(): Promise<{ clean: boolean }>;
  onState(listener: (status: TdStatus) => void): () => void;
  onConsole(listener: (line: string) => void): () => void;
  /** Resolves when the state is reached; rejects on `failed`/`stopped` first or on timeout. */
  waitForState(state: TdState, timeoutMs: number): Promise<TdStatus>;
}

const ORDER: TdState[] = ['starting', 'booted', 'worker connected', 'serving'];

export function createTdSupervisor(opts: TdSupervisorOptions): TdSupervisor {
  const c = opts.config;
  const paths = instancePaths(c.instance, c.stateDir);
  const emulated = c.mode === 'emulation';
  const accel: Accel = emulated ? opts.accel ?? 'tcg' : 'kvm';
  const spec = guestSpec(c, emulated);
  const argv = buildQemuArgv(c, { paths, accel, vsock: opts.vsock ?? false, shares: spec.shares });
  const powerdownTimeoutMs = opts.powerdownTimeoutMs ?? 60_000;
  const maxRestarts = opts.restart?.maxRestarts ?? 5;
  const baseDelayMs = opts.restart?.baseDelayMs ?? 1000;
  const maxDelayMs = opts.restart?.maxDelayMs ?? 60_000;

  const stateListeners = new Set<(s: TdStatus) => void>();
  const consoleListeners = new Set<(l: string) => void>();
  let status: TdStatus = {
    instance: c.instance, state: 'stopped', mode: c.mode, accel, supervisorPid: process.pid, qemuPid: null,
    restarts: 0, since: new Date().toISOString(),
  };
  let child: ChildProcess | null = null;
  let consoleLog: WriteStream | null = null;
  let stopping = false;
  let restartTimer: NodeJS.Timeout | null = null;
  let exited: Promise<void> = Promise.resolve();

  const setStatus = (patch: Partial<TdStatus>) => {
    const changed = patch.state !== undefined && patch.state !== status.state;
    status = { ...status, ...patch, ...(changed && { since: new Date().toISOString() }) };
    writeStatus(paths, status);
    if (changed) opts.log?.info({ instance: c.instance, state: status.state, detail: status.detail }, 'td state');
    for (const l of stateListeners) l(status);
  };
  // Markers move the state forward only; a restart starts over from `starting`.
  const advance = (state: TdState, patch: Partial<TdStatus> = {}) => {
    if (ORDER.indexOf(state) > ORDER.indexOf(status.state)) setStatus({ ...patch, state });
    else if (Object.keys(patch).length) setStatus(patch);
  };

  const onConsoleLine = (line: string) => {
    for (const l of consoleListeners) l(line);
    const m = /cocoon-guest: (booted|worker connected|stats|halted|worker exited)\b ?(.*)$/.exec(line);
    if (!m) return;
    if (m[1] === 'booted') advance('booted');
    else if (m[1] === 'worker connected') advance('worker connected');
    else if (m[1] === 'stats') {
      let stats: { completed?: number } | undefined;
      try {
        stats = JSON.parse(m[2]!);
      } catch {
        return;
      }
      advance((stats?.completed ?? 0) > 0 ? 'serving' : 'worker connected', { workerStats: stats });
    } else setStatus({ detail: `guest: ${m[1]} ${m[2] ?? ''}`.trim() });
  };

  const pipeLines = (stream: NodeJS.ReadableStream, prefix: string) => {
    let buf = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      consoleLog?.write(prefix ? chunk.replace(/^(?=.)/gm, prefix) : chunk);
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        // Strip terminal control sequences the firmware writes before splitting into lines.
        const line = buf.slice(0, nl).replace(/\r$/, '').replace(/\x1b\[[0-9;?]*[a-zA-Z]/g, '');
        buf = buf.slice(nl + 1);
        onConsoleLine(prefix + line);
      }
    });
  };

  const ensurePersistentDisk = () => {
    const disk = c.persistentDisk;
    if (!disk || existsSync(disk.path)) return;
    // Sparse: takes no space until the guest writes.
    const fd = openSync(disk.path, 'wx');
    try {
      ftruncateSync(fd, disk.sizeGiB * 1024 ** 3);
    } finally {
      closeSync(fd);
    }
  };

  const launch = () => {
    removeFile(paths.qmpSocket);
    setStatus({ state: 'starting', detail: undefined, workerStats: undefined, qemuPid: null });
    consoleLog?.write(`\n--- cocoon: starting QEMU (attempt ${status.restarts + 1}) at ${new Date().toISOString()}\n`);
    const proc = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    child = proc;
    let spawnError: Error | null = null;
    let stderrTail = '';
    proc.stderr!.on('data', (d) => (stderrTail = (stderrTail + d).slice(-2000)));
    pipeLines(proc.stdout!, '');
    pipeLines(proc.stderr!, '[qemu] ');
    proc.once('spawn', () => {
      writePid(paths.qemuPid, proc.pid!);
      setStatus({ qemuPid: proc.pid! });
    });
    exited = new Promise<void>((resolve) => {
      proc.once('error', (err) => { spawnError = err; });
      proc.once('close', (code, signal) => {
        child = null;
        removeFile(paths.qemuPid);
        removeFile(paths.qmpSocket);
        const how = spawnError ? spawnError.message : signal ? `signal ${signal}` : `exit code ${code}`;
        if (stopping) {
          setStatus({ state: 'stopped', qemuPid: null, detail: `QEMU ended (${how})` });
        } else if (spawnError || status.restarts >= maxRestarts) {
          setStatus({ state: 'failed', qemuPid: null, detail: `QEMU ended (${how}), not restarting${stderrTail ? `: ${stderrTail.trim().split('\n').slice(-3).join(' | ')}` : ''}` });
        } else {
          const delay = Math.min(maxDelayMs, baseDelayMs * 2 ** status.restarts);
          setStatus({ state: 'crashed', qemuPid: null, detail: `QEMU ended unexpectedly (${how}); restarting in ${delay} ms${stderrTail ? `: ${stderrTail.trim().split('\n').slice(-1)[0]}` : ''}` });
          restartTimer = setTimeout(() => {
            restartTimer = null;
            if (stopping) return;
            status = { ...status, restarts: status.restarts + 1 };
            launch();
          }, delay);
        }
        resolve();
      });
    });
  };

  return {
    paths,
    argv,
    status: () => status,
    async start() {
      ensureInstanceDir(paths);
      const other = readPid(paths.supervisorPid);
      if (other && other !== process.pid && isAlive(other)) {
        throw new CocoonError('td_running', `instance ${c.instance} is already supervised by process ${other}`, { hint: `cocoon td stop --instance ${c.instance}` });
      }
      const orphan = readPid(paths.qemuPid);
      if (orphan && isAlive(orphan)) {
        throw new CocoonError('td_running', `a QEMU (pid ${orphan}) of instance ${c.instance} still runs without its supervisor`, { hint: `cocoon td stop --instance ${c.instance}` });
      }
      writePid(paths.supervisorPid, process.pid);
      ensurePersistentDisk();
      writeGuestSpec(paths.specDir, c, spec);
      consoleLog = createWriteStream(paths.consoleLog, { flags: 'a' });
      stopping = false;
      launch();
      await new Promise<void>((resolve, reject) => {
        child!.once('spawn', () => resolve());
        child!.once('error', (err) => reject(new CocoonError('qemu_missing', `cannot start ${argv[0]}: ${err.message}`, { hint: 'install QEMU (Debian: apt-get install qemu-system-x86)' })));
      });
    },
    async stop() {
      stopping = true;
      if (restartTimer) clearTimeout(restartTimer);
      restartTimer = null;
      let clean = false;
      const proc = child;
      if (proc) {
        setStatus({ state: 'stopping' });
        const gone = exited;
        try {
          const qmp = await connectQmp(paths.qmpSocket);
          try {
            await qmp.execute('system_powerdown');
          } finally {
            qmp.close();
          }
          clean = await Promise.race([gone.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), powerdownTimeoutMs).unref())]);
        } catch (err) {
          opts.log?.warn({ err: (err as Error).message }, 'QMP powerdown failed; terminating QEMU');
        }
        if (!clean) {
          proc.kill('SIGTERM');
          const killed = await Promise.race([gone.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 5000).unref())]);
          if (!killed) proc.kill('SIGKILL');
          await gone;
        }
      }
      setStatus({ state: 'stopped', qemuPid: null, detail: clean ? 'guest powered off cleanly' : proc ? 'QEMU terminated (guest did not power off in time)' : 'not running' });
      await new Promise<void>((r) => (consoleLog ? consoleLog.end(r) : r()));
      consoleLog = null;
      if (readPid(paths.supervisorPid) === process.pid) removeFile(paths.supervisorPid);
      return { clean };
    },
    onState(l) {
      stateListeners.add(l);
      return () => stateListeners.delete(l);
    },
    onConsole(l) {
      consoleListeners.add(l);
      return () => consoleListeners.delete(l);
    },
    waitForState(state, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = (s: TdStatus) => {
          if (s.state === state || (ORDER.includes(state) && ORDER.indexOf(s.state) > ORDER.indexOf(state))) done(() => resolve(s));
          else if (s.state === 'failed' || (s.state === 'stopped' && state !== 'stopped')) done(() => reject(new CocoonError('td_' + s.state, `guest ${s.state} before reaching "${state}": ${s.detail ?? ''}`)));
        };
        const timer = setTimeout(() => done(() => reject(new CocoonError('td_timeout', `guest did not reach "${state}" within ${timeoutMs} ms (now "${status.state}")`))), timeoutMs);
        const off = this.onState(check);
        const done = (f: () => void) => { clearTimeout(timer); off(); f(); };
        check(status);
      });
    },
  };
}

/**
 * Load-probe-start in one call, as the CLI and the app's owner mode both need it: the config is
 * validated, emulation's accelerator chosen (`auto`: KVM when it really works, else TCG), and the
 * supervisor started. Throws CocoonError (bad_config, td_running, qemu_missing) before anything runs.
 */
export async function launchTdGuest(opts: { config: WorkerConfig; accel?: Accel | 'auto'; log?: Logger } & Omit<TdSupervisorOptions, 'config' | 'accel' | 'log'>): Promise<{ supervisor: TdSupervisor; accelReason: string }> {
  const { chooseAccel } = await import('./accel.ts');
  let accel: Accel = 'kvm';
  let accelReason = 'TDX runs on KVM';
  if (opts.config.mode === 'emulation') {
    const chosen = !opts.accel || opts.accel === 'auto' ? await chooseAccel(opts.config.qemu) : { accel: opts.accel, reason: 'chosen explicitly' };
    accel = chosen.accel;
    accelReason = chosen.reason;
  }
  const supervisor = createTdSupervisor({ ...opts, accel });
  await supervisor.start();
  return { supervisor, accelReason };
}

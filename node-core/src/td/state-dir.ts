import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cocoonHome } from '../cocoon-home.ts';

/**
 * One directory per guest instance, so `td status | stop | logs` work from another shell:
 *   supervisor.pid   the supervising process (the `td launch` that owns QEMU)
 *   qemu.pid         QEMU itself
 *   qmp.sock         QMP control socket
 *   console.log      the serial console, appended across restarts
 *   state.json       the latest TdStatus, rewritten on every change
 *   spec/            shared read-only into the guest (worker flags, guest env)
 * A pid file whose process is gone is stale: readers report it and writers replace it.
 */
export type TdState = 'stopped' | 'starting' | 'booted' | 'worker connected' | 'serving' | 'stopping' | 'crashed' | 'failed';

export interface TdStatus {
  instance: number;
  state: TdState;
  mode: 'tdx' | 'emulation';
  accel: 'kvm' | 'tcg';
  supervisorPid: number | null;
  qemuPid: number | null;
  restarts: number;
  since: string;
  detail?: string;
  /** The worker's latest /jsonstats as the guest reported it. */
  workerStats?: unknown;
}

export interface InstancePaths {
  dir: string;
  supervisorPid: string;
  qemuPid: string;
  qmpSocket: string;
  consoleLog: string;
  stateFile: string;
  specDir: string;
}

export function instancePaths(instance: number, stateDir?: string): InstancePaths {
  const dir = stateDir ?? join(cocoonHome(), 'td', String(instance));
  return {
    dir,
    supervisorPid: join(dir, 'supervisor.pid'),
    qemuPid: join(dir, 'qemu.pid'),
    // unix socket paths are limited to ~107 bytes; a deep state dir gets an error at QEMU start.
    qmpSocket: join(dir, 'qmp.sock'),
    consoleLog: join(dir, 'console.log'),
    stateFile: join(dir, 'state.json'),
    specDir: join(dir, 'spec'),
  };
}

export function ensureInstanceDir(p: InstancePaths): void {
  mkdirSync(p.specDir, { recursive: true });
}

export function isAlive(pid: number | null): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  // An exited process its parent has not reaped yet (a zombie) still answers signal 0.
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

export function readPid(file: string): number | null {
  try {
    const n = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

export function writePid(file: string, pid: number): void {
  writeFileSync(file, `${pid}\n`);
}

export function removeFile(file: string): void {
  rmSync(file, { force: true });
}

/** Atomic replace, so a reader never sees half a state file. */
export function writeStatus(p: InstancePaths, status: TdStatus): void {
  const tmp = `${p.stateFile}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(status) + '\n');
  renameSync(tmp, p.stateFile);
}

/**
 * The instance's status as another shell sees it: the recorded state, corrected when the
 * processes it names are gone (a supervisor killed with SIGKILL leaves a stale record).
 */
export function readStatus(p: InstancePaths): TdStatus & { stale: boolean } | null {
  let recorded: TdStatus;
  try {
    recorded = JSON.parse(readFileSync(p.stateFile, 'utf8'));
  } catch {
    return null;
  }
  const supervisorPid = readPid(p.supervisorPid);
  const qemuPid = readPid(p.qemuPid);
  const supervisorAlive = isAlive(supervisorPid);
  const qemuAlive = isAlive(qemuPid);
  const finished = recorded.state === 'stopped' || recorded.state === 'failed';
  const stale = !finished && !supervisorAlive;
  return {
    ...recorded,
    supervisorPid: supervisorAlive ? supervisorPid : null,
    qemuPid: qemuAlive ? qemuPid : null,
    ...(stale && { state: 'stopped' as const, detail: `supervisor ${supervisorPid ?? '?'} is gone (was ${recorded.state})${qemuAlive ? `; QEMU ${qemuPid} still runs: \`cocoon td stop\` powers it down` : ''}` }),
    stale,
  };
}

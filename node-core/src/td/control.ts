import { createReadStream, existsSync, statSync, watchFile, unwatchFile } from 'node:fs';
import { connectQmp } from './qmp.ts';
import { isAlive, readPid, readStatus, removeFile, writeStatus, type InstancePaths, type TdStatus } from './state-dir.ts';

/**
 * `td status | stop | logs` from a shell other than the one running `td launch`: everything goes
 * through the instance's state dir (pid files, QMP socket, console log).
 */

export interface InstanceStatus extends TdStatus {
  stale: boolean;
  /** QEMU's own view through QMP `query-status` when reachable (e.g. "running", "paused"). */
  vm?: string;
}

export async function instanceStatus(paths: InstancePaths): Promise<InstanceStatus | null> {
  const s = readStatus(paths);
  if (!s) return null;
  if (!s.qemuPid) return s;
  try {
    const qmp = await connectQmp(paths.qmpSocket, 2000);
    try {
      const r = await qmp.execute<{ status: string }>('query-status');
      return { ...s, vm: r.status };
    } finally {
      qmp.close();
    }
  } catch {
    return s;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitGone(pid: number, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (!isAlive(pid)) return true;
    await sleep(200);
  }
  return !isAlive(pid);
}

/**
 * Stops an instance. With a live supervisor: SIGTERM it, and it powers the guest down cleanly
 * (its `td launch` handles the signal). Without one (killed, crashed host shell): power the
 * orphaned QEMU down through QMP, then kill it after the timeout, and clear the stale files.
 */
export async function stopInstance(paths: InstancePaths, timeoutMs = 90_000): Promise<{ stopped: boolean; how: string }> {
  const supervisor = readPid(paths.supervisorPid);
  if (supervisor && isAlive(supervisor) && supervisor !== process.pid) {
    process.kill(supervisor, 'SIGTERM');
    if (await waitGone(supervisor, timeoutMs)) {
      const s = readStatus(paths);
      return { stopped: true, how: `supervisor ${supervisor} stopped the guest${s?.detail ? ` (${s.detail})` : ''}` };
    }
    return { stopped: false, how: `supervisor ${supervisor} did not exit within ${timeoutMs} ms` };
  }
  const qemu = readPid(paths.qemuPid);
  let how = 'not running';
  if (qemu && isAlive(qemu)) {
    try {
      const qmp = await connectQmp(paths.qmpSocket, 3000);
      await qmp.execute('system_powerdown').finally(() => qmp.close());
      how = (await waitGone(qemu, timeoutMs)) ? `orphaned QEMU ${qemu} powered off` : '';
    } catch {
      how = '';
    }
    if (!how) {
      process.kill(qemu, 'SIGKILL');
      await waitGone(qemu, 5000);
      how = `orphaned QEMU ${qemu} killed`;
    }
  } else if (supervisor || qemu) {
    how = 'stale state cleared';
  }
  for (const f of [paths.supervisorPid, paths.qemuPid, paths.qmpSocket]) removeFile(f);
  const s = readStatus(paths);
  if (s && (s.stale || s.state !== 'stopped')) {
    const { stale: _stale, ...rest } = s;
    writeStatus(paths, { ...rest, state: 'stopped', supervisorPid: null, qemuPid: null, detail: how });
  }
  return { stopped: true, how };
}

/** Prints the console log; with `follow`, keeps streaming appended text until the signal aborts. */
export async function streamConsoleLog(paths: InstancePaths, write: (chunk: string) => void, opts: { follow?: boolean; tailBytes?: number; signal?: AbortSignal } = {}): Promise<void> {
  if (!existsSync(paths.consoleLog)) return;
  const size = statSync(paths.consoleLog).size;
  const start = opts.tailBytes === undefined ? 0 : Math.max(0, size - opts.tailBytes);
  write(await readRange(paths.consoleLog, start, size));
  if (!opts.follow) return;
  let offset = size;
  await new Promise<void>((resolve) => {
    const onChange = async () => {
      const now = statSync(paths.consoleLog).size;
      if (now > offset) {
        const from = offset;
        offset = now;
        write(await readRange(paths.consoleLog, from, now));
      }
    };
    watchFile(paths.consoleLog, { interval: 300 }, () => void onChange());
    opts.signal?.addEventListener('abort', () => { unwatchFile(paths.consoleLog); resolve(); }, { once: true });
  });
}

function readRange(file: string, start: number, end: number): Promise<string> {
  if (end <= start) return Promise.resolve('');
  return new Promise((resolve, reject) => {
    let s = '';
    createReadStream(file, { start, end: end - 1, encoding: 'utf8' }).on('data', (d) => (s += d)).on('end', () => resolve(s)).on('error', reject);
  });
}

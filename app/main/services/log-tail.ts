import { open } from 'node:fs/promises';
import type { LogLine } from '../../shared/api-contract.ts';

const LEVELS: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
/** Reads at most this much from the end of the file, so a huge log never blocks the app. */
const MAX_BYTES = 1024 * 1024;

/** The last `lines` events of a pino JSON log, as the log viewer shows them. */
export async function readLogTail(file: string, lines: number): Promise<LogLine[]> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, MAX_BYTES);
    const buf = Buffer.alloc(length);
    await handle.read(buf, 0, length, size - length);
    const text = buf.toString('utf8');
    // When the read starts mid-file, the first line is partial: drop it.
    const raw = text.split('\n').slice(size > length ? 1 : 0).filter((l) => l.trim());
    return raw.slice(-lines).map(toLogLine);
  } finally {
    await handle.close();
  }
}

export function toLogLine(raw: string): LogLine {
  try {
    const o = JSON.parse(raw) as { time?: number; level?: number; name?: string; role?: string; msg?: string; err?: { message?: string } } & Record<string, unknown>;
    const { time, level, name, role, msg, pid: _pid, hostname: _h, err, ...rest } = o;
    const extra = Object.entries(rest).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ');
    return {
      time: typeof time === 'number' ? new Date(time).toISOString() : '',
      level: LEVELS[level ?? 30] ?? String(level),
      source: String(role ?? name ?? ''),
      message: [msg ?? '', err?.message ? `error: ${err.message}` : '', extra].filter(Boolean).join(' — '),
    };
  } catch {
    return { time: '', level: 'info', source: '', message: raw };
  }
}

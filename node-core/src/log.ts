import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * Logs: one event per line. People read the terminal, so stderr gets a short human line
 * (`12:03:04.123 INFO  proxy  worker connected  model=Qwen/Qwen3-0.6B`) when it is a terminal or
 * COCOON_LOG_FORMAT=pretty; machines read files, so COCOON_LOG_FILE (or `logToFile`) gets pino's
 * JSON lines. Level from COCOON_LOG_LEVEL (default `info`, `silent` in tests unless asked for).
 * stdout stays free for machine-readable CLI output such as `cocoon up --json`.
 */
const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const OMIT = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg', 'v']);

/** One JSON log line as a line for people; anything unparsable is passed through. */
export function prettyLogLine(json: string): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const time = typeof o.time === 'number' ? new Date(o.time).toISOString().slice(11, 23) : '';
  const level = (LEVEL_NAMES[o.level as number] ?? String(o.level)).padEnd(5);
  const fields = Object.entries(o).filter(([k]) => !OMIT.has(k)).map(([k, v]) => {
    if (k === 'err' && v && typeof v === 'object') return `error=${JSON.stringify((v as { message?: string }).message ?? v)}`;
    return `${k}=${typeof v === 'string' && !/\s/.test(v) ? v : JSON.stringify(v)}`;
  });
  return [time, level, String(o.name ?? ''), String(o.msg ?? ''), ...fields].filter(Boolean).join('  ');
}

function prettyStream(out: NodeJS.WritableStream): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      const text = chunk.toString('utf8');
      out.write(text.split('\n').filter(Boolean).map(prettyLogLine).join('\n') + '\n');
      done();
    },
  });
}

let fileOverride: string | undefined;

/** Sends JSON logs of every logger created afterwards to `file` as well (the app's log viewer reads it). */
export function logToFile(file: string): void {
  mkdirSync(dirname(file), { recursive: true });
  fileOverride = file;
}

export function createLogger(name: string, bindings: Record<string, unknown> = {}): Logger {
  const defaultLevel = process.env.VITEST ? 'silent' : 'info';
  const level = process.env.COCOON_LOG_LEVEL ?? defaultLevel;
  if (level === 'silent') return pino({ name, level });
  const pretty = process.env.COCOON_LOG_FORMAT === 'pretty' || (process.env.COCOON_LOG_FORMAT !== 'json' && process.stderr.isTTY === true);
  const streams: pino.StreamEntry[] = [{ level: level as pino.Level, stream: pretty ? prettyStream(process.stderr) : pino.destination(2) }];
  const file = fileOverride ?? process.env.COCOON_LOG_FILE;
  if (file) streams.push({ level: level as pino.Level, stream: pino.destination({ dest: file, mkdir: true, sync: false }) });
  const options = { name, level, base: { pid: process.pid, ...bindings } };
  return streams.length === 1 && !pretty ? pino(options, pino.destination(2)) : pino(options, pino.multistream(streams));
}

import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * Structured logs, one JSON line per event. Level from COCOON_LOG_LEVEL (default `info`,
 * `silent` in tests unless asked for). Logs go to stderr so stdout stays free for
 * machine-readable CLI output such as `cocoon up --json`.
 */
export function createLogger(name: string, bindings: Record<string, unknown> = {}): Logger {
  const defaultLevel = process.env.VITEST ? 'silent' : 'info';
  return pino(
    { name, level: process.env.COCOON_LOG_LEVEL ?? defaultLevel, base: { pid: process.pid, ...bindings } },
    pino.destination(2),
  );
}

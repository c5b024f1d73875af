import { connect, type Socket } from 'node:net';
import { CocoonError } from '../errors.ts';

/**
 * A minimal QMP client (QEMU Machine Protocol: JSON lines over a unix socket). After the greeting
 * the client must send `qmp_capabilities`; then each command gets exactly one `return` or `error`
 * in order, interleaved with asynchronous `event` messages (SHUTDOWN, POWERDOWN, ...).
 */
export interface QmpClient {
  execute<T = unknown>(command: string, args?: Record<string, unknown>): Promise<T>;
  onEvent(listener: (event: { event: string; data?: unknown }) => void): void;
  close(): void;
}

export async function connectQmp(socketPath: string, timeoutMs = 5000): Promise<QmpClient> {
  const socket: Socket = await new Promise((resolve, reject) => {
    const s = connect(socketPath);
    const t = setTimeout(() => { s.destroy(); reject(new CocoonError('qmp_timeout', `QMP socket ${socketPath} did not answer`)); }, timeoutMs);
    s.once('connect', () => { clearTimeout(t); resolve(s); });
    s.once('error', (err) => { clearTimeout(t); reject(new CocoonError('qmp_unreachable', `cannot connect to QMP socket ${socketPath}: ${(err as NodeJS.ErrnoException).code ?? err.message}`)); });
  });
  const pending: Array<{ resolve: (v: unknown) => void; reject: (e: Error) => void }> = [];
  const listeners: Array<(e: { event: string; data?: unknown }) => void> = [];
  let greeted!: () => void;
  let notGreeted!: (e: Error) => void;
  const greeting = new Promise<void>((resolve, reject) => { greeted = resolve; notGreeted = reject; });
  let buffer = '';
  const failAll = (err: Error) => { for (const p of pending.splice(0)) p.reject(err); };
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    buffer += chunk;
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl).trim();
      buffer = buffer.slice(nl + 1);
      if (!line) continue;
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(line);
      } catch {
        continue;
      }
      if ('QMP' in msg) greeted();
      else if ('event' in msg) for (const l of listeners) l(msg as { event: string; data?: unknown });
      else if ('return' in msg) pending.shift()?.resolve(msg.return);
      else if ('error' in msg) {
        const e = msg.error as { class?: string; desc?: string };
        pending.shift()?.reject(new CocoonError('qmp_error', `QMP: ${e.class ?? 'error'}: ${e.desc ?? ''}`));
      }
    }
  });
  socket.on('close', () => {
    const err = new CocoonError('qmp_closed', 'QMP connection closed');
    notGreeted(err);
    failAll(err);
  });
  socket.on('error', () => undefined);

  const execute = <T>(command: string, args?: Record<string, unknown>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      if (socket.destroyed) return reject(new CocoonError('qmp_closed', 'QMP connection closed'));
      pending.push({ resolve: resolve as (v: unknown) => void, reject });
      socket.write(JSON.stringify(args ? { execute: command, arguments: args } : { execute: command }) + '\n');
    });

  const timer = setTimeout(() => socket.destroy(), timeoutMs);
  try {
    await greeting;
    await execute('qmp_capabilities');
  } catch (err) {
    socket.destroy();
    throw err;
  } finally {
    clearTimeout(timer);
  }
  return {
    execute,
    onEvent: (l) => void listeners.push(l),
    close: () => socket.destroy(),
  };
}

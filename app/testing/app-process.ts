import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** The product's `cocoon` entry, as the browser tests run it. */
export const APP_CLI = fileURLToPath(new URL('../main/cli/cocoon.mjs', import.meta.url));

/**
 * Starts `cocoon app --web --json --data-dir DIR [args]` as its own process and resolves with the
 * JSON line it prints when ready. COCOON_HOME is the data dir, so the embedded chain's
 * announcement file stays inside the test's temp dir.
 */
export function startAppProcess<T>(dataDir: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<{ child: ChildProcess; info: T }> {
  const child = spawn(process.execPath, [APP_CLI, 'app', '--web', '--json', '--data-dir', dataDir, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, COCOON_LOG_LEVEL: 'warn', COCOON_HOME: dataDir, ...env },
  });
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', (l) => resolve({ child, info: JSON.parse(l) as T }));
    child.once('exit', (c) => reject(new Error(`cocoon app exited with ${c}`)));
  });
}

/** Ends the app process with `signal` (SIGTERM: a clean stop) and waits for it; a no-op when it has exited. */
export async function stopAppProcess(child: ChildProcess | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill(signal);
  await exited;
}

import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../bin/cocoon.mjs', import.meta.url));

/**
 * Starts a Node script as its own process and resolves with the JSON ready line it prints first.
 * COCOON_PROFILE_DIR=dir writes a V8 CPU profile per process, in `<dir>/<name>/` (for
 * "where does time go": `node scripts/profile-summary.mjs dir`).
 */
export function spawnNode<T>(name: string, nodeArgs: string[], env: NodeJS.ProcessEnv = {}): Promise<{ info: T; child: ChildProcess }> {
  return new Promise((resolve, reject) => {
    // One folder per process: tsx's loader thread writes a profile too, under its own thread id.
    const profile = process.env.COCOON_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.COCOON_PROFILE_DIR}/${name}`] : [];
    // COCOON_NODE_FLAGS: more Node/V8 flags for every started process (e.g. `--perf-basic-prof`, `--log-deopt`).
    const extra = process.env.COCOON_NODE_FLAGS?.split(/\s+/).filter(Boolean) ?? [];
    const child = spawn(process.execPath, [...profile, ...extra, ...nodeArgs], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, COCOON_LOG_LEVEL: 'warn', ...env } });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', (line) => {
      try {
        resolve({ info: JSON.parse(line) as T, child });
      } catch {
        reject(new Error(`${name} printed "${line.slice(0, 200)}" instead of its JSON ready line:\n${stderr}`));
      }
    });
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code} before it was ready:\n${stderr}`)));
  });
}

/** Starts `cocoon <args> --json` as its own process and resolves with its ready line. */
export function spawnRole<T>(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ info: T; child: ChildProcess }> {
  return spawnNode<T>(args[0]!, [CLI, ...args, '--json'], env);
}

export async function stopRole(child: ChildProcess): Promise<void> {
  // A process ended by a signal has exitCode null but signalCode set.
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

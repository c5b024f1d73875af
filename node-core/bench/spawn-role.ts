import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../bin/cocoon.mjs', import.meta.url));

/** Starts `cocoon <args> --json` as its own process and resolves with its ready line. */
export function spawnRole<T>(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ info: T; child: ChildProcess }> {
  return new Promise((resolve, reject) => {
    // COCOON_PROFILE_DIR=dir writes a V8 CPU profile per role process (for "where does time go").
    const profile = process.env.COCOON_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.COCOON_PROFILE_DIR}`, `--cpu-prof-name=${args[0]}.cpuprofile`] : [];
    const child = spawn(process.execPath, [...profile, CLI, ...args, '--json'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, COCOON_LOG_LEVEL: 'warn', ...env } });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', (line) => resolve({ info: JSON.parse(line) as T, child }));
    child.once('exit', (code) => reject(new Error(`cocoon ${args[0]} exited with ${code} before it was ready:\n${stderr}`)));
  });
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

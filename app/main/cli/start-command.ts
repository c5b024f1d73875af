import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { CliCommand } from '../../../node-core/src/cli/command.ts';
import { command as appCommand } from './app-command.ts';

/**
 * `npm start`: the Electron app when its binary is installed, otherwise web mode — with one line
 * saying why, so a server without Electron (or a machine that cannot download it) still works.
 */
export function findElectronBinary(): { path: string } | { missing: string } {
  let electronPath: string;
  try {
    // The `electron` package's main export is the path of its downloaded binary.
    electronPath = createRequire(import.meta.url)('electron') as string;
  } catch {
    return { missing: 'the electron package is not installed (it is optional; its binary download failed or was skipped)' };
  }
  if (typeof electronPath !== 'string' || !existsSync(electronPath)) return { missing: `the Electron binary is missing (${String(electronPath)})` };
  return { path: electronPath };
}

export const command: CliCommand = {
  summary: 'open the desktop app (Electron), or web mode when the Electron binary is missing',
  usage: 'cocoon start [app flags for web mode]',
  async run(args) {
    const electron = findElectronBinary();
    if ('missing' in electron) {
      process.stderr.write(`Electron is not available: ${electron.missing}. Starting web mode instead.\n`);
      return appCommand.run(['--web', ...args]);
    }
    const { ensureElectronBundle } = await import('../electron/bundle.ts');
    const entry = await ensureElectronBundle();
    const child = spawn(electron.path, [entry, ...args], { stdio: 'inherit' });
    return new Promise((resolve) => child.on('exit', (code) => resolve(code ?? 1)));
  },
};

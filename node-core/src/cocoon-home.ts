import { homedir } from 'node:os';
import { join, resolve, win32 } from 'node:path';
import { CocoonError } from './errors.ts';

/**
 * Where Cocoon keeps its state (local chain, payment stores, collateral cache, TD guests, the
 * app's conversations): the one resolver every command and the app use, so they all agree.
 *
 * Precedence: the command's `--data-dir` flag, else `$COCOON_HOME`, else the platform default —
 * `~/.cocoon` on Linux and macOS (what every release so far used), `%LOCALAPPDATA%\Cocoon` on
 * Windows (`~/.cocoon` when LOCALAPPDATA is unset). An empty or blank COCOON_HOME counts as unset
 * (`COCOON_HOME= cocoon up` means "the default", not the current directory); an empty flag is a
 * mistake and says so. Relative paths are made absolute at once, so a later chdir moves nothing.
 */
export interface HomeSources {
  /** The value of `--data-dir`, when the command was given one. */
  flag?: string | undefined;
  env?: NodeJS.ProcessEnv;
  platform?: NodeJS.Platform;
  /** The user's home directory (tests). */
  home?: string;
}

export function cocoonHome(sources: HomeSources = {}): string {
  const { flag, env = process.env, platform = process.platform } = sources;
  if (flag !== undefined) {
    if (flag.trim() === '') throw new CocoonError('bad_option', '--data-dir is empty', { hint: 'pass a directory, or leave the flag out to use $COCOON_HOME or ~/.cocoon' });
    return resolve(flag);
  }
  const fromEnv = env.COCOON_HOME?.trim();
  if (fromEnv) return resolve(fromEnv);
  return defaultCocoonHome(platform, env, sources.home ?? homedir());
}

export function defaultCocoonHome(platform: NodeJS.Platform, env: NodeJS.ProcessEnv, home: string): string {
  if (platform === 'win32') {
    const local = env.LOCALAPPDATA?.trim();
    return local ? win32.join(local, 'Cocoon') : win32.join(home, '.cocoon');
  }
  return join(home, '.cocoon');
}

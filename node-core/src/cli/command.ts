import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CocoonError } from '../errors.ts';

/** A CLI command module: `cocoon <name> ...args`. Returns the process exit code. */
export interface CliCommand {
  summary: string;
  usage: string;
  run(args: string[]): Promise<number>;
}

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * Strict flag parsing for every command: unknown flags and missing values are errors that
 * name the flag and show the usage, never silently ignored.
 */
export function parseFlags<O extends Options>(args: string[], options: O, usage: string, allowPositionals = true) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals });
  } catch (err) {
    throw new CocoonError('bad_flag', (err as Error).message, { hint: `usage: ${usage}` });
  }
}

/** Parses a flag value as an integer in [min, max], with an error that names the flag. */
export function intFlag(name: string, value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (!/^-?\d+$/.test(value)) throw new CocoonError('bad_flag', `--${name} must be an integer, got "${value}"`);
  const n = Number(value);
  if (n < min || n > max) throw new CocoonError('bad_flag', `--${name} must be between ${min} and ${max}, got ${n}`);
  return n;
}

import { readFileSync } from 'node:fs';
import { CocoonError } from '../errors.ts';
import { apiKeyRequiredByDefault, loadOrCreateApiKey } from './http-gate.ts';

/**
 * Which API key the client's OpenAI endpoint requires, from the command line: a key given
 * (`--api-key`), one read from a file (`--api-key-file`), none deliberately (`--no-api-key`), or
 * the default — none on the local network, and on testnet/mainnet (real money) the key kept in
 * `<data dir>/client-api-key`, generated the first time.
 */
export interface ApiKeyChoice {
  apiKey?: string;
  apiKeyFile?: string;
  noApiKey?: boolean;
  network: 'local' | 'testnet' | 'mainnet';
  dataDir: string;
}

export interface ResolvedApiKey {
  key: string | null;
  /** Where it came from, for the startup line: "flag", a file path, or null. */
  source: string | null;
  created: boolean;
}

const KEY_SHAPE = /^[\x21-\x7e]{16,256}$/;

export function resolveApiKey(c: ApiKeyChoice): ResolvedApiKey {
  const given = [c.apiKey !== undefined, c.apiKeyFile !== undefined, c.noApiKey === true].filter(Boolean).length;
  if (given > 1) throw new CocoonError('bad_flag', 'pass only one of --api-key, --api-key-file and --no-api-key');
  if (c.noApiKey) return { key: null, source: null, created: false };
  if (c.apiKey !== undefined) return { key: checked(c.apiKey, '--api-key'), source: 'flag', created: false };
  if (c.apiKeyFile !== undefined) {
    let text: string;
    try {
      text = readFileSync(c.apiKeyFile, 'utf8');
    } catch (err) {
      throw new CocoonError('bad_flag', `--api-key-file ${c.apiKeyFile} cannot be read: ${(err as Error).message}`);
    }
    return { key: checked(text.trim(), `the key in ${c.apiKeyFile}`), source: c.apiKeyFile, created: false };
  }
  if (!apiKeyRequiredByDefault(c.network)) return { key: null, source: null, created: false };
  const { key, path, created } = loadOrCreateApiKey(c.dataDir);
  return { key, source: path, created };
}

function checked(key: string, what: string): string {
  if (!KEY_SHAPE.test(key)) throw new CocoonError('bad_flag', `${what} must be 16-256 printable characters without spaces`, { hint: 'e.g. openssl rand -hex 24' });
  return key;
}

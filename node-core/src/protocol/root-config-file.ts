import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Address, Cell } from '@ton/core';
import type { RootParams } from '../../../contracts/wrappers/protocol.ts';
import type { TokenCounts } from '../../../contracts/wrappers/economics.ts';

/**
 * The root contract's configuration as the reference node software writes it to a JSON file
 * (`rootConfig.pseudo`, what its fake-TON launcher hands every runner with `--disable-ton FILE`,
 * or `rootConfig.configV5`, the full form it serializes from the chain). A node that runs without
 * TON still derives contract addresses from it, checks model names against its allowlist and
 * compares configuration versions — so ours reads the same file.
 *
 * The pseudo form fixes what it does not name, as the reference does: struct version 1, unique
 * id 13, test network, close delays 600 s (proxy) and 300 s (client), minimum stakes 1 TON,
 * multipliers 1× (10000).
 */
export interface ReferenceRootConfig {
  /** The root's configuration version (`min_config_version` is compared with it). */
  version: number;
  ownerAddress: Address | null;
  params: RootParams;
  codes: { proxy: Cell; worker: Cell; client: Cell };
  /** Allowlists, as 32-byte hashes in hex. Models: sha256 of the model name (before any `@`). */
  proxyHashes: string[];
  workerHashes: string[];
  modelHashes: string[];
  /** Registered proxies: `ip:port` for workers, then for clients. */
  proxies: Array<{ seqno: number; addressForWorkers: string; addressForClients: string }>;
}

class RootConfigFileError extends Error {
  constructor(what: string) {
    super(`root config file: ${what}`);
  }
}

const int = (o: Record<string, unknown>, k: string, dflt?: number): number => {
  const v = o[k] ?? dflt;
  const n = typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n)) throw new RootConfigFileError(`"${k}" must be an integer, got ${JSON.stringify(o[k])}`);
  return n;
};

/** TL's JSON form of int256 is base64 of the 32 bytes. */
function hashList(o: Record<string, unknown>, k: string): string[] {
  const v = o[k] ?? [];
  if (!Array.isArray(v)) throw new RootConfigFileError(`"${k}" must be a list of base64 int256 values`);
  return v.map((h) => {
    const b = typeof h === 'string' ? Buffer.from(h, 'base64') : Buffer.alloc(0);
    if (b.length !== 32) throw new RootConfigFileError(`"${k}" holds ${JSON.stringify(h)}, not a base64 32-byte hash`);
    return b.toString('hex');
  });
}

/** A contract code as a hex BoC; empty means an empty cell (as the reference reads it). */
function code(o: Record<string, unknown>, k: string): Cell {
  const v = o[k] ?? '';
  if (typeof v !== 'string' || !/^([0-9a-f]{2})*$/i.test(v)) throw new RootConfigFileError(`"${k}" must be a hex bag of cells`);
  if (v === '') return Cell.EMPTY;
  try {
    return Cell.fromBoc(Buffer.from(v, 'hex'))[0]!;
  } catch (err) {
    throw new RootConfigFileError(`"${k}" is not a valid bag of cells: ${(err as Error).message}`);
  }
}

/** `rootConfig.registeredProxy.address`: "ip:port" or "workers-ip:port clients-ip:port". */
function proxies(o: Record<string, unknown>): ReferenceRootConfig['proxies'] {
  const v = o.registered_proxies ?? [];
  if (!Array.isArray(v)) throw new RootConfigFileError('"registered_proxies" must be a list');
  return v.map((p: Record<string, unknown>) => {
    const parts = String(p.address ?? '').split(' ');
    if (parts.length > 2 || parts.some((a) => !/^[\w.-]+:\d{1,5}$/.test(a))) throw new RootConfigFileError(`registered proxy address ${JSON.stringify(p.address)} must be "ip:port" or "ip:port ip:port"`);
    return { seqno: int(p, 'seqno'), addressForWorkers: parts[0]!, addressForClients: parts[1] ?? parts[0]! };
  });
}

export const modelNameHash = (name: string): string => createHash('sha256').update(name).digest('hex');

/** Parses either form (the full one is recognized by its `struct_version`). */
export function parseReferenceRootConfig(json: unknown): ReferenceRootConfig {
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw new RootConfigFileError('must be a JSON object');
  const o = json as Record<string, unknown>;
  const full = o.struct_version !== undefined;
  let ownerAddress: Address | null = null;
  if (typeof o.root_owner_address === 'string' && o.root_owner_address !== '') {
    try {
      ownerAddress = Address.parse(o.root_owner_address);
    } catch {
      throw new RootConfigFileError(`"root_owner_address" ${JSON.stringify(o.root_owner_address)} is not a TON address`);
    }
  }
  const params: RootParams = full
    ? {
        structVersion: int(o, 'struct_version'), paramsVersion: int(o, 'params_version'), uniqueId: int(o, 'unique_id'), isTest: int(o, 'is_test') !== 0,
        pricePerToken: BigInt(int(o, 'price_per_token')), workerFeePerToken: BigInt(int(o, 'worker_fee_per_token')),
        promptMultiplier: int(o, 'prompt_tokens_price_multiplier'), cachedMultiplier: int(o, 'cached_tokens_price_multiplier'),
        completionMultiplier: int(o, 'completion_tokens_price_multiplier'), reasoningMultiplier: int(o, 'reasoning_tokens_price_multiplier'),
        proxyDelayBeforeClose: int(o, 'proxy_delay_before_close'), clientDelayBeforeClose: int(o, 'client_delay_before_close'),
        minProxyStake: BigInt(int(o, 'min_proxy_stake')), minClientStake: BigInt(int(o, 'min_client_stake')),
      }
    : {
        structVersion: 1, paramsVersion: int(o, 'params_version'), uniqueId: 13, isTest: true,
        pricePerToken: BigInt(int(o, 'price_per_token')), workerFeePerToken: BigInt(int(o, 'worker_fee_per_token')),
        promptMultiplier: 10_000, cachedMultiplier: 10_000, completionMultiplier: 10_000, reasoningMultiplier: 10_000,
        proxyDelayBeforeClose: 600, clientDelayBeforeClose: 300, minProxyStake: 1_000_000_000n, minClientStake: 1_000_000_000n,
      };
  if (params.structVersion < 0 || params.structVersion > 3) throw new RootConfigFileError(`struct_version ${params.structVersion} is not one we read (0..3)`);
  const modelHashes = hashList(o, 'model_hashes');
  if (!full) {
    // The pseudo form may name models instead: their hash is of the name before any '@'.
    const types = o.model_types ?? [];
    if (!Array.isArray(types)) throw new RootConfigFileError('"model_types" must be a list of model names');
    for (const t of types) modelHashes.push(modelNameHash(String(t).split('@')[0]!));
  }
  return {
    version: int(o, 'version'), ownerAddress, params,
    codes: { proxy: code(o, 'proxy_sc_code'), worker: code(o, 'worker_sc_code'), client: code(o, 'client_sc_code') },
    proxyHashes: hashList(o, 'proxy_hashes'), workerHashes: hashList(o, 'worker_hashes'), modelHashes: [...new Set(modelHashes)].sort(),
    proxies: proxies(o),
  };
}

export function readReferenceRootConfig(path: string): ReferenceRootConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new RootConfigFileError(`cannot read ${path}: ${(err as Error).message}`);
  }
  try {
    return parseReferenceRootConfig(JSON.parse(text));
  } catch (err) {
    if (err instanceof RootConfigFileError) throw new RootConfigFileError(`${path}: ${err.message.replace(/^root config file: /, '')}`);
    throw new RootConfigFileError(`${path} is not JSON: ${(err as Error).message}`);
  }
}

/**
 * The root's price multipliers (basis points, 10000 = 1×) per token kind: what a worker reports
 * adjusted tokens with and a proxy charges with. A node run from a root config file takes them
 * from it (the pseudo form: 1× for every kind), never from our local network's defaults
 * (DEFAULT_PRICING bills cached tokens at 0.1×), or its counts would differ from the reference's.
 */
export function rootMultipliers(config: ReferenceRootConfig): TokenCounts {
  const p = config.params;
  return { prompt: p.promptMultiplier, cached: p.cachedMultiplier, completion: p.completionMultiplier, reasoning: p.reasoningMultiplier };
}

/**
 * What a proxy enforces from its root configuration, as the reference proxy does:
 * - `min_config_version` (in `client.connectToProxy` and every `client.runQueryEx`) above the
 *   version the proxy runs on → error 602 "active config version is too low" (the client wants
 *   a newer configuration, e.g. prices, than this proxy has seen);
 * - with worker hash checks on (always off the test network; on request on it), a worker whose
 *   full announced model name (sha256 of `name@suffix…` as sent) is not in the root's model
 *   hashes → 621 "invalid worker model".
 */
export interface RootRules {
  configVersion(): number;
  /** Null when model hashes are not checked (test network without checks, or no root). */
  modelAllowed(model: string): boolean | null;
}

export function rootRulesOf(config: ReferenceRootConfig, opts: { checkModels: boolean }): RootRules {
  const models = new Set(config.modelHashes);
  return {
    configVersion: () => config.version,
    modelAllowed: (model) => (opts.checkModels ? models.has(modelNameHash(model)) : null),
  };
}

export const CONFIG_TOO_OLD = 'active config version is too low';

/** The reference's check of a client's `min_config_version` (an unsigned comparison). */
export function configVersionTooLow(rules: RootRules | undefined, minConfigVersion: number): boolean {
  return !!rules && minConfigVersion >>> 0 > rules.configVersion() >>> 0;
}

/** What the root rules need from a root read from the chain. */
export interface RootSnapshot {
  version: number;
  /** sha256 of the allowed model names, hex. */
  modelHashes: string[];
  isTest: boolean;
}

/**
 * The same rules for a proxy that settles on chain: built from the root contract as last read,
 * and re-read every `refreshMs`; a new root version replaces the rules (a read that fails keeps
 * the last ones, and is reported through `onError`). Model hashes are checked as the reference
 * proxy checks them: always off the test network, on request (`checkModels`) on it.
 */
export async function liveRootRules(read: () => Promise<RootSnapshot>, opts: { checkModels: boolean; refreshMs: number; onError?: (err: unknown) => void; onChange?: (s: RootSnapshot) => void }): Promise<RootRules & { stop(): void; refresh(): Promise<void> }> {
  let current = await read();
  let models = new Set(current.modelHashes);
  const refresh = async () => {
    try {
      const next = await read();
      if (next.version === current.version) return;
      current = next;
      models = new Set(next.modelHashes);
      opts.onChange?.(next);
    } catch (err) {
      opts.onError?.(err);
    }
  };
  const timer = setInterval(() => void refresh(), opts.refreshMs);
  timer.unref();
  return {
    configVersion: () => current.version,
    modelAllowed: (model) => (opts.checkModels || !current.isTest ? models.has(modelNameHash(model)) : null),
    refresh,
    stop: () => clearInterval(timer),
  };
}

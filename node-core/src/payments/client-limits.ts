/**
 * The client's own spending caps: per request, per session (since the client started), and the
 * highest worker price coefficient it accepts. Parsed once at the boundary — a JSON config file
 * (`{ "maxCostPerRequest": "0.05", "maxCostPerSession": "2 TON", "maxPriceCoefficient": 1.5 }`)
 * and CLI flags (`--max-cost-per-request`, `--max-cost-per-session`, `--max-price-coefficient`,
 * which override the file) — into typed values. Amounts are TON ("0.5", "0.5 TON") or nanoTON
 * ("500000000 nanoTON", "500000000nano"); the coefficient is a multiple of the base price
 * ("1.5" = 1.5 × base, at most 3 decimals; the wire carries thousandths).
 *
 * `checkClientCaps` runs in the client's OpenAI server before a request leaves; the maximum
 * coefficient goes to the proxy with every query (it routes only to workers at or below it).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { CocoonError } from '../errors.ts';
import { nanoToTon } from './pricing.ts';
import { checkCoefficient } from './units.ts';

export interface ClientSpendLimits {
  /** Refuse a request whose worst case exceeds this (nanoTON); null: no cap. */
  maxRequestNano: bigint | null;
  /** Refuse once this session's spending plus the worst case would exceed this; null: no cap. */
  maxSessionNano: bigint | null;
  /** Highest worker coefficient accepted, thousandths (1000 = base price). */
  maxCoefficient: number;
}

export const DEFAULT_SPEND_LIMITS: ClientSpendLimits = { maxRequestNano: null, maxSessionNano: null, maxCoefficient: 4000 };

export const LIMIT_FLAGS = { request: '--max-cost-per-request', session: '--max-cost-per-session', coefficient: '--max-price-coefficient' } as const;

const TON_RE = /^(\d{1,10})(?:\.(\d{1,9}))?\s*(?:ton)?$/i;
const NANO_RE = /^(\d{1,19})\s*(?:nano|nanoton)$/i;

/** "0.5" / "0.5 TON" → 500000000n, "1500 nanoTON" → 1500n, exactly; anything else is a clear error naming the setting. */
export function parseTon(name: string, value: string): bigint {
  const v = value.trim();
  const nano = NANO_RE.exec(v);
  if (nano) return BigInt(nano[1]!);
  const ton = TON_RE.exec(v);
  if (!ton) throw new CocoonError('bad_amount', `${name} must be an amount like "0.5" or "0.5 TON" (at most 9 decimals) or "500000000 nanoTON", got "${value}"`);
  return BigInt(ton[1]!) * 1_000_000_000n + BigInt((ton[2] ?? '').padEnd(9, '0'));
}

/** "1.5" → 1500 (thousandths of the base price). */
export function parseCoefficient(name: string, value: string | number): number {
  const v = String(value).trim();
  const m = /^(\d{1,7})(?:\.(\d{1,3}))?$/.exec(v);
  const thousandths = m ? Number(m[1]) * 1000 + Number((m[2] ?? '').padEnd(3, '0')) : NaN;
  try {
    if (!m) throw new Error('bad');
    checkCoefficient(thousandths);
  } catch {
    throw new CocoonError('bad_amount', `${name} must be a multiple of the base price between 0.001 and 1000000 with at most 3 decimals (1 = base price, 1.5 = 50% dearer), got "${v}"`);
  }
  return thousandths;
}

const amount = z.union([z.string(), z.number()]).transform(String);
const configSchema = z.object({
  maxCostPerRequest: amount.optional(),
  maxCostPerSession: amount.optional(),
  maxPriceCoefficient: amount.optional(),
}).strict();

export interface LimitStrings { request?: string | undefined; session?: string | undefined; coefficient?: string | undefined }

/** Validates a limits config object (the JSON file's content); `source` names it in errors. */
export function parseSpendLimits(raw: unknown, source = 'client limits'): ClientSpendLimits {
  return fromStrings(limitStringsOfConfig(raw, source), { request: `${source}: maxCostPerRequest`, session: `${source}: maxCostPerSession`, coefficient: `${source}: maxPriceCoefficient` }, 'bad_config');
}

export function limitStringsOfConfig(raw: unknown, source = 'client limits'): LimitStrings {
  const parsed = configSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    throw new CocoonError('bad_config', `${source}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`, {
      hint: 'expected { "maxCostPerRequest": "0.1", "maxCostPerSession": "5 TON", "maxPriceCoefficient": 2 } (all optional)',
    });
  }
  return { request: parsed.data.maxCostPerRequest, session: parsed.data.maxCostPerSession, coefficient: parsed.data.maxPriceCoefficient };
}

/**
 * From CLI flags, over a config file's values (`base`): a flag wins. Amounts and the coefficient
 * are checked here, at the boundary.
 */
export function spendLimitsFromFlags(v: { 'max-cost-per-request'?: string | undefined; 'max-cost-per-session'?: string | undefined; 'max-price-coefficient'?: string | undefined }, base: LimitStrings = {}): ClientSpendLimits {
  return fromStrings(
    { request: v['max-cost-per-request'] ?? base.request, session: v['max-cost-per-session'] ?? base.session, coefficient: v['max-price-coefficient'] ?? base.coefficient },
    LIMIT_FLAGS, 'bad_flag',
  );
}

function fromStrings(s: LimitStrings, names: { request: string; session: string; coefficient: string }, code: string): ClientSpendLimits {
  try {
    const limits: ClientSpendLimits = {
      maxRequestNano: s.request === undefined ? null : parseTon(names.request, s.request),
      maxSessionNano: s.session === undefined ? null : parseTon(names.session, s.session),
      maxCoefficient: s.coefficient === undefined ? DEFAULT_SPEND_LIMITS.maxCoefficient : parseCoefficient(names.coefficient, s.coefficient),
    };
    if (limits.maxRequestNano === 0n || limits.maxSessionNano === 0n) throw new CocoonError(code, 'a spending cap of 0 TON would refuse every request; leave it out for no cap');
    return limits;
  } catch (err) {
    if (err instanceof CocoonError && err.code === 'bad_amount') throw new CocoonError(code, err.message);
    throw err;
  }
}

/** OpenAI's error envelope for a request the client's own caps refuse. */
export interface CapErrorBody {
  error: {
    message: string;
    type: 'invalid_request_error' | 'insufficient_quota';
    param: string | null;
    code: 'request_cost_cap' | 'session_cost_cap' | 'price_coefficient_cap';
    needed_nano: string;
    cap_nano?: string;
    spent_nano?: string;
  };
}

export type CapCheck = { ok: true } | { ok: false; status: 400 | 429; body: CapErrorBody };

/**
 * Runs on the client before sending: the request's worst case vs its own caps. A request above
 * the per-request cap is the request's fault (400, lower max_tokens); a session at its cap is
 * out of quota (429 `insufficient_quota`, as OpenAI answers a spent quota).
 */
export function checkClientCaps(input: { worstCaseNano: bigint; sessionSpentNano: bigint; sessionReservedNano: bigint; coefficient?: number; limits: ClientSpendLimits }): CapCheck {
  const { limits } = input;
  const ton = (n: bigint) => `${nanoToTon(n)} TON`;
  if (input.coefficient !== undefined && input.coefficient > limits.maxCoefficient) {
    return { ok: false, status: 400, body: { error: { type: 'invalid_request_error', param: null, code: 'price_coefficient_cap', needed_nano: '0',
      message: `The worker's price coefficient ${input.coefficient / 1000} exceeds your maximum ${limits.maxCoefficient / 1000}; raise ${LIMIT_FLAGS.coefficient} (or maxPriceCoefficient in the client limits file) to accept it.` } } };
  }
  if (limits.maxRequestNano !== null && input.worstCaseNano > limits.maxRequestNano) {
    return { ok: false, status: 400, body: { error: { type: 'invalid_request_error', param: 'max_tokens', code: 'request_cost_cap', needed_nano: input.worstCaseNano.toString(), cap_nano: limits.maxRequestNano.toString(),
      message: `This request may cost up to ${ton(input.worstCaseNano)}, above your per-request cap of ${ton(limits.maxRequestNano)}; lower max_tokens (or shorten the prompt), or raise the cap with ${LIMIT_FLAGS.request} (maxCostPerRequest in the client limits file).` } } };
  }
  const committed = input.sessionSpentNano + input.sessionReservedNano;
  if (limits.maxSessionNano !== null && committed + input.worstCaseNano > limits.maxSessionNano) {
    return { ok: false, status: 429, body: { error: { type: 'insufficient_quota', param: null, code: 'session_cost_cap', needed_nano: input.worstCaseNano.toString(), cap_nano: limits.maxSessionNano.toString(), spent_nano: input.sessionSpentNano.toString(),
      message: `This session has spent ${ton(input.sessionSpentNano)} (+ ${ton(input.sessionReservedNano)} in flight); this request may cost up to ${ton(input.worstCaseNano)}, above your session cap of ${ton(limits.maxSessionNano)}. Raise ${LIMIT_FLAGS.session} (maxCostPerSession in the client limits file), lower max_tokens, or restart the client for a new session.` } } };
  }
  return { ok: true };
}

/** The CLI flags of the client's caps (`cocoon client`, `cocoon up`), for parseFlags. */
export const LIMIT_FLAG_SPEC = {
  'max-cost-per-request': { type: 'string' }, 'max-cost-per-session': { type: 'string' }, 'max-price-coefficient': { type: 'string' }, 'limits-file': { type: 'string' },
} as const;

export const LIMITS_FILE = 'client-limits.json';

/**
 * The client's caps from its flags over its limits file (`--limits-file FILE`, else
 * `<data dir>/client-limits.json` when present); undefined when neither sets anything.
 */
export function loadClientLimits(values: { 'max-cost-per-request'?: string | undefined; 'max-cost-per-session'?: string | undefined; 'max-price-coefficient'?: string | undefined; 'limits-file'?: string | undefined }, dataDir: string): ClientSpendLimits | undefined {
  const file = values['limits-file'] ?? join(dataDir, LIMITS_FILE);
  let base: LimitStrings = {};
  if (values['limits-file'] !== undefined || existsSync(file)) {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new CocoonError('bad_config', `cannot read the client limits file ${file}: ${(err as Error).message}`, { hint: 'a JSON object like { "maxCostPerRequest": "0.1", "maxCostPerSession": "5 TON", "maxPriceCoefficient": 2 }' });
    }
    base = limitStringsOfConfig(raw, file);
    // Checked with the file named, before flags may override parts of it.
    parseSpendLimits(raw, file);
  }
  const flags = { 'max-cost-per-request': values['max-cost-per-request'], 'max-cost-per-session': values['max-cost-per-session'], 'max-price-coefficient': values['max-price-coefficient'] };
  if (Object.values(flags).every((v) => v === undefined) && Object.values(base).every((v) => v === undefined)) return undefined;
  return spendLimitsFromFlags(flags, base);
}

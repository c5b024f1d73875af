/**
 * The client's own spending caps: per request, per session, and the highest worker price
 * coefficient it accepts. Parsed once at the boundary (config file or CLI flags) into typed values;
 * `checkClientCaps` runs before a request leaves the client.
 */
import { z } from 'zod';
import { CocoonError } from '../errors.ts';
import { nanoToTon } from './pricing.ts';
import type { PaymentErrorBody } from './admission.ts';
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

const TON_RE = /^\d{1,10}(\.\d{1,9})?$/;

/** "0.5" → 500000000n, exactly; anything else is a clear error naming the setting. */
export function parseTon(name: string, value: string): bigint {
  if (!TON_RE.test(value)) throw new CocoonError('bad_amount', `${name} must be an amount of TON like "0.5" (at most 9 decimals), got "${value}"`);
  const [whole, frac = ''] = value.split('.');
  return BigInt(whole!) * 1_000_000_000n + BigInt(frac.padEnd(9, '0'));
}

const configSchema = z.object({
  maxRequestTon: z.string().optional(),
  maxSessionTon: z.string().optional(),
  maxCoefficient: z.number().int().optional(),
}).strict();

/** Validates the `limits` section of a client config (`{ maxRequestTon?, maxSessionTon?, maxCoefficient? }`). */
export function parseSpendLimits(raw: unknown): ClientSpendLimits {
  const parsed = configSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    throw new CocoonError('bad_config', `client spending limits: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`, {
      hint: 'expected { "maxRequestTon": "0.1", "maxSessionTon": "5", "maxCoefficient": 2000 } (all optional)',
    });
  }
  return fromStrings(parsed.data.maxRequestTon, parsed.data.maxSessionTon, parsed.data.maxCoefficient, 'limits.');
}

/** Same from CLI flags `--max-request-ton`, `--max-session-ton`, `--max-coefficient`. */
export function spendLimitsFromFlags(v: { 'max-request-ton'?: string; 'max-session-ton'?: string; 'max-coefficient'?: string }): ClientSpendLimits {
  let coef: number | undefined;
  if (v['max-coefficient'] !== undefined) {
    if (!/^\d+$/.test(v['max-coefficient'])) throw new CocoonError('bad_flag', `--max-coefficient must be an integer in thousandths (1000 = base price), got "${v['max-coefficient']}"`);
    coef = Number(v['max-coefficient']);
  }
  return fromStrings(v['max-request-ton'], v['max-session-ton'], coef, '--', 'bad_flag');
}

function fromStrings(req: string | undefined, ses: string | undefined, coef: number | undefined, prefix: string, code = 'bad_config'): ClientSpendLimits {
  const names = prefix === '--' ? ['--max-request-ton', '--max-session-ton', '--max-coefficient'] : [`${prefix}maxRequestTon`, `${prefix}maxSessionTon`, `${prefix}maxCoefficient`];
  try {
    const limits: ClientSpendLimits = {
      maxRequestNano: req === undefined ? null : parseTon(names[0]!, req),
      maxSessionNano: ses === undefined ? null : parseTon(names[1]!, ses),
      maxCoefficient: coef ?? DEFAULT_SPEND_LIMITS.maxCoefficient,
    };
    try {
      checkCoefficient(limits.maxCoefficient);
    } catch {
      throw new CocoonError(code, `${names[2]} must be an integer between 1 and 10^9 (thousandths; 1000 = base price), got ${limits.maxCoefficient}`);
    }
    if (limits.maxRequestNano === 0n || limits.maxSessionNano === 0n) throw new CocoonError(code, 'a spending cap of 0 TON would refuse every request; leave it out for no cap');
    return limits;
  } catch (err) {
    if (err instanceof CocoonError && err.code === 'bad_amount') throw new CocoonError(code, err.message);
    throw err;
  }
}

export type CapCheck = { ok: true } | { ok: false; status: 402; body: PaymentErrorBody };

/** Runs on the client before sending: worst case vs its own caps, and the coefficient it will pay. */
export function checkClientCaps(input: { worstCaseNano: bigint; sessionSpentNano: bigint; sessionReservedNano: bigint; coefficient?: number; limits: ClientSpendLimits }): CapCheck {
  const { limits } = input;
  const ton = (n: bigint) => `${nanoToTon(n)} TON`;
  if (input.coefficient !== undefined && input.coefficient > limits.maxCoefficient) {
    return refuse('price_coefficient_cap', 0n, `The worker's price coefficient ${input.coefficient / 1000} exceeds your maximum ${limits.maxCoefficient / 1000}; raise --max-coefficient to accept it.`);
  }
  if (limits.maxRequestNano !== null && input.worstCaseNano > limits.maxRequestNano) {
    return refuse('request_cost_cap', input.worstCaseNano, `This request may cost up to ${ton(input.worstCaseNano)}, above your per-request cap of ${ton(limits.maxRequestNano)}; lower max_tokens or raise --max-request-ton.`);
  }
  const committed = input.sessionSpentNano + input.sessionReservedNano;
  if (limits.maxSessionNano !== null && committed + input.worstCaseNano > limits.maxSessionNano) {
    return refuse('session_cost_cap', input.worstCaseNano, `This session has spent ${ton(input.sessionSpentNano)} (+ ${ton(input.sessionReservedNano)} in flight); this request may cost up to ${ton(input.worstCaseNano)}, above your session cap of ${ton(limits.maxSessionNano)}. Raise --max-session-ton or start a new session.`);
  }
  return { ok: true };
}

function refuse(code: 'request_cost_cap' | 'session_cost_cap' | 'price_coefficient_cap', needed: bigint, message: string): CapCheck {
  return { ok: false, status: 402, body: { error: { message, type: 'insufficient_quota', param: code === 'price_coefficient_cap' ? null : 'max_tokens', code, needed_nano: needed.toString() } } };
}

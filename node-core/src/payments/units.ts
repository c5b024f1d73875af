/**
 * Exact integer arithmetic between token counts, signed counters and nanoTON, on top of the
 * formula in pricing.ts. Everything here is bigint: a ledger adds millions of answers and must
 * stay exact to the nanoTON.
 *
 *   weight units of one answer = Σ per kind adjusted tokens (adjusted-tokens.ts) × 10000
 *   counter (adjusted tokens)  = cumulative units / 10000 (exact)    what is signed and on chain
 *   nanoTON owed for a counter = counter × perToken                  as the contracts compute it
 *
 * Rounding is the reference's: per answer and per kind (trunc in doubles), so a counter is
 * exactly the sum of the `total_tokens_used` the workers reported, and
 * `nanoForCounter(counter, price)` is the sum of the answers' `computeCost().totalNanoTon`.
 * The worker's coefficient is in thousandths, as the workers advertise it.
 */
import { MULTIPLIER_ONE, TOKEN_KINDS, type PricingParams, type TokenCounts } from './pricing.ts';
import { CocoonError } from '../errors.ts';
import { adjustedCounts, adjustedTotal } from './adjusted-tokens.ts';

/** Worker price coefficient meaning "the base price". */
export const COEFFICIENT_ONE = 1000;

export function checkTokenCounts(tokens: TokenCounts): void {
  for (const kind of TOKEN_KINDS) {
    const v = tokens[kind];
    if (!Number.isSafeInteger(v) || v < 0) throw new CocoonError('bad_token_count', `token count "${kind}" must be a non-negative integer, got ${v}`);
  }
}

export function checkCoefficient(coefficient: number): void {
  if (!Number.isSafeInteger(coefficient) || coefficient < 1 || coefficient > 1_000_000_000) {
    throw new CocoonError('bad_coefficient', `a price coefficient must be an integer in thousandths between 1 and 10^9, got ${coefficient}`);
  }
}

/**
 * Weight units of one answer from its engine counts: the reference's adjusted tokens (per kind,
 * truncated, see adjusted-tokens.ts) × `UNITS_PER_TOKEN`. A cumulative counter is then exactly
 * the sum of per-answer adjusted totals — what a reference proxy charges and pays.
 */
export function counterUnits(tokens: TokenCounts, multipliers: TokenCounts, coefficient: number = COEFFICIENT_ONE): bigint {
  checkTokenCounts(tokens);
  checkCoefficient(coefficient);
  return adjustedUnits(adjustedCounts(tokens, coefficient, multipliers));
}

/** Weight units of counts that are already adjusted (what a worker reports on the wire). */
export function adjustedUnits(adjusted: TokenCounts): bigint {
  checkTokenCounts(adjusted);
  return BigInt(adjustedTotal(adjusted)) * UNITS_PER_TOKEN;
}

/** Weight units in one adjusted token (the multipliers' basis points). */
export const UNITS_PER_TOKEN = BigInt(MULTIPLIER_ONE);

/** Cumulative weight units → the cumulative adjusted-token counter the proxy signs and the contracts hold. */
export function counterOfUnits(units: bigint): bigint {
  return units / UNITS_PER_TOKEN;
}

/** nanoTON a cumulative counter (adjusted tokens) is worth at `perToken` (price or worker fee), as on chain. */
export function nanoForCounter(counter: bigint, perToken: number): bigint {
  return counter * BigInt(perToken);
}

/** What the client pays for a cumulative counter. */
export function clientNano(counter: bigint, pricing: PricingParams): bigint {
  return nanoForCounter(counter, pricing.pricePerToken);
}

/** What the worker is paid for a cumulative counter. */
export function workerNano(counter: bigint, pricing: PricingParams): bigint {
  return nanoForCounter(counter, pricing.workerFeePerToken);
}

export function sumCounts(a: TokenCounts, b: TokenCounts): TokenCounts {
  return { prompt: a.prompt + b.prompt, cached: a.cached + b.cached, completion: a.completion + b.completion, reasoning: a.reasoning + b.reasoning };
}

export const ZERO_COUNTS: TokenCounts = Object.freeze({ prompt: 0, cached: 0, completion: 0, reasoning: 0 });

export function pricingKey(p: PricingParams): string {
  return JSON.stringify({ price: p.pricePerToken, fee: p.workerFeePerToken, m: TOKEN_KINDS.map((k) => p.multipliers[k]) });
}

/**
 * Exact integer arithmetic between token counts, signed counters and nanoTON, on top of the
 * formula in pricing.ts. Everything here is bigint: a ledger adds millions of answers and must
 * stay exact to the nanoTON.
 *
 *   counter units of one answer = floor(Σ tokens[kind] × multiplier[kind] × coefficient / 1000)
 *   nanoTON owed for a counter  = floor(counter × perToken / 10000)
 *
 * With the base coefficient (1000) the units are exactly `weightedTokens()` of pricing.ts, and
 * `nanoForCounter(units, price)` is `computeCost().totalNanoTon`. The worker's coefficient is in
 * thousandths, as the workers advertise it (`worker.params.coefficient`). Amounts are always
 * computed from cumulative counters, so rounding happens once per settled counter, never per answer.
 */
import { MULTIPLIER_ONE, TOKEN_KINDS, type PricingParams, type TokenCounts } from './pricing.ts';
import { CocoonError } from '../errors.ts';

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

export function counterUnits(tokens: TokenCounts, multipliers: TokenCounts, coefficient: number = COEFFICIENT_ONE): bigint {
  checkTokenCounts(tokens);
  checkCoefficient(coefficient);
  let weighted = 0n;
  for (const kind of TOKEN_KINDS) weighted += BigInt(tokens[kind]) * BigInt(multipliers[kind]);
  return (weighted * BigInt(coefficient)) / BigInt(COEFFICIENT_ONE);
}

/** nanoTON a cumulative counter is worth at `perToken` nanoTON per weighted token (price or worker fee). */
export function nanoForCounter(counter: bigint, perToken: number): bigint {
  return (counter * BigInt(perToken)) / BigInt(MULTIPLIER_ONE);
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

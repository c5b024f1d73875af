/**
 * Adjusted tokens: the unit the reference network puts in `tokensUsed` on the wire
 * (`proxy.queryFinalInfo`, `client.queryFinalInfo`), signs in its payment counters and holds in
 * its client and worker contracts. Its proxy charges the client and pays the worker
 * `total_tokens_used × price` exactly as the worker sent it, so every node must compute these
 * numbers the same way, bit for bit.
 *
 * Per answer and per kind (kinds split so that no token is billed twice: prompt without the
 * cached part, completion without the reasoning part):
 *
 *   adjusted = trunc(count × (coefficient × 0.001) × multiplier × 0.0001)
 *   total    = Σ adjusted of the four kinds
 *
 * The coefficient is the serving worker's, in thousandths (1000 = the root's base price; the
 * proxy sends it with every `proxy.runQueryEx`); multipliers are the root's, in basis points
 * (10000 = 1×). The reference evaluates this in IEEE doubles, left to right, and truncates toward
 * zero — which is NOT always the exact rational floor (200 tokens at coefficient 145 and 1× give
 * 28, not 29). JavaScript numbers are the same doubles, so evaluating the same operations in the
 * same order here gives the reference's numbers exactly; that is why this is not bigint.
 */
import { TOKEN_KINDS, type TokenCounts } from './pricing.ts';
import { CocoonError } from '../errors.ts';

/** Counts beyond 2^53 would not be exact in a double; no answer comes near (engines cap far lower). */
const MAX_COUNT = Number.MAX_SAFE_INTEGER;

/** One kind's adjusted tokens, as the reference computes them (double arithmetic, truncated). */
export function adjustTokens(count: number, coefficient: number, multiplier: number): number {
  if (!Number.isSafeInteger(count) || count < 0 || count > MAX_COUNT) throw new CocoonError('bad_token_count', `a token count must be a non-negative integer, got ${count}`);
  if (!Number.isSafeInteger(coefficient) || coefficient < 0) throw new CocoonError('bad_coefficient', `a price coefficient must be a non-negative integer in thousandths, got ${coefficient}`);
  if (!Number.isSafeInteger(multiplier) || multiplier < 0) throw new CocoonError('bad_multiplier', `a price multiplier must be a non-negative integer in basis points, got ${multiplier}`);
  // Same operations, same order as the reference: ((count × (coef × 0.001)) × mult) × 0.0001.
  return Math.trunc(count * (coefficient * 0.001) * multiplier * 0.0001);
}

/** An answer's adjusted tokens per kind, from its engine counts (already split by kind). */
export function adjustedCounts(tokens: TokenCounts, coefficient: number, multipliers: TokenCounts): TokenCounts {
  const out = {} as TokenCounts;
  for (const kind of TOKEN_KINDS) out[kind] = adjustTokens(tokens[kind], coefficient, multipliers[kind]);
  return out;
}

/** `total_tokens_used`: the sum of the adjusted kinds (what the reference proxy charges and pays). */
export function adjustedTotal(adjusted: TokenCounts): number {
  return adjusted.prompt + adjusted.cached + adjusted.completion + adjusted.reasoning;
}

/**
 * An answer's adjusted tokens held to at most `max` in total (the worst case admission reserved
 * for the request: what the client agreed to with `max_tokens` and what its contract was checked
 * to cover). The excess is taken off the output first — reasoning, then completion — then cached
 * and prompt: a report above the bound is the worker's (or its engine's) overrun, so the client
 * pays at most the bound and the worker is paid the same counter.
 */
export function capAdjusted(adjusted: TokenCounts, max: number): TokenCounts {
  let excess = adjustedTotal(adjusted) - Math.max(0, max);
  if (excess <= 0) return adjusted;
  const out = { ...adjusted };
  for (const kind of ['reasoning', 'completion', 'cached', 'prompt'] as const) {
    const cut = Math.min(out[kind], excess);
    out[kind] -= cut;
    excess -= cut;
  }
  return out;
}

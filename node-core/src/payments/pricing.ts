/**
 * Per-token pricing, shared by the proxy (what it charges and pays), the client API (the cost
 * breakdown it returns), the app (the cost viewer) and the contract wrappers (what the chain
 * settles). One formula, in one place.
 *
 * Token kinds follow OpenAI usage semantics, split so that no token is billed twice:
 *   prompt     = prompt_tokens - cached_tokens
 *   cached     = prompt_tokens_details.cached_tokens
 *   completion = completion_tokens - reasoning_tokens
 *   reasoning  = completion_tokens_details.reasoning_tokens
 * Multipliers are integers in basis points (10000 = 1x), as the root contract stores them.
 *   adjusted[kind] = trunc(tokens × coefficient/1000 × multiplier/10000)   per answer (adjusted-tokens.ts)
 *   cost           = Σ adjusted × pricePerToken        nanoTON
 *   workerShare    = Σ adjusted × workerFeePerToken    nanoTON
 *   proxyShare     = cost - workerShare
 * This is the reference network's unit: workers report adjusted tokens per answer, signed
 * counters and contract states hold their cumulative sum and the contracts multiply by the
 * root's prices.
 */

// The economic parameters the root contract stores live with the contracts (the lower layer).
export { TOKEN_KINDS, MULTIPLIER_ONE, DEFAULT_PRICING, type TokenKind, type TokenCounts, type PricingParams } from '../../../contracts/wrappers/economics.ts';
import { MULTIPLIER_ONE, DEFAULT_PRICING, TOKEN_KINDS, type TokenCounts, type PricingParams } from '../../../contracts/wrappers/economics.ts';

/** OpenAI-style usage as engines report it. */
export interface EngineUsage {
  prompt_tokens: number;
  completion_tokens: number;
  prompt_tokens_details?: { cached_tokens?: number } | null;
  completion_tokens_details?: { reasoning_tokens?: number } | null;
}

export interface CostBreakdown {
  currency: 'nanoTON';
  /** The engine's counts per kind (OpenAI usage split by kind); the adjusted ones when the raw counts are unknown. */
  tokens: TokenCounts;
  /** Adjusted tokens per kind (adjusted-tokens.ts): what the worker reported and the proxy charges. */
  adjusted: TokenCounts;
  multipliers: TokenCounts;
  pricePerToken: number;
  workerFeePerToken: number;
  /** Σ adjusted × 10000: the weight units this answer adds to a ledger. */
  weightedTokens: number;
  /** Cost of each kind alone, nanoTON: adjusted[kind] × price; sums exactly to `totalNanoTon`. */
  nanoTonByKind: TokenCounts;
  totalNanoTon: number;
  workerNanoTon: number;
  proxyNanoTon: number;
  /** Decimal string, e.g. "0.00000432". */
  totalTon: string;
}

export function tokenCountsFromUsage(usage: EngineUsage): TokenCounts {
  const cached = usage.prompt_tokens_details?.cached_tokens ?? 0;
  const reasoning = usage.completion_tokens_details?.reasoning_tokens ?? 0;
  return {
    prompt: Math.max(0, usage.prompt_tokens - cached),
    cached,
    completion: Math.max(0, usage.completion_tokens - reasoning),
    reasoning,
  };
}

export function weightedTokens(tokens: TokenCounts, multipliers: TokenCounts): number {
  let sum = 0;
  for (const kind of TOKEN_KINDS) sum += tokens[kind] * multipliers[kind];
  return sum;
}

/** Cumulative weighted tokens → the adjusted-token counter the contracts settle (bigint-safe). */
export function chainTokens(weighted: number | bigint): bigint {
  const w = BigInt(weighted);
  if (w < 0n) throw new RangeError(`weighted tokens must be non-negative, got ${w}`);
  return w / BigInt(MULTIPLIER_ONE);
}

/**
 * One answer's cost from its adjusted tokens (as the worker reported them on the wire): each kind
 * is `adjusted[kind] × price`, the total their sum — exactly what the proxy charges for it.
 * `raw`: the engine's counts, shown beside (the developer's OpenAI usage).
 */
export function computeCost(adjusted: TokenCounts, pricing: PricingParams = DEFAULT_PRICING, raw?: TokenCounts): CostBreakdown {
  let settled = 0;
  const byKind = {} as TokenCounts;
  for (const kind of TOKEN_KINDS) {
    settled += adjusted[kind];
    byKind[kind] = adjusted[kind] * pricing.pricePerToken;
  }
  const total = settled * pricing.pricePerToken;
  const worker = settled * pricing.workerFeePerToken;
  return {
    currency: 'nanoTON',
    tokens: { ...(raw ?? adjusted) },
    adjusted: { ...adjusted },
    multipliers: { ...pricing.multipliers },
    pricePerToken: pricing.pricePerToken,
    workerFeePerToken: pricing.workerFeePerToken,
    weightedTokens: settled * MULTIPLIER_ONE,
    nanoTonByKind: byKind,
    totalNanoTon: total,
    workerNanoTon: worker,
    proxyNanoTon: total - worker,
    totalTon: nanoToTon(total),
  };
}

/** Formats nanoTON as a decimal TON string without floating-point error. */
export function nanoToTon(nano: number | bigint): string {
  const n = BigInt(nano);
  const sign = n < 0n ? '-' : '';
  const abs = n < 0n ? -n : n;
  const whole = abs / 1_000_000_000n;
  const frac = (abs % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  return `${sign}${whole}${frac ? '.' + frac : ''}`;
}

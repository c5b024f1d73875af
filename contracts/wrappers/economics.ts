/**
 * The network's economic parameters as the root contract stores them: price per token, the
 * worker's fee, and a multiplier per token kind in basis points (10000 = 1x). The formula that
 * turns usage into nanoTON is node-core/src/payments/pricing.ts; these are its inputs, kept here
 * because the contracts and their wrappers own the on-chain layout and node-core builds on them.
 */
export const TOKEN_KINDS = ['prompt', 'cached', 'completion', 'reasoning'] as const;
export type TokenKind = (typeof TOKEN_KINDS)[number];
export type TokenCounts = Record<TokenKind, number>;

export const MULTIPLIER_ONE = 10_000;

export interface PricingParams {
  /** nanoTON per weighted token paid by the client (network default 20). */
  pricePerToken: number;
  /** nanoTON per weighted token paid to the worker (network default 19, i.e. 95%). */
  workerFeePerToken: number;
  /** Basis points per token kind (10000 = 1x). */
  multipliers: TokenCounts;
}

export const DEFAULT_PRICING: PricingParams = {
  pricePerToken: 20,
  workerFeePerToken: 19,
  multipliers: { prompt: 10_000, cached: 1_000, completion: 10_000, reasoning: 10_000 },
};


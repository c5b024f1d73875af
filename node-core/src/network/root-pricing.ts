import { Address } from '@ton/core';
import { Root } from '../../../contracts/wrappers/Root.ts';
import { Chain } from '../chain/chain.ts';
import type { ChainConfig } from '../chain/config.ts';
import type { PricingParams } from '../payments/pricing.ts';

/** Reads the per-token prices and multipliers from the root contract, through the same TonClient path every network uses. */
export async function pricingFromRoot(config: ChainConfig & { rootAddress: string }): Promise<PricingParams> {
  const root = new Chain(config).open(Root.createFromAddress(Address.parse(config.rootAddress)));
  const p = await root.getParams();
  return { pricePerToken: p.pricePerToken, workerFeePerToken: p.workerFeePerToken, multipliers: { ...p.multipliers } };
}

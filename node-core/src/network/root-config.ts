import { Address, beginCell, toNano } from '@ton/core';
import { Root } from '../../../contracts/wrappers/Root.ts';
import { HashKind, Op, type HashKindName } from '../../../contracts/wrappers/protocol.ts';
import { Chain } from '../chain/chain.ts';
import type { ChainConfig } from '../chain/config.ts';
import type { PricingParams } from '../payments/pricing.ts';
import type { RootAllowlists } from '../attestation/live-policy.ts';

/**
 * What the network takes from its root contract: prices and multipliers, and the allowlists of
 * proxy and worker image hashes the attestation policies enforce. Read through the same TonClient
 * path every network uses.
 */
export interface RootConfig {
  /** Bumped by the root on every change (live-policy.ts re-reads the allowlists when it moves). */
  version: number;
  pricing: PricingParams;
  allowedProxyImages: string[];
  allowedWorkerImages: string[];
}

type RootChainConfig = ChainConfig & { rootAddress: string };

const hex = (h: bigint) => h.toString(16).padStart(64, '0');

export async function readRootConfig(config: RootChainConfig): Promise<RootConfig> {
  const root = new Chain(config).open(Root.createFromAddress(Address.parse(config.rootAddress)));
  const [version, p, hashes] = await Promise.all([root.getVersion(), root.getParams(), root.getAllowedHashes()]);
  return {
    version,
    pricing: { pricePerToken: p.pricePerToken, workerFeePerToken: p.workerFeePerToken, multipliers: { ...p.multipliers } },
    allowedProxyImages: hashes.proxyImages.map(hex),
    allowedWorkerImages: hashes.workerImages.map(hex),
  };
}

/**
 * The small reader the live attestation policy polls (attestation/live-policy.ts). When the root's
 * layout changes only this function needs to follow.
 */
export function rootAllowlistReader(config: RootChainConfig): () => Promise<RootAllowlists> {
  return async () => {
    const c = await readRootConfig(config);
    return { version: c.version, proxyImages: c.allowedProxyImages, workerImages: c.allowedWorkerImages };
  };
}

/**
 * Local network only: the root owner (a development wallet) adds the development images to the
 * allowlists, once; a real network's owner does this with the deploy scripts.
 */
export async function allowImagesOnRoot(config: RootChainConfig, ownerMnemonic: string[], images: Array<{ kind: HashKindName; hash: string }>): Promise<void> {
  const chain = new Chain(config);
  const root = chain.open(Root.createFromAddress(Address.parse(config.rootAddress)));
  const owner = await chain.wallet(ownerMnemonic);
  for (const { kind, hash } of images) {
    const value = BigInt(`0x${hash}`);
    if (await root.getIsHashAllowed(kind, value)) continue;
    const body = beginCell().storeUint(Op.rootAddHash, 32).storeUint(HashKind[kind], 8).storeUint(value, 256).endCell();
    await owner.sendAndWait([{ to: root.address, value: toNano('0.05'), body }]);
  }
}

import { Address, toNano } from '@ton/core';
import { pricingOf, rootHashBody, type HashKind as HashKindName } from '../../../contracts/wrappers/Root.ts';
import { Chain } from '../chain/chain.ts';
import { readRootData } from '../chain/contract-state.ts';
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
  const root = await readRootData(config, Address.parse(config.rootAddress));
  return {
    version: root.version,
    pricing: pricingOf(root.params),
    allowedProxyImages: root.proxyHashes.map(hex),
    allowedWorkerImages: root.workerHashes.map(hex),
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
  const rootAddress = Address.parse(config.rootAddress);
  const owner = await chain.wallet(ownerMnemonic);
  for (const { kind, hash } of images) {
    const value = BigInt(`0x${hash}`);
    const root = await readRootData(config, rootAddress);
    const list = kind === 'proxyImage' ? root.proxyHashes : kind === 'workerImage' ? root.workerHashes : root.modelHashes;
    if (list.includes(value)) continue;
    await owner.sendAndWait([{ to: rootAddress, value: toNano('0.05'), body: rootHashBody(kind, value) }]);
    for (let i = 0; i < 100 && (await readRootData(config, rootAddress)).version === root.version; i++) await new Promise((r) => setTimeout(r, 50));
  }
}

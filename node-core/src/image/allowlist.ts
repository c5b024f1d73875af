import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Address, toNano } from '@ton/core';
import { rootHashBody, type HashKind } from '../../../contracts/wrappers/Root.ts';
import { Chain } from '../chain/chain.ts';
import type { ChainConfig } from '../chain/config.ts';
import { readRootData, type RootData } from '../chain/contract-state.ts';
import { localChainStateFile, readAnnouncement } from '../chain/state-file.ts';
import { CocoonError, errorMessage } from '../errors.ts';

/**
 * The root contract's allowlists of image and model hashes, as owners meet them: "is my image
 * allowed?" (`cocoon image check`, `cocoon why`) and "allow this image" (`cocoon root add-image`,
 * the root owner's operation).
 */
export type ImageKind = 'worker' | 'proxy' | 'model';
export const IMAGE_KINDS: readonly ImageKind[] = ['worker', 'proxy', 'model'];

const HASH_KIND: Record<ImageKind, HashKind> = { worker: 'workerImage', proxy: 'proxyImage', model: 'model' };

export function parseHash(value: string, what = '--hash'): string {
  const clean = value.trim().replace(/^0x/i, '').toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(clean)) throw new CocoonError('bad_flag', `${what} must be 64 hex digits (a SHA-256 image hash), got "${value}"`, { hint: 'compute it with `cocoon image measure ... --json` (imageHash)' });
  return clean;
}

export function allowlistOf(root: RootData, kind: ImageKind): string[] {
  const list = kind === 'worker' ? root.workerHashes : kind === 'proxy' ? root.proxyHashes : root.modelHashes;
  return list.map((h) => h.toString(16).padStart(64, '0'));
}

export interface ImageCheck {
  imageHash: string;
  kind: ImageKind;
  allowed: boolean;
  network: ChainConfig['network'];
  endpoint: string;
  rootAddress: string;
  /** How many hashes of this kind the root allows (the full list is `cocoon root show`). */
  allowlistSize: number;
  rootVersion: number;
}

/** Reads the root and says whether `imageHash` is on its allowlist for `kind`. */
export async function checkImageAllowed(config: ChainConfig, imageHash: string, kind: ImageKind): Promise<ImageCheck> {
  const rootAddress = requireRoot(config);
  const root = await readRootOrExplain(config, rootAddress);
  const list = allowlistOf(root, kind);
  return {
    imageHash, kind, allowed: list.includes(imageHash), network: config.network, endpoint: config.endpoint, rootAddress,
    allowlistSize: list.length, rootVersion: root.version,
  };
}

function requireRoot(config: ChainConfig): string {
  if (!config.rootAddress) throw new CocoonError('no_root_address', `no root contract address configured for ${config.network}`, { hint: 'set COCOON_ROOT_ADDRESS' });
  return config.rootAddress;
}

export async function readRootOrExplain(config: ChainConfig, rootAddress: string): Promise<RootData> {
  try {
    return await readRootData(config, Address.parse(rootAddress));
  } catch (err) {
    if (err instanceof CocoonError && (err.code === 'root_not_deployed' || err.code === 'bad_contract_state')) throw err;
    throw new CocoonError('chain_unreachable', `could not read root ${rootAddress} on ${config.network} through ${config.endpoint}: ${errorMessage(err)}`, {
      hint: config.network === 'local' ? 'is the local chain running? (`cocoon chain up`)' : 'check COCOON_TON_ENDPOINT / COCOON_TON_API_KEY, or run `cocoon why` for a diagnosis',
    });
  }
}

/**
 * The root owner's wallet: on the local chain the development owner wallet (its mnemonic is in
 * the running chain's data dir); on testnet/mainnet a mnemonic the owner supplies, never a default.
 */
export function ownerMnemonic(config: ChainConfig, supplied: string | undefined, env: NodeJS.ProcessEnv = process.env): string[] {
  if (supplied !== undefined) {
    const words = supplied.trim().split(/\s+/);
    if (words.length !== 24) throw new CocoonError('bad_mnemonic', `the owner mnemonic must be 24 words, got ${words.length}`);
    return words;
  }
  if (config.network !== 'local') {
    throw new CocoonError('no_owner_wallet', `changing the root on ${config.network} needs the root owner's wallet`, { hint: 'pass --mnemonic-file FILE (24 words) or set COCOON_OWNER_MNEMONIC' });
  }
  const announced = readAnnouncement(localChainStateFile(env));
  const walletsFile = announced && join(announced.dataDir, 'wallets.json');
  if (!walletsFile || !existsSync(walletsFile)) throw new CocoonError('no_owner_wallet', 'no running local chain to take the development owner wallet from', { hint: 'start one with `cocoon chain up` (or `cocoon up`)' });
  const wallets = JSON.parse(readFileSync(walletsFile, 'utf8')) as Array<{ name: string; mnemonic: string[] }>;
  const owner = wallets.find((w) => w.name === 'owner');
  if (!owner) throw new CocoonError('no_owner_wallet', `${walletsFile} has no "owner" wallet`);
  return owner.mnemonic;
}

export interface AllowlistChange {
  kind: ImageKind;
  hash: string;
  action: 'added' | 'removed' | 'unchanged';
  rootVersion: number;
  owner: string;
}

/**
 * Adds (or removes) a hash on the root's allowlist from the owner's wallet, then reads the root
 * back: the change is reported only once the chain shows it. Refuses before sending when the
 * wallet is not the root's owner (the contract would bounce it anyway, at the owner's expense).
 */
export async function changeAllowlist(config: ChainConfig, mnemonic: string[], kind: ImageKind, hash: string, add = true): Promise<AllowlistChange> {
  const rootAddress = Address.parse(requireRoot(config));
  const chain = new Chain(config);
  const root = await readRootOrExplain(config, rootAddress.toString());
  const wallet = await chain.wallet(mnemonic);
  if (!wallet.address.equals(root.owner)) {
    throw new CocoonError('not_root_owner', `wallet ${wallet.address.toString({ bounceable: false })} is not the owner of root ${rootAddress.toString()} (owner: ${root.owner.toString()})`, { hint: 'use the owner\'s mnemonic' });
  }
  const present = allowlistOf(root, kind).includes(hash);
  const owner = root.owner.toString();
  if (present === add) return { kind, hash, action: 'unchanged', rootVersion: root.version, owner };
  await wallet.sendAndWait([{ to: rootAddress, value: toNano('0.05'), body: rootHashBody(HASH_KIND[kind], BigInt(`0x${hash}`), add) }], 60_000);
  const after = await readRootOrExplain(config, rootAddress.toString());
  if (allowlistOf(after, kind).includes(hash) !== add) {
    throw new CocoonError('root_change_rejected', `the root did not ${add ? 'add' : 'remove'} the ${kind} hash (the transaction was processed but the list is unchanged)`, { hint: 'inspect the root with `cocoon root show`' });
  }
  return { kind, hash, action: add ? 'added' : 'removed', rootVersion: after.version, owner };
}

/**
 * Deployment of the Cocoon contracts to any network reachable through node-core's Chain (mainnet,
 * testnet, or the local chain), from a wallet. Used by scripts/deploy.ts, the local chain's
 * genesis and their tests. Addresses are derived the way the reference node software derives them.
 */
import { randomInt } from 'node:crypto';
import { Address, beginCell, toNano, type Cell } from '@ton/core';
import type { Chain, ChainWallet } from './chain.ts';
import { CocoonError } from '../errors.ts';
import { compileAll } from '../../../contracts/compile.ts';
import { Body, MIN_OP_VALUE } from '../../../contracts/wrappers/protocol.ts';
import { Root, DEFAULT_ROOT_PARAMS, validateRootParams, type RootParams, type RootData } from '../../../contracts/wrappers/Root.ts';
import { Proxy } from '../../../contracts/wrappers/Proxy.ts';

/** Attached to owner operations; the unused part stays on the contract as storage rent. */
const OP_VALUE = toNano('0.05');
/** The reference deploys its contracts with 0.8 TON (client) / 0.3 TON: the storage buffer. */
export const DEPLOY_VALUE = toNano('0.8');

async function waitFor(chain: Chain, what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) {
      throw new CocoonError('deploy_timeout', `${what} did not happen within ${timeoutMs} ms`, {
        hint: 'check the deploying wallet transaction in an explorer; the wallet may lack funds',
      });
    }
    await new Promise((r) => setTimeout(r, chain.config.network === 'local' ? 100 : 3000));
  }
}

const active = (chain: Chain, a: Address) => async () => (await chain.getAccount(a)).state === 'active';

/**
 * Deploys a root with our codes. `uniqueId` identifies the network inside every contract address
 * (and so every signed message): a random one unless given; never reuse one across networks.
 */
export async function deployRoot(chain: Chain, wallet: ChainWallet, opts: { owner?: Address; params?: Partial<RootParams>; timeoutMs?: number } = {}) {
  const params: RootParams = { ...DEFAULT_ROOT_PARAMS, uniqueId: randomInt(1, 0xffff_ffff), isTest: chain.config.network !== 'mainnet', ...opts.params };
  validateRootParams(params);
  const codes = await compileAll();
  const root = Root.createFromConfig({ owner: opts.owner ?? wallet.address, params, codes }, codes.root);
  if ((await chain.getAccount(root.address)).state === 'active') {
    throw new CocoonError('already_deployed', `a root with this owner and parameters is already deployed at ${root.address.toString()}`);
  }
  await wallet.sendAndWait([{ to: root.address, value: toNano('0.5'), init: root.init, body: beginCell().endCell() }]);
  await waitFor(chain, `root ${root.address.toString()} becoming active`, active(chain, root.address), opts.timeoutMs ?? 120_000);
  return { address: root.address, codeHash: root.init!.code.hash().toString('hex'), params };
}

export async function readRoot(chain: Chain, root: Address): Promise<RootData> {
  return chain.open(Root.createFromAddress(root)).getConfig();
}

/**
 * Deploys the proxy contract of (owner = wallet, public key) under a root, with the codes the
 * root holds (so clients and workers derive the same address), and stakes at least the minimum.
 */
export async function deployProxy(chain: Chain, wallet: ChainWallet, opts: { root: Address; publicKey: Buffer; stake?: bigint; timeoutMs?: number }) {
  if (opts.publicKey.length !== 32) throw new CocoonError('bad_public_key', `proxy public key must be 32 bytes, got ${opts.publicKey.length}`);
  const root = await readRoot(chain, opts.root);
  const stake = opts.stake ?? root.params.minProxyStake;
  if (stake < root.params.minProxyStake) {
    throw new CocoonError('stake_too_low', `stake must be at least the root's minimum proxy stake (${root.params.minProxyStake} nanoTON)`);
  }
  if (!root.codes.proxy || !root.codes.worker || !root.codes.client) throw new CocoonError('root_without_codes', `root ${opts.root.toString()} holds no contract codes`);
  const proxy = Proxy.createFromConfig({
    owner: wallet.address, publicKey: opts.publicKey, root: opts.root, params: root.params, workerCode: root.codes.worker, clientCode: root.codes.client,
  }, root.codes.proxy as Cell);
  await wallet.sendAndWait([{ to: proxy.address, value: DEPLOY_VALUE, init: proxy.init, body: beginCell().endCell() }]);
  await waitFor(chain, `proxy ${proxy.address.toString()} becoming active`, active(chain, proxy.address), opts.timeoutMs ?? 120_000);
  if (stake > 0n) {
    await wallet.sendAndWait([{ to: proxy.address, value: stake + MIN_OP_VALUE, body: Body.proxyIncreaseStake(0n, stake, wallet.address) }]);
    const opened = chain.open(proxy);
    await waitFor(chain, `stake on proxy ${proxy.address.toString()}`, async () => (await opened.getData()).stake >= stake, opts.timeoutMs ?? 120_000);
  }
  return { address: proxy.address, stake };
}

async function ownerOp(chain: Chain, wallet: ChainWallet, rootAddress: Address, body: Cell, what: string): Promise<RootData> {
  const before = await readRoot(chain, rootAddress);
  if (!before.owner.equals(wallet.address)) {
    throw new CocoonError('not_root_owner', `wallet ${wallet.address.toString()} is not the owner of root ${rootAddress.toString()}`);
  }
  await wallet.sendAndWait([{ to: rootAddress, value: OP_VALUE, body }]);
  let after = before;
  await waitFor(chain, `root accepting ${what}`, async () => { after = await readRoot(chain, rootAddress); return after.version > before.version; }, 60_000);
  return after;
}

/** Registers a proxy's `ip:port` (workers, then clients when different) in the root. */
export async function registerProxy(chain: Chain, wallet: ChainWallet, opts: { root: Address; addressForWorkers: string; addressForClients?: string }) {
  const { proxyEntryText } = await import('../../../contracts/wrappers/protocol.ts');
  let text: string;
  try {
    text = proxyEntryText(opts.addressForWorkers, opts.addressForClients);
  } catch (e) {
    throw new CocoonError('bad_endpoint', (e as Error).message, { hint: 'the root stores proxies as ipv4:port, e.g. 203.0.113.7:8443' });
  }
  const after = await ownerOp(chain, wallet, opts.root, Body.rootRegisterProxy(text), 'the proxy registration');
  return after.proxies.find((p) => p.seqno === after.lastProxySeqno)!;
}

export async function changeRootPrice(chain: Chain, wallet: ChainWallet, opts: { root: Address; params: RootParams }) {
  validateRootParams(opts.params);
  return ownerOp(chain, wallet, opts.root, Body.rootChangePrice(opts.params), 'the new prices');
}

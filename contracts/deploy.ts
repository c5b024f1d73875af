/**
 * Deployment of the Cocoon contracts to any network reachable through node-core's Chain (mainnet,
 * testnet, or the local chain), from a wallet. Used by scripts/deploy.ts and its integration test.
 */
import { Address, beginCell, toNano } from '@ton/core';
import type { Chain, ChainWallet } from '../node-core/src/chain/chain.ts';
import { CocoonError } from '../node-core/src/errors.ts';
import { compileAll } from './compile.ts';
import { Op } from './wrappers/protocol.ts';
import { Root, DEFAULT_ROOT_PARAMS, storeRootParams, validateRootParams, type RootParams } from './wrappers/Root.ts';
import { Proxy } from './wrappers/Proxy.ts';

/** Attached to owner operations; the unused part stays on the contract as storage rent. */
const OP_VALUE = toNano('0.05');

async function waitDeployed(chain: Chain, address: Address, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if ((await chain.getAccount(address)).state === 'active') return;
    if (Date.now() > deadline) {
      throw new CocoonError('deploy_timeout', `contract ${address.toString()} is not active after ${timeoutMs} ms`, {
        hint: 'check the deploying wallet transaction in an explorer; the wallet may lack funds',
      });
    }
    await new Promise((r) => setTimeout(r, chain.config.network === 'local' ? 100 : 3000));
  }
}

export async function deployRoot(chain: Chain, wallet: ChainWallet, opts: { owner?: Address; params?: RootParams; timeoutMs?: number } = {}) {
  const params = opts.params ?? DEFAULT_ROOT_PARAMS;
  validateRootParams(params);
  const codes = await compileAll();
  const root = Root.createFromConfig({ owner: opts.owner ?? wallet.address, params }, codes.root);
  if ((await chain.getAccount(root.address)).state === 'active') {
    throw new CocoonError('already_deployed', `a root with this owner and parameters is already deployed at ${root.address.toString()}`);
  }
  await wallet.sendAndWait([{ to: root.address, value: toNano('0.5'), init: root.init, body: beginCell().endCell() }]);
  await waitDeployed(chain, root.address, opts.timeoutMs ?? 120_000);
  return { address: root.address, codeHash: root.init!.code.hash().toString('hex') };
}

export async function deployProxy(chain: Chain, wallet: ChainWallet, opts: { root: Address; publicKey: Buffer; stake?: bigint; timeoutMs?: number }) {
  if (opts.publicKey.length !== 32) throw new CocoonError('bad_public_key', `proxy public key must be 32 bytes, got ${opts.publicKey.length}`);
  const rootParams = await chain.open(Root.createFromAddress(opts.root)).getParams();
  const stake = opts.stake ?? rootParams.minProxyStake;
  if (stake < rootParams.minProxyStake) {
    throw new CocoonError('stake_too_low', `stake must be at least the root's minimum proxy stake (${rootParams.minProxyStake} nanoTON)`);
  }
  const codes = await compileAll();
  const proxy = Proxy.createFromConfig({
    owner: wallet.address, publicKey: opts.publicKey, root: opts.root, params: rootParams,
    clientCode: codes.client, workerCode: codes.worker,
  }, codes.proxy);
  // The attached value also covers the add-stake fee (DEPOSIT_FEE) and storage.
  await wallet.sendAndWait([{
    to: proxy.address, value: stake + toNano('0.1'), init: proxy.init, body: beginCell().storeUint(Op.proxyAddStake, 32).endCell(),
  }]);
  await waitDeployed(chain, proxy.address, opts.timeoutMs ?? 120_000);
  const state = await chain.open(proxy).getState();
  if (state.stake < rootParams.minProxyStake) {
    throw new CocoonError('deploy_failed', `proxy deployed at ${proxy.address.toString()} but its stake is ${state.stake}`);
  }
  return { address: proxy.address, stake: state.stake };
}

export async function registerProxy(chain: Chain, wallet: ChainWallet, opts: { root: Address; proxy: Address; endpoint: string }) {
  if (!/^[^\s:]+:\d{1,5}$/.test(opts.endpoint)) {
    throw new CocoonError('bad_endpoint', `proxy endpoint must be host:port, got "${opts.endpoint}"`);
  }
  const root = chain.open(Root.createFromAddress(opts.root));
  if (!(await root.getOwner()).equals(wallet.address)) {
    throw new CocoonError('not_root_owner', `wallet ${wallet.address.toString()} is not the owner of root ${opts.root.toString()}`);
  }
  const before = await root.getVersion();
  const body = beginCell().storeUint(Op.rootAddProxy, 32).storeAddress(opts.proxy)
    .storeRef(beginCell().storeStringTail(opts.endpoint).endCell()).endCell();
  await wallet.sendAndWait([{ to: opts.root, value: OP_VALUE, body }]);
  await chain.waitForTransaction(opts.root, { predicate: (tx) => tx.inMessage?.info.src?.toString() === wallet.address.toString() });
  const after = await root.getVersion();
  if (after <= before) throw new CocoonError('register_failed', 'the root did not accept the registration (version unchanged)');
  const { proxies } = await root.getProxies();
  return proxies.find((p) => p.contractAddress.equals(opts.proxy))!;
}

export async function setRootParams(chain: Chain, wallet: ChainWallet, opts: { root: Address; params: RootParams }) {
  validateRootParams(opts.params);
  const root = chain.open(Root.createFromAddress(opts.root));
  const before = await root.getVersion();
  const body = beginCell().storeUint(Op.rootSetParams, 32).store(storeRootParams(opts.params)).endCell();
  await wallet.sendAndWait([{ to: opts.root, value: OP_VALUE, body }]);
  await chain.waitForTransaction(opts.root, { predicate: (tx) => tx.inMessage?.info.src?.toString() === wallet.address.toString() });
  if ((await root.getVersion()) <= before) {
    throw new CocoonError('set_params_failed', 'the root did not accept the new parameters (version unchanged); is this wallet its owner?');
  }
  return root.getParams();
}

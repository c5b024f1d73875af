/**
 * Settlement for the roles run as separate processes (`cocoon proxy|worker|client --settle`):
 * the same stores, signed messages, contracts and schedulers as the local network
 * (local-settlement.ts), configured from flags and the chain configuration instead of the local
 * network's development choices. Each role needs the chain (resolveChainConfig: COCOON_NETWORK /
 * COCOON_TON_ENDPOINT / COCOON_ROOT_ADDRESS, or the local chain `cocoon chain up` announces), its
 * own wallet (fees, the register transaction, and the owner whose contract pays or is paid), and
 * the proxy contract it works with. On the embedded local chain only, the development wallets
 * (`--local-wallet NAME`) and the local proxy contract (kept beside the chain state) are defaults.
 */
import type { AnswerRetention } from './client-payment-store.ts';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Address, beginCell } from '@ton/core';
import { keyPairFromSeed, keyPairFromSecretKey, type KeyPair } from '@ton/crypto';
import { Chain, type ChainWallet } from '../chain/chain.ts';
import { resolveChainConfig, type ChainConfig } from '../chain/config.ts';
import { readProxyData, readWorkerData } from '../chain/contract-state.ts';
import { DEPLOY_VALUE } from '../chain/deploy.ts';
import { clientContractFor, workerContractFor } from '../chain/settlement.ts';
import { localChainStateFile, readAnnouncement } from '../chain/state-file.ts';
import { cocoonHome } from '../cocoon-home.ts';
import { pricingOf } from '../../../contracts/wrappers/Root.ts';
import { CocoonError, errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import { localProxyContract } from './client-account.ts';
import { StoreClientSettlement, StoreWorkerSettlement } from './party-settlement.ts';
import { PAYMENT_FILES } from './payment-files.ts';
import type { PricingParams } from './pricing.ts';
import { LedgerProxySettlement } from './proxy-settlement.ts';
import { DEFAULT_SETTLEMENT_POLICY, LOCAL_DEV_SETTLEMENT_POLICY, type SettlementPolicy } from './settlement-scheduler.ts';

/** Flags shared by the three roles (`proxy-key-file` is the proxy's only). */
export const settlementFlags = {
  settle: { type: 'boolean' },
  'no-settlement': { type: 'boolean' },
  'data-dir': { type: 'string' },
  'wallet-mnemonic-file': { type: 'string' },
  'local-wallet': { type: 'string' },
  'proxy-contract': { type: 'string' },
  'proxy-key-file': { type: 'string' },
  'settle-policy': { type: 'string' },
} as const;

export interface SettlementFlagValues {
  settle?: boolean | undefined;
  'no-settlement'?: boolean | undefined;
  'data-dir'?: string | undefined;
  'wallet-mnemonic-file'?: string | undefined;
  'local-wallet'?: string | undefined;
  'proxy-contract'?: string | undefined;
  'proxy-key-file'?: string | undefined;
  'settle-policy'?: string | undefined;
}

export const SETTLEMENT_USAGE = '[--settle | --no-settlement] [--data-dir DIR] [--wallet-mnemonic-file FILE | --local-wallet NAME] [--proxy-contract ADDR] [--settle-policy dev|production (local chain: dev by default)]';

type Role = 'proxy' | 'worker' | 'client';

/**
 * Whether this role settles: asked for with --settle; on testnet and mainnet it is the default
 * (a proxy that does not settle gives work away, a client without it cannot authorize with a
 * reference proxy) and only --no-settlement turns it off.
 */
export function settlementWanted(role: Role, values: SettlementFlagValues, env: NodeJS.ProcessEnv = process.env): ChainConfig | null {
  if (values.settle && values['no-settlement']) throw new CocoonError('bad_flag', 'give either --settle or --no-settlement, not both');
  if (values['no-settlement']) return null;
  const remote = env.COCOON_NETWORK === 'testnet' || env.COCOON_NETWORK === 'mainnet';
  if (!values.settle && !remote) return null;
  try {
    return resolveChainConfig(env);
  } catch (err) {
    throw new CocoonError('settlement_needs_chain', `the ${role} settles on chain, and no chain is configured: ${errorMessage(err)}`, {
      hint: 'start the local chain (`cocoon chain up`) or set COCOON_NETWORK / COCOON_TON_ENDPOINT / COCOON_ROOT_ADDRESS; --no-settlement runs without payments',
    });
  }
}

function localChainDir(config: ChainConfig, env: NodeJS.ProcessEnv): string {
  if (config.network !== 'local') throw new CocoonError('bad_flag', `development wallets and the local proxy contract exist on the embedded chain only; this is ${config.network}`, { hint: 'pass --wallet-mnemonic-file FILE and --proxy-contract ADDR' });
  const a = readAnnouncement(localChainStateFile(env));
  if (!a) throw new CocoonError('no_chain', 'no local chain is running', { hint: 'start it with `cocoon chain up` or `cocoon up`' });
  return a.dataDir;
}

/** The 24 words of the wallet that pays this role's fees (and, for clients and workers, owns its contract). */
export function walletWords(values: Pick<SettlementFlagValues, 'wallet-mnemonic-file' | 'local-wallet'>, config: ChainConfig, env: NodeJS.ProcessEnv = process.env): string[] {
  if (values['wallet-mnemonic-file'] && values['local-wallet']) throw new CocoonError('bad_flag', 'give either --wallet-mnemonic-file or --local-wallet, not both');
  let words: string | undefined;
  if (values['wallet-mnemonic-file']) {
    try {
      words = readFileSync(values['wallet-mnemonic-file'], 'utf8');
    } catch (err) {
      throw new CocoonError('bad_flag', `cannot read --wallet-mnemonic-file: ${errorMessage(err)}`);
    }
  } else if (values['local-wallet']) {
    const wallets = JSON.parse(readFileSync(join(localChainDir(config, env), 'wallets.json'), 'utf8')) as { name: string; mnemonic: string[] }[];
    const w = wallets.find((x) => x.name === values['local-wallet']);
    if (!w) throw new CocoonError('bad_flag', `no development wallet "${values['local-wallet']}"; there are ${wallets.map((x) => x.name).join(', ')}`);
    return w.mnemonic;
  } else {
    words = env.COCOON_WALLET_MNEMONIC;
  }
  if (!words || words.trim() === '') {
    throw new CocoonError('settlement_needs_wallet', 'settling sends transactions, and no wallet was given to pay their fees', {
      hint: 'pass --wallet-mnemonic-file FILE (24 words) or set COCOON_WALLET_MNEMONIC; on the local chain, --local-wallet proxy|client|worker',
    });
  }
  const list = words.trim().split(/\s+/);
  if (list.length !== 24) throw new CocoonError('bad_flag', `a wallet mnemonic has 24 words, this one has ${list.length}`);
  return list;
}

/** The proxy contract: --proxy-contract, or on the local chain the one kept beside the chain state (read, never deployed here). */
function proxyContractOf(values: SettlementFlagValues, config: ChainConfig, env: NodeJS.ProcessEnv): Address {
  if (values['proxy-contract']) {
    try {
      return Address.parse(values['proxy-contract']);
    } catch {
      throw new CocoonError('bad_flag', `--proxy-contract is not a TON address: "${values['proxy-contract']}"`);
    }
  }
  if (config.network !== 'local') throw new CocoonError('bad_flag', 'settling needs the proxy contract (--proxy-contract ADDR)');
  try {
    return Address.parse((JSON.parse(readFileSync(join(localChainDir(config, env), 'proxy-contract.json'), 'utf8')) as { address: string }).address);
  } catch (err) {
    if (err instanceof CocoonError) throw err;
    throw new CocoonError('no_proxy_contract', 'the local chain has no proxy contract yet', { hint: 'start the proxy with --settle --local-wallet proxy first (it deploys one), or pass --proxy-contract ADDR' });
  }
}

/** The proxy's signing key: a file with the 32-byte seed or 64-byte secret key in hex. */
function proxyKeyOf(file: string): KeyPair {
  let hex: string;
  try {
    hex = readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new CocoonError('bad_flag', `cannot read --proxy-key-file: ${errorMessage(err)}`);
  }
  if (/^[0-9a-f]{64}$/i.test(hex)) return keyPairFromSeed(Buffer.from(hex, 'hex'));
  if (/^[0-9a-f]{128}$/i.test(hex)) return keyPairFromSecretKey(Buffer.from(hex, 'hex'));
  throw new CocoonError('bad_flag', '--proxy-key-file must hold the Ed25519 seed (64 hex digits) or secret key (128 hex digits)');
}

interface Common { chain: Chain; wallet: ChainWallet; dataDir: string; policy: SettlementPolicy }

async function common(role: Role, config: ChainConfig, values: SettlementFlagValues, env: NodeJS.ProcessEnv): Promise<Common> {
  const chain = new Chain(config);
  const wallet = await chain.wallet(walletWords(values, config, env));
  const dataDir = values['data-dir'] !== undefined ? cocoonHome({ flag: values['data-dir'] }) : join(cocoonHome({ env }), role);
  mkdirSync(dataDir, { recursive: true });
  return { chain, wallet, dataDir, policy: settlementPolicyOf(values, config) };
}

/**
 * When a role submits what it holds: on the embedded chain by default as `cocoon up` does (a
 * few requests settle within seconds: every 0.5–2 s, whatever the fee), elsewhere when the fee
 * is worth it (DEFAULT_SETTLEMENT_POLICY). `--settle-policy production` gives the embedded chain
 * the real thresholds (the relay bench measures with them); `dev` is refused off the local chain.
 */
export function settlementPolicyOf(values: Pick<SettlementFlagValues, 'settle-policy'>, config: Pick<ChainConfig, 'network'>): SettlementPolicy {
  const asked = values['settle-policy'];
  if (asked !== undefined && asked !== 'dev' && asked !== 'production') throw new CocoonError('bad_flag', `--settle-policy must be dev or production, got "${asked}"`);
  if (asked === 'dev' && config.network !== 'local') {
    throw new CocoonError('policy_refused', `--settle-policy dev (settle every few seconds, whatever the fee) is refused on ${config.network}`, { hint: 'leave it out: off the local chain a role settles when the fee is worth it' });
  }
  return (asked ?? (config.network === 'local' ? 'dev' : 'production')) === 'dev' ? LOCAL_DEV_SETTLEMENT_POLICY : DEFAULT_SETTLEMENT_POLICY;
}

export async function proxyRoleSettlement(config: ChainConfig, values: SettlementFlagValues, log: Logger, env: NodeJS.ProcessEnv = process.env): Promise<LedgerProxySettlement> {
  const c = await common('proxy', config, values, env);
  let proxyContract: Address;
  let proxyKey: KeyPair;
  if (values['proxy-key-file']) {
    proxyKey = proxyKeyOf(values['proxy-key-file']);
    proxyContract = proxyContractOf(values, config, env);
  } else if (config.network === 'local' && !values['proxy-contract']) {
    if (!config.rootAddress) throw new CocoonError('no_root', 'the local chain announced no root contract');
    log.warn({ banner: 'DEVELOPMENT' }, 'using the local chain\'s development proxy contract and key (kept beside the chain state)');
    ({ address: proxyContract, key: proxyKey } = await localProxyContract(c.chain, localChainDir(config, env), Address.parse(config.rootAddress), c.wallet));
  } else {
    throw new CocoonError('bad_flag', 'a settling proxy needs the key its contract holds (--proxy-key-file FILE)');
  }
  return LedgerProxySettlement.open({ chain: c.chain, wallet: c.wallet, proxyContract, proxyKey, dataDir: c.dataDir, policy: c.policy, log: log.child({ role: 'proxy-settlement' }) });
}

async function partyBase(role: 'client' | 'worker', config: ChainConfig, values: SettlementFlagValues, env: NodeJS.ProcessEnv) {
  const c = await common(role, config, values, env);
  const proxyContract = proxyContractOf(values, config, env);
  const proxy = await readProxyData(c.chain, proxyContract);
  if (!proxy) throw new CocoonError('proxy_not_deployed', `no proxy contract at ${proxyContract.toString()}`);
  const pricing: PricingParams = pricingOf(proxy.params);
  return { ...c, proxyContract, proxy, pricing };
}

export async function clientRoleSettlement(config: ChainConfig, values: SettlementFlagValues, log: Logger, env: NodeJS.ProcessEnv = process.env, answerRetention?: Partial<AnswerRetention>): Promise<{ settlement: StoreClientSettlement; pricing: PricingParams }> {
  const b = await partyBase('client', config, values, env);
  const own = await clientContractFor(b.chain, b.proxyContract, b.wallet.address);
  const settlement = StoreClientSettlement.open({
    ownerAddress: b.wallet.address.toString(), isTest: b.proxy.params.isTest, path: join(b.dataDir, PAYMENT_FILES.client), pricing: b.pricing,
    proxies: [{ proxyContract: b.proxyContract.toString(), ownContract: own.address.toString(), proxyPublicKey: b.proxy.publicKey }],
    chain: b.chain, wallet: b.wallet, policy: DEFAULT_SETTLEMENT_POLICY, log: log.child({ role: 'client-settlement' }),
    ...(answerRetention && { answerRetention }),
  });
  log.info({ owner: b.wallet.address.toString(), contract: own.address.toString(), proxy: b.proxyContract.toString() }, 'client settles with its client contract');
  // Short authorization when the contract already holds this client's secret hash.
  if (await settlement.enableShortAuth()) log.info({ contract: own.address.toString() }, 'the client contract holds this client\'s secret hash: short authorization');
  return { settlement, pricing: b.pricing };
}

export async function workerRoleSettlement(config: ChainConfig, values: SettlementFlagValues, log: Logger, env: NodeJS.ProcessEnv = process.env): Promise<StoreWorkerSettlement> {
  const b = await partyBase('worker', config, values, env);
  const own = await workerContractFor(b.chain, b.proxyContract, b.wallet.address);
  // The worker contract must exist for a payout to reach the owner (a claim then attaches only the payout).
  if (!(await readWorkerData(b.chain, own.address))) {
    log.info({ contract: own.address.toString() }, 'deploying this owner\'s worker contract');
    await b.wallet.sendAndWait([{ to: own.address, value: DEPLOY_VALUE, init: own.init, body: beginCell().endCell() }]);
    for (let i = 0; i < 100 && !(await readWorkerData(b.chain, own.address)); i++) await new Promise((r) => setTimeout(r, 100));
    if (!(await readWorkerData(b.chain, own.address))) throw new CocoonError('worker_contract_not_deployed', `the worker contract ${own.address.toString()} did not appear on chain`);
  }
  return StoreWorkerSettlement.open({
    ownerAddress: b.wallet.address.toString(), isTest: b.proxy.params.isTest, path: join(b.dataDir, PAYMENT_FILES.worker), pricing: b.pricing,
    proxies: [{ proxyContract: b.proxyContract.toString(), ownContract: own.address.toString(), proxyPublicKey: b.proxy.publicKey }],
    chain: b.chain, wallet: b.wallet, policy: DEFAULT_SETTLEMENT_POLICY, log: log.child({ role: 'worker-settlement' }),
  });
}

import { beginCell, Cell, contractAddress, type Address, type Contract, type ContractProvider, type Sender, SendMode } from '@ton/core';
import { DEFAULT_PRICING, MULTIPLIER_ONE, type PricingParams } from './economics.ts';
import { contractData } from './data.ts';
import { Body, MAX_CLOSE_DELAY, PARAMS_STRUCT_VERSION, parseRootData, rootDataCell, type RootData, type RootParams } from './protocol.ts';

export type { RootParams, RootData };

/** Network defaults (public description of the network); unique id 0 is replaced at genesis. */
export const DEFAULT_ROOT_PARAMS: RootParams = {
  structVersion: PARAMS_STRUCT_VERSION,
  paramsVersion: 1,
  uniqueId: 0,
  isTest: true,
  pricePerToken: BigInt(DEFAULT_PRICING.pricePerToken),
  workerFeePerToken: BigInt(DEFAULT_PRICING.workerFeePerToken),
  promptMultiplier: DEFAULT_PRICING.multipliers.prompt,
  cachedMultiplier: DEFAULT_PRICING.multipliers.cached,
  completionMultiplier: DEFAULT_PRICING.multipliers.completion,
  reasoningMultiplier: DEFAULT_PRICING.multipliers.reasoning,
  proxyDelayBeforeClose: 2 * 24 * 3600,
  clientDelayBeforeClose: 24 * 3600,
  minProxyStake: 15_000_000_000n,
  minClientStake: 15_000_000_000n,
};

export function pricingOf(p: RootParams): PricingParams {
  return {
    pricePerToken: Number(p.pricePerToken),
    workerFeePerToken: Number(p.workerFeePerToken),
    multipliers: { prompt: p.promptMultiplier, cached: p.cachedMultiplier, completion: p.completionMultiplier, reasoning: p.reasoningMultiplier },
  };
}

/** Same checks as the contract, so a bad value fails here with a readable message. */
export function validateRootParams(p: RootParams): void {
  if (p.pricePerToken <= 0n) throw new RangeError('pricePerToken must be positive');
  if (p.workerFeePerToken < 0n || p.workerFeePerToken > p.pricePerToken) throw new RangeError('workerFeePerToken must be between 0 and pricePerToken');
  for (const k of ['promptMultiplier', 'cachedMultiplier', 'completionMultiplier', 'reasoningMultiplier'] as const) {
    if (!Number.isInteger(p[k]) || p[k] < 0 || p[k] > 100 * MULTIPLIER_ONE) throw new RangeError(`${k} must be 0..${100 * MULTIPLIER_ONE}, got ${p[k]}`);
  }
  for (const k of ['proxyDelayBeforeClose', 'clientDelayBeforeClose'] as const) {
    if (!Number.isInteger(p[k]) || p[k] < 0 || p[k] > MAX_CLOSE_DELAY) throw new RangeError(`${k} must be 0..${MAX_CLOSE_DELAY} s, got ${p[k]}`);
  }
  if (p.minProxyStake < 0n || p.minClientStake < 0n) throw new RangeError('stakes must be non-negative');
  if (!Number.isInteger(p.uniqueId) || p.uniqueId < 0 || p.uniqueId > 0xffff_ffff) throw new RangeError('uniqueId must be a uint32');
}

export interface RootConfig {
  owner: Address;
  params?: RootParams;
  codes: { proxy: Cell; worker: Cell; client: Cell };
  version?: number;
}

export function rootConfigToCell(c: RootConfig): Cell {
  const params = c.params ?? DEFAULT_ROOT_PARAMS;
  validateRootParams(params);
  return rootDataCell({
    owner: c.owner, proxyHashes: [], proxies: [], lastProxySeqno: 0, workerHashes: [], modelHashes: [],
    version: c.version ?? 0, params, codes: c.codes,
  });
}

export type HashKind = 'proxyImage' | 'workerImage' | 'model';
const hashOps = {
  proxyImage: ['rootAddProxyType', 'rootDelProxyType'],
  workerImage: ['rootAddWorkerType', 'rootDelWorkerType'],
  model: ['rootAddModelType', 'rootDelModelType'],
} as const;

/** Body adding (or removing) a hash to one of the root's allowlists. */
export function rootHashBody(kind: HashKind, hash: bigint, add = true): Cell {
  return Body.rootHash(hashOps[kind][add ? 0 : 1], hash);
}

export class Root implements Contract {
  constructor(readonly address: Address, readonly init?: { code: Cell; data: Cell }) {}

  static createFromAddress(address: Address) {
    return new Root(address);
  }

  static createFromConfig(config: RootConfig, code: Cell, workchain = 0) {
    const init = { code, data: rootConfigToCell(config) };
    return new Root(contractAddress(workchain, init), init);
  }

  async sendDeploy(provider: ContractProvider, via: Sender, value: bigint) {
    await provider.internal(via, { value, sendMode: SendMode.PAY_GAS_SEPARATELY, body: beginCell().endCell() });
  }

  /** Any owner operation; build the body with `Body.root*` (protocol.ts) or rootHashBody. */
  async sendOwnerOp(provider: ContractProvider, via: Sender, value: bigint, body: Cell) {
    await provider.internal(via, { value, sendMode: SendMode.PAY_GAS_SEPARATELY, body });
  }

  async sendAddHash(provider: ContractProvider, via: Sender, o: { value: bigint; kind: HashKind; hash: bigint }) {
    await this.sendOwnerOp(provider, via, o.value, rootHashBody(o.kind, o.hash, true));
  }

  async sendRemoveHash(provider: ContractProvider, via: Sender, o: { value: bigint; kind: HashKind; hash: bigint }) {
    await this.sendOwnerOp(provider, via, o.value, rootHashBody(o.kind, o.hash, false));
  }

  async sendRegisterProxy(provider: ContractProvider, via: Sender, o: { value: bigint; entry: string }) {
    await this.sendOwnerOp(provider, via, o.value, Body.rootRegisterProxy(o.entry));
  }

  /** The root's configuration, parsed from its data cell the way nodes read it. */
  async getConfig(provider: ContractProvider): Promise<RootData> {
    return parseRootData(await contractData(provider, this.address));
  }

  async getVersion(provider: ContractProvider): Promise<number> {
    return (await provider.get('get_version', [])).stack.readNumber();
  }
}

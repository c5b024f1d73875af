import {
  beginCell, contractAddress, Dictionary, type Address, type Builder, type Cell, type Contract,
  type ContractProvider, type DictionaryValue, type Sender, SendMode, type Slice, type TupleReader,
} from '@ton/core';
import { DEFAULT_PRICING, MULTIPLIER_ONE, type PricingParams, type TokenCounts } from '../../node-core/src/payments/pricing.ts';
import { HashKind, type HashKindName, Op } from './protocol.ts';

export interface RootParams {
  pricePerToken: number;
  workerFeePerToken: number;
  multipliers: TokenCounts;
  minProxyStake: bigint;
  minClientStake: bigint;
  /** Seconds a client must wait between requesting and finishing a forced close. */
  clientCloseDelay: number;
  /** Seconds between a proxy's close request and when it may take its funds. */
  proxyCloseDelay: number;
}

export const DEFAULT_ROOT_PARAMS: RootParams = {
  pricePerToken: DEFAULT_PRICING.pricePerToken,
  workerFeePerToken: DEFAULT_PRICING.workerFeePerToken,
  multipliers: { ...DEFAULT_PRICING.multipliers },
  minProxyStake: 15_000_000_000n,
  minClientStake: 15_000_000_000n,
  clientCloseDelay: 24 * 3600,
  proxyCloseDelay: 2 * 24 * 3600,
};

export interface ProxyEntry {
  contractAddress: Address;
  /** "host:port" where the proxy accepts client and worker connections. */
  endpoint: string;
}

export interface RootConfig {
  owner: Address;
  params?: RootParams;
  version?: number;
}

export interface AllowedHashes {
  proxyImages: bigint[];
  workerImages: bigint[];
  models: bigint[];
}

export function pricingOf(params: RootParams): PricingParams {
  return { pricePerToken: params.pricePerToken, workerFeePerToken: params.workerFeePerToken, multipliers: { ...params.multipliers } };
}

export function storeRootParams(p: RootParams) {
  return (b: Builder) => {
    b.storeUint(p.pricePerToken, 32).storeUint(p.workerFeePerToken, 32)
      .storeUint(p.multipliers.prompt, 32).storeUint(p.multipliers.cached, 32)
      .storeUint(p.multipliers.completion, 32).storeUint(p.multipliers.reasoning, 32)
      .storeCoins(p.minProxyStake).storeCoins(p.minClientStake)
      .storeUint(p.clientCloseDelay, 32).storeUint(p.proxyCloseDelay, 32);
  };
}

export function readRootParams(r: TupleReader): RootParams {
  return {
    pricePerToken: r.readNumber(),
    workerFeePerToken: r.readNumber(),
    multipliers: { prompt: r.readNumber(), cached: r.readNumber(), completion: r.readNumber(), reasoning: r.readNumber() },
    minProxyStake: r.readBigNumber(),
    minClientStake: r.readBigNumber(),
    clientCloseDelay: r.readNumber(),
    proxyCloseDelay: r.readNumber(),
  };
}

/** Same checks as the contract, so a bad value fails here with a readable message. */
export function validateRootParams(p: RootParams): void {
  const u32 = (n: number, name: string) => {
    if (!Number.isInteger(n) || n < 0 || n > 0xffff_ffff) throw new RangeError(`${name} must be a uint32, got ${n}`);
  };
  u32(p.pricePerToken, 'pricePerToken');
  u32(p.workerFeePerToken, 'workerFeePerToken');
  if (p.pricePerToken === 0) throw new RangeError('pricePerToken must be positive');
  if (p.workerFeePerToken > p.pricePerToken) throw new RangeError('workerFeePerToken cannot exceed pricePerToken');
  for (const [k, v] of Object.entries(p.multipliers)) {
    u32(v, `multipliers.${k}`);
    if (v > 100 * MULTIPLIER_ONE) throw new RangeError(`multipliers.${k} must be at most 100x (${100 * MULTIPLIER_ONE}), got ${v}`);
  }
  if (p.minProxyStake < 0n || p.minClientStake < 0n) throw new RangeError('stakes must be non-negative');
  u32(p.clientCloseDelay, 'clientCloseDelay');
  u32(p.proxyCloseDelay, 'proxyCloseDelay');
}

const ProxyEntryValue: DictionaryValue<ProxyEntry> = {
  serialize(v, b) {
    b.storeAddress(v.contractAddress).storeRef(beginCell().storeStringTail(v.endpoint).endCell());
  },
  parse(s: Slice) {
    return { contractAddress: s.loadAddress(), endpoint: s.loadRef().beginParse().loadStringTail() };
  },
};

const hashDict = () => Dictionary.empty(Dictionary.Keys.BigUint(256), Dictionary.Values.Bool());

export function rootConfigToCell(config: RootConfig): Cell {
  const params = config.params ?? DEFAULT_ROOT_PARAMS;
  validateRootParams(params);
  const hashes = beginCell().storeDict(hashDict()).storeDict(hashDict()).storeDict(hashDict()).endCell();
  return beginCell()
    .storeAddress(config.owner)
    .storeUint(config.version ?? 0, 32)
    .storeUint(0, 32)
    .storeRef(beginCell().store(storeRootParams(params)).endCell())
    .storeDict(Dictionary.empty(Dictionary.Keys.Uint(32), ProxyEntryValue))
    .storeRef(hashes)
    .endCell();
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

  private async sendOwnerOp(provider: ContractProvider, via: Sender, value: bigint, body: Cell) {
    await provider.internal(via, { value, sendMode: SendMode.PAY_GAS_SEPARATELY, body });
  }

  async sendAddProxy(provider: ContractProvider, via: Sender, opts: { value: bigint; entry: ProxyEntry }) {
    const body = beginCell().storeUint(Op.rootAddProxy, 32);
    ProxyEntryValue.serialize(opts.entry, body);
    await this.sendOwnerOp(provider, via, opts.value, body.endCell());
  }

  async sendRemoveProxy(provider: ContractProvider, via: Sender, opts: { value: bigint; seqno: number }) {
    await this.sendOwnerOp(provider, via, opts.value, beginCell().storeUint(Op.rootRemoveProxy, 32).storeUint(opts.seqno, 32).endCell());
  }

  async sendSetParams(provider: ContractProvider, via: Sender, opts: { value: bigint; params: RootParams; skipValidation?: boolean }) {
    if (!opts.skipValidation) validateRootParams(opts.params);
    await this.sendOwnerOp(provider, via, opts.value, beginCell().storeUint(Op.rootSetParams, 32).store(storeRootParams(opts.params)).endCell());
  }

  async sendAddHash(provider: ContractProvider, via: Sender, opts: { value: bigint; kind: HashKindName; hash: bigint }) {
    await this.sendOwnerOp(provider, via, opts.value,
      beginCell().storeUint(Op.rootAddHash, 32).storeUint(HashKind[opts.kind], 8).storeUint(opts.hash, 256).endCell());
  }

  async sendRemoveHash(provider: ContractProvider, via: Sender, opts: { value: bigint; kind: HashKindName; hash: bigint }) {
    await this.sendOwnerOp(provider, via, opts.value,
      beginCell().storeUint(Op.rootRemoveHash, 32).storeUint(HashKind[opts.kind], 8).storeUint(opts.hash, 256).endCell());
  }

  async sendChangeOwner(provider: ContractProvider, via: Sender, opts: { value: bigint; newOwner: Address }) {
    await this.sendOwnerOp(provider, via, opts.value, beginCell().storeUint(Op.rootChangeOwner, 32).storeAddress(opts.newOwner).endCell());
  }

  async getVersion(provider: ContractProvider): Promise<number> {
    return (await provider.get('get_version', [])).stack.readNumber();
  }

  async getOwner(provider: ContractProvider): Promise<Address> {
    return (await provider.get('get_owner', [])).stack.readAddress();
  }

  async getParams(provider: ContractProvider): Promise<RootParams> {
    return readRootParams((await provider.get('get_params', [])).stack);
  }

  async getProxies(provider: ContractProvider): Promise<{ nextSeqno: number; proxies: Array<ProxyEntry & { seqno: number }> }> {
    const r = (await provider.get('get_proxies', [])).stack;
    const nextSeqno = r.readNumber();
    const cell = r.readCellOpt();
    const dict = cell
      ? Dictionary.loadDirect(Dictionary.Keys.Uint(32), ProxyEntryValue, cell)
      : Dictionary.empty(Dictionary.Keys.Uint(32), ProxyEntryValue);
    return { nextSeqno, proxies: dict.keys().sort((a, b) => a - b).map((seqno) => ({ seqno, ...dict.get(seqno)! })) };
  }

  async getAllowedHashes(provider: ContractProvider): Promise<AllowedHashes> {
    const r = (await provider.get('get_allowed_hashes', [])).stack;
    const keys = (c: Cell | null) => (c ? Dictionary.loadDirect(Dictionary.Keys.BigUint(256), Dictionary.Values.Bool(), c).keys() : []);
    return { proxyImages: keys(r.readCellOpt()), workerImages: keys(r.readCellOpt()), models: keys(r.readCellOpt()) };
  }

  async getIsHashAllowed(provider: ContractProvider, kind: HashKindName, hash: bigint): Promise<boolean> {
    const r = await provider.get('is_hash_allowed', [
      { type: 'int', value: BigInt(HashKind[kind]) },
      { type: 'int', value: hash },
    ]);
    return r.stack.readBoolean();
  }
}

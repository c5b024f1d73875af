import {
  beginCell, contractAddress, type Address, type Cell, type Contract, type ContractProvider, type Sender, SendMode,
} from '@ton/core';
import { Op } from './protocol.ts';
import type { RootParams } from './Root.ts';

/** The root parameters a proxy contract copies at deploy (its clients and workers inherit them). */
export type ProxyParams = Pick<RootParams,
  'pricePerToken' | 'workerFeePerToken' | 'minProxyStake' | 'minClientStake' | 'clientCloseDelay' | 'proxyCloseDelay'>;

export interface ProxyConfig {
  owner: Address;
  /** Ed25519 public key (32 bytes) that signs charges, closes and payouts. */
  publicKey: Buffer;
  root: Address;
  params: ProxyParams;
  clientCode: Cell;
  workerCode: Cell;
}

export interface ProxyState {
  owner: Address;
  publicKey: Buffer;
  stake: bigint;
  /** What clients paid for workers (worker fee share), plus stake moved in to cover shortfalls. */
  workerReserve: bigint;
  workersPaid: bigint;
  /** The proxy's share of client payments. */
  earned: bigint;
  ownerWithdrawn: bigint;
  /** Unix time after which a requested close may finish; 0 = not closing. */
  closeAt: number;
  closed: boolean;
}

export function proxyConfigToCell(c: ProxyConfig): Cell {
  if (c.publicKey.length !== 32) throw new RangeError(`proxy public key must be 32 bytes, got ${c.publicKey.length}`);
  const p = c.params;
  const cfg = beginCell()
    .storeAddress(c.root)
    .storeUint(p.pricePerToken, 32).storeUint(p.workerFeePerToken, 32)
    .storeCoins(p.minProxyStake).storeCoins(p.minClientStake)
    .storeUint(p.clientCloseDelay, 32).storeUint(p.proxyCloseDelay, 32)
    .storeRef(c.clientCode).storeRef(c.workerCode)
    .endCell();
  return beginCell()
    .storeAddress(c.owner).storeBuffer(c.publicKey, 32)
    .storeUint(0, 64).storeUint(0, 64).storeUint(0, 64).storeUint(0, 64).storeUint(0, 64)
    .storeUint(0, 32).storeBit(false)
    .storeRef(cfg)
    .endCell();
}

export class Proxy implements Contract {
  constructor(readonly address: Address, readonly init?: { code: Cell; data: Cell }) {}

  static createFromAddress(address: Address) {
    return new Proxy(address);
  }

  static createFromConfig(config: ProxyConfig, code: Cell, workchain = 0) {
    const init = { code, data: proxyConfigToCell(config) };
    return new Proxy(contractAddress(workchain, init), init);
  }

  /** Deploys by adding the initial stake (must reach the minimum proxy stake). */
  async sendDeploy(provider: ContractProvider, via: Sender, stake: bigint) {
    await this.sendAddStake(provider, via, stake);
  }

  async sendAddStake(provider: ContractProvider, via: Sender, value: bigint) {
    await provider.internal(via, { value, sendMode: SendMode.PAY_GAS_SEPARATELY, body: beginCell().storeUint(Op.proxyAddStake, 32).endCell() });
  }

  async sendWithdrawEarnings(provider: ContractProvider, via: Sender, opts: { value: bigint; amount: bigint }) {
    await provider.internal(via, {
      value: opts.value, sendMode: SendMode.PAY_GAS_SEPARATELY,
      body: beginCell().storeUint(Op.proxyWithdrawEarnings, 32).storeCoins(opts.amount).endCell(),
    });
  }

  async sendRequestClose(provider: ContractProvider, via: Sender, value: bigint) {
    await provider.internal(via, { value, sendMode: SendMode.PAY_GAS_SEPARATELY, body: beginCell().storeUint(Op.proxyRequestClose, 32).endCell() });
  }

  async sendFinishClose(provider: ContractProvider, via: Sender, value: bigint) {
    await provider.internal(via, { value, sendMode: SendMode.PAY_GAS_SEPARATELY, body: beginCell().storeUint(Op.proxyFinishClose, 32).endCell() });
  }

  async getState(provider: ContractProvider): Promise<ProxyState> {
    const r = (await provider.get('get_proxy_state', [])).stack;
    return {
      owner: r.readAddress(),
      publicKey: Buffer.from(r.readBigNumber().toString(16).padStart(64, '0'), 'hex'),
      stake: r.readBigNumber(),
      workerReserve: r.readBigNumber(),
      workersPaid: r.readBigNumber(),
      earned: r.readBigNumber(),
      ownerWithdrawn: r.readBigNumber(),
      closeAt: r.readNumber(),
      closed: r.readBoolean(),
    };
  }

  async getParams(provider: ContractProvider): Promise<ProxyParams & { root: Address }> {
    const r = (await provider.get('get_proxy_config', [])).stack;
    return {
      root: r.readAddress(),
      pricePerToken: r.readNumber(),
      workerFeePerToken: r.readNumber(),
      minProxyStake: r.readBigNumber(),
      minClientStake: r.readBigNumber(),
      clientCloseDelay: r.readNumber(),
      proxyCloseDelay: r.readNumber(),
    };
  }

  async getClientAddress(provider: ContractProvider, owner: Address): Promise<Address> {
    const r = await provider.get('get_client_address', [{ type: 'slice', cell: beginCell().storeAddress(owner).endCell() }]);
    return r.stack.readAddress();
  }

  async getWorkerAddress(provider: ContractProvider, owner: Address): Promise<Address> {
    const r = await provider.get('get_worker_address', [{ type: 'slice', cell: beginCell().storeAddress(owner).endCell() }]);
    return r.stack.readAddress();
  }
}

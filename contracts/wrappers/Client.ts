import {
  beginCell, contractAddress, type Address, type Cell, type Contract, type ContractProvider, type Sender, SendMode,
} from '@ton/core';
import { Op } from './protocol.ts';
import { storeSignedMessage, type SignedMessage } from './signing.ts';
import type { ProxyParams } from './Proxy.ts';

/** Everything that fixes a client contract's address: its proxy, its owner and the proxy's terms. */
export interface ClientConfig {
  proxy: Address;
  owner: Address;
  proxyPublicKey: Buffer;
  pricePerToken: number;
  workerFeePerToken: number;
  minClientStake: bigint;
  closeDelay: number;
}

export interface ClientState {
  proxy: Address;
  owner: Address;
  /** Free balance, nanoTON: withdrawable. */
  balance: bigint;
  /** Locked until close; charges draw on it only when the balance runs out. */
  stake: bigint;
  /** Cumulative weighted tokens charged so far (the last accepted signed counter). */
  chargedTokens: bigint;
  chargedNano: bigint;
  closeRequestedAt: number;
  closed: boolean;
}

export function clientConfigFor(proxy: Address, owner: Address, proxyPublicKey: Buffer, params: ProxyParams): ClientConfig {
  return {
    proxy, owner, proxyPublicKey,
    pricePerToken: params.pricePerToken,
    workerFeePerToken: params.workerFeePerToken,
    minClientStake: params.minClientStake,
    closeDelay: params.clientCloseDelay,
  };
}

export function clientConfigToCell(c: ClientConfig): Cell {
  if (c.proxyPublicKey.length !== 32) throw new RangeError(`proxy public key must be 32 bytes, got ${c.proxyPublicKey.length}`);
  const cfg = beginCell()
    .storeBuffer(c.proxyPublicKey, 32).storeUint(c.pricePerToken, 32).storeUint(c.workerFeePerToken, 32)
    .storeCoins(c.minClientStake).storeUint(c.closeDelay, 32)
    .endCell();
  return beginCell()
    .storeAddress(c.proxy).storeAddress(c.owner)
    .storeUint(0, 64).storeUint(0, 64).storeUint(0, 64).storeUint(0, 64)
    .storeUint(0, 32).storeBit(false)
    .storeRef(cfg)
    .endCell();
}

const opBody = (op: number) => beginCell().storeUint(op, 32).endCell();

export class Client implements Contract {
  constructor(readonly address: Address, readonly init?: { code: Cell; data: Cell }) {}

  static createFromAddress(address: Address) {
    return new Client(address);
  }

  static createFromConfig(config: ClientConfig, code: Cell, workchain = 0) {
    const init = { code, data: clientConfigToCell(config) };
    return new Client(contractAddress(workchain, init), init);
  }

  /** Deploys (state init rides along while the account is not active) and stakes `value`. */
  async sendDeploy(provider: ContractProvider, via: Sender, value: bigint) {
    await this.sendIncreaseStake(provider, via, value);
  }

  async sendTopUp(provider: ContractProvider, via: Sender, value: bigint) {
    await provider.internal(via, { value, sendMode: SendMode.PAY_GAS_SEPARATELY, body: opBody(Op.clientTopUp) });
  }

  async sendIncreaseStake(provider: ContractProvider, via: Sender, value: bigint) {
    await provider.internal(via, { value, sendMode: SendMode.PAY_GAS_SEPARATELY, body: opBody(Op.clientIncreaseStake) });
  }

  async sendWithdraw(provider: ContractProvider, via: Sender, opts: { value: bigint; amount: bigint }) {
    await provider.internal(via, {
      value: opts.value, sendMode: SendMode.PAY_GAS_SEPARATELY,
      body: beginCell().storeUint(Op.clientWithdraw, 32).storeCoins(opts.amount).endCell(),
    });
  }

  async sendCharge(provider: ContractProvider, via: Sender, opts: { value: bigint; signed: SignedMessage }) {
    await provider.internal(via, {
      value: opts.value, sendMode: SendMode.PAY_GAS_SEPARATELY,
      body: beginCell().storeUint(Op.clientCharge, 32).store(storeSignedMessage(opts.signed)).endCell(),
    });
  }

  async sendCooperativeClose(provider: ContractProvider, via: Sender, opts: { value: bigint; signed: SignedMessage }) {
    await provider.internal(via, {
      value: opts.value, sendMode: SendMode.PAY_GAS_SEPARATELY,
      body: beginCell().storeUint(Op.clientCooperativeClose, 32).store(storeSignedMessage(opts.signed)).endCell(),
    });
  }

  async sendRequestClose(provider: ContractProvider, via: Sender, value: bigint) {
    await provider.internal(via, { value, sendMode: SendMode.PAY_GAS_SEPARATELY, body: opBody(Op.clientRequestClose) });
  }

  async sendFinishClose(provider: ContractProvider, via: Sender, value: bigint) {
    await provider.internal(via, { value, sendMode: SendMode.PAY_GAS_SEPARATELY, body: opBody(Op.clientFinishClose) });
  }

  async getState(provider: ContractProvider): Promise<ClientState> {
    const r = (await provider.get('get_client_state', [])).stack;
    return {
      proxy: r.readAddress(),
      owner: r.readAddress(),
      balance: r.readBigNumber(),
      stake: r.readBigNumber(),
      chargedTokens: r.readBigNumber(),
      chargedNano: r.readBigNumber(),
      closeRequestedAt: r.readNumber(),
      closed: r.readBoolean(),
    };
  }
}

import {
  beginCell, contractAddress, type Address, type Cell, type Contract, type ContractProvider, type Sender, SendMode,
} from '@ton/core';
import { Op } from './protocol.ts';
import { storeSignedMessage, type SignedMessage } from './signing.ts';

export interface WorkerConfig {
  proxy: Address;
  owner: Address;
  proxyPublicKey: Buffer;
  workerFeePerToken: number;
}

export interface WorkerState {
  proxy: Address;
  owner: Address;
  proxyPublicKey: Buffer;
  workerFeePerToken: number;
  /** Cumulative weighted tokens already paid for. */
  paidTokens: bigint;
}

export function workerConfigToCell(c: WorkerConfig): Cell {
  if (c.proxyPublicKey.length !== 32) throw new RangeError(`proxy public key must be 32 bytes, got ${c.proxyPublicKey.length}`);
  return beginCell()
    .storeAddress(c.proxy).storeAddress(c.owner).storeBuffer(c.proxyPublicKey, 32)
    .storeUint(c.workerFeePerToken, 32).storeUint(0, 64)
    .endCell();
}

export class Worker implements Contract {
  constructor(readonly address: Address, readonly init?: { code: Cell; data: Cell }) {}

  static createFromAddress(address: Address) {
    return new Worker(address);
  }

  static createFromConfig(config: WorkerConfig, code: Cell, workchain = 0) {
    const init = { code, data: workerConfigToCell(config) };
    return new Worker(contractAddress(workchain, init), init);
  }

  async sendDeploy(provider: ContractProvider, via: Sender, value: bigint) {
    await provider.internal(via, { value, sendMode: SendMode.PAY_GAS_SEPARATELY, body: beginCell().endCell() });
  }

  /** Anyone may submit (usually the worker owner): the proxy's signature is the authority. */
  async sendPayout(provider: ContractProvider, via: Sender, opts: { value: bigint; signed: SignedMessage }) {
    await provider.internal(via, {
      value: opts.value, sendMode: SendMode.PAY_GAS_SEPARATELY,
      body: beginCell().storeUint(Op.workerPayout, 32).store(storeSignedMessage(opts.signed)).endCell(),
    });
  }

  async getState(provider: ContractProvider): Promise<WorkerState> {
    const r = (await provider.get('get_worker_state', [])).stack;
    return {
      proxy: r.readAddress(),
      owner: r.readAddress(),
      proxyPublicKey: Buffer.from(r.readBigNumber().toString(16).padStart(64, '0'), 'hex'),
      workerFeePerToken: r.readNumber(),
      paidTokens: r.readBigNumber(),
    };
  }
}

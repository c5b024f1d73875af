import { beginCell, contractAddress, type Address, type Cell, type Contract, type ContractProvider, type Sender, SendMode } from '@ton/core';
import { contractData } from './data.ts';
import { Body, parseWorkerData, workerInitData, type RootParams, type WorkerData } from './protocol.ts';
import { randomQueryId } from './signing.ts';

export type { WorkerData };

/** What fixes a worker contract's address (WorkerContract's constructor arguments + root params). */
export interface WorkerConfig {
  owner: Address;
  proxy: Address;
  proxyPublicKey: Buffer;
  params: RootParams;
}

export const workerConfigToCell = (c: WorkerConfig): Cell => workerInitData(c);

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

  async sendRegister(provider: ContractProvider, via: Sender, o: { value: bigint; queryId?: bigint }) {
    await provider.internal(via, { value: o.value, sendMode: SendMode.PAY_GAS_SEPARATELY, body: Body.workerRegister(o.queryId ?? randomQueryId(), via.address!) });
  }

  /** A proxy-signed payout (signing.ts), submitted by anyone. */
  async sendSigned(provider: ContractProvider, via: Sender, o: { value: bigint; body: Cell }) {
    await provider.internal(via, { value: o.value, sendMode: SendMode.PAY_GAS_SEPARATELY, body: o.body });
  }

  async getData(provider: ContractProvider): Promise<WorkerData> {
    return parseWorkerData(await contractData(provider, this.address));
  }
}

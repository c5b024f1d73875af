import { beginCell, contractAddress, type Address, type Cell, type Contract, type ContractProvider, type Sender, SendMode } from '@ton/core';
import { contractData } from './data.ts';
import { Body, parseProxyData, proxyInitData, type ProxyData, type RootParams } from './protocol.ts';
import { randomQueryId } from './signing.ts';
import { Client } from './Client.ts';
import { Worker } from './Worker.ts';

export type { ProxyData };

/** What fixes a proxy contract's address (ProxyContract's constructor arguments + root config). */
export interface ProxyConfig {
  owner: Address;
  publicKey: Buffer;
  root: Address;
  params: RootParams;
  workerCode: Cell;
  clientCode: Cell;
}

export const proxyConfigToCell = (c: ProxyConfig): Cell => proxyInitData(c);

export class Proxy implements Contract {
  constructor(readonly address: Address, readonly init?: { code: Cell; data: Cell }) {}

  static createFromAddress(address: Address) {
    return new Proxy(address);
  }

  static createFromConfig(config: ProxyConfig, code: Cell, workchain = 0) {
    const init = { code, data: proxyConfigToCell(config) };
    return new Proxy(contractAddress(workchain, init), init);
  }

  private async send(provider: ContractProvider, via: Sender, value: bigint, body: Cell) {
    await provider.internal(via, { value, sendMode: SendMode.PAY_GAS_SEPARATELY, body });
  }

  async sendDeploy(provider: ContractProvider, via: Sender, value: bigint) {
    await this.send(provider, via, value, beginCell().endCell());
  }

  async sendIncreaseStake(provider: ContractProvider, via: Sender, o: { value: bigint; amount: bigint; queryId?: bigint }) {
    await this.send(provider, via, o.value, Body.proxyIncreaseStake(o.queryId ?? randomQueryId(), o.amount, via.address!));
  }

  /** Pays the proxy's earned balance to its owner (anyone may send it). */
  async sendWithdraw(provider: ContractProvider, via: Sender, o: { value: bigint; queryId?: bigint }) {
    await this.send(provider, via, o.value, Body.proxyWithdraw(o.queryId ?? randomQueryId(), via.address!));
  }

  /** Owner: first call starts the close, a call after the delay completes it. */
  async sendClose(provider: ContractProvider, via: Sender, o: { value: bigint }) {
    await this.send(provider, via, o.value, Body.proxyClose(via.address!));
  }

  /** A proxy-signed close request (signing.ts signCloseMessage). */
  async sendSigned(provider: ContractProvider, via: Sender, o: { value: bigint; body: Cell }) {
    await this.send(provider, via, o.value, o.body);
  }

  async getData(provider: ContractProvider): Promise<ProxyData> {
    return parseProxyData(await contractData(provider, this.address));
  }

  async getClientAddress(provider: ContractProvider, owner: Address): Promise<Address> {
    return (await provider.get('get_client_address', [{ type: 'slice', cell: beginCell().storeAddress(owner).endCell() }])).stack.readAddress();
  }

  async getWorkerAddress(provider: ContractProvider, owner: Address): Promise<Address> {
    return (await provider.get('get_worker_address', [{ type: 'slice', cell: beginCell().storeAddress(owner).endCell() }])).stack.readAddress();
  }
}

/**
 * A party's contract at a proxy, derived off chain from the codes the root holds (as the
 * reference's generate_client_sc_address / generate_worker_sc_address do).
 */
export function clientContractOf(o: { owner: Address; proxy: Address; proxyPublicKey: Buffer; params: RootParams; clientCode: Cell }): Client {
  return Client.createFromConfig({ owner: o.owner, proxy: o.proxy, proxyPublicKey: o.proxyPublicKey, params: o.params }, o.clientCode);
}

export function workerContractOf(o: { owner: Address; proxy: Address; proxyPublicKey: Buffer; params: RootParams; workerCode: Cell }): Worker {
  return Worker.createFromConfig({ owner: o.owner, proxy: o.proxy, proxyPublicKey: o.proxyPublicKey, params: o.params }, o.workerCode);
}

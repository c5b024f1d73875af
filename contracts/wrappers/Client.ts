import { beginCell, contractAddress, type Address, type Cell, type Contract, type ContractProvider, type Sender, SendMode } from '@ton/core';
import { contractData } from './data.ts';
import { Body, clientInitData, parseClientData, type ClientData, type RootParams } from './protocol.ts';
import { randomQueryId } from './signing.ts';

export type { ClientData };

/** What fixes a client contract's address (ClientContract's constructor arguments + root params). */
export interface ClientConfig {
  owner: Address;
  proxy: Address;
  proxyPublicKey: Buffer;
  params: RootParams;
}

export const clientConfigToCell = (c: ClientConfig): Cell => clientInitData(c);

type Op = { value: bigint; queryId?: bigint; excessesTo?: Address };

export class Client implements Contract {
  constructor(readonly address: Address, readonly init?: { code: Cell; data: Cell }) {}

  static createFromAddress(address: Address) {
    return new Client(address);
  }

  static createFromConfig(config: ClientConfig, code: Cell, workchain = 0) {
    const init = { code, data: clientConfigToCell(config) };
    return new Client(contractAddress(workchain, init), init);
  }

  private async send(provider: ContractProvider, via: Sender, value: bigint, body: Cell) {
    await provider.internal(via, { value, sendMode: SendMode.PAY_GAS_SEPARATELY, body });
  }

  private excesses(via: Sender, o: Op): Address {
    const a = o.excessesTo ?? via.address;
    if (!a) throw new Error('excessesTo is required when the sender has no address');
    return a;
  }

  /** Deploys with an empty body (as the reference does): the value stays as the storage buffer. */
  async sendDeploy(provider: ContractProvider, via: Sender, value: bigint) {
    await this.send(provider, via, value, beginCell().endCell());
  }

  /** Adds `amount` to the balance; `value` must cover amount + MIN_OP_VALUE (the rest returns). */
  async sendTopUp(provider: ContractProvider, via: Sender, o: Op & { amount: bigint; reopen?: boolean }) {
    const q = o.queryId ?? randomQueryId();
    await this.send(provider, via, o.value, o.reopen ? Body.clientTopUpReopen(q, o.amount, this.excesses(via, o)) : Body.clientTopUp(q, o.amount, this.excesses(via, o)));
  }

  async sendRegister(provider: ContractProvider, via: Sender, o: Op & { nonce: bigint }) {
    await this.send(provider, via, o.value, Body.clientRegister(o.queryId ?? randomQueryId(), o.nonce, this.excesses(via, o)));
  }

  async sendChangeSecretHash(provider: ContractProvider, via: Sender, o: Op & { secretHash: Buffer }) {
    await this.send(provider, via, o.value, Body.clientChangeSecretHash(o.queryId ?? randomQueryId(), o.secretHash, this.excesses(via, o)));
  }

  async sendIncreaseStake(provider: ContractProvider, via: Sender, o: Op & { newStake: bigint }) {
    await this.send(provider, via, o.value, Body.clientIncreaseStake(o.queryId ?? randomQueryId(), this.excesses(via, o), o.newStake));
  }

  async sendWithdraw(provider: ContractProvider, via: Sender, o: Op & { amount?: bigint }) {
    await this.send(provider, via, o.value, Body.clientWithdraw(o.queryId ?? randomQueryId(), this.excesses(via, o), o.amount));
  }

  async sendRequestRefund(provider: ContractProvider, via: Sender, o: Op) {
    await this.send(provider, via, o.value, Body.clientRequestRefund(o.queryId ?? randomQueryId(), this.excesses(via, o)));
  }

  /** A proxy-signed charge or refund (signing.ts), submitted by anyone. */
  async sendSigned(provider: ContractProvider, via: Sender, o: { value: bigint; body: Cell }) {
    await this.send(provider, via, o.value, o.body);
  }

  async getData(provider: ContractProvider): Promise<ClientData> {
    return parseClientData(await contractData(provider, this.address));
  }
}

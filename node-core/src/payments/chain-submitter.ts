/**
 * The `SettlementSubmitter` over today's chain layer (node-core/src/chain/settlement.ts): sends a
 * stored signed message through a wallet and reads the contract's counter back. This is the one
 * place that knows the contract operations (the message bytes are signed-payments.ts's); when the
 * contracts move to the reference's payment bodies, only these two files change.
 */
import { Address } from '@ton/core';
import type { Chain, ChainWallet } from '../chain/chain.ts';
import { submitCharge, submitPayout } from '../chain/settlement.ts';
import { CocoonError, errorMessage } from '../errors.ts';
import { readPayload, type SignedMessage } from '../../../contracts/wrappers/signing.ts';
import { decodeSignedMessage } from './signed-payments.ts';
import { SignedTag } from '../../../contracts/wrappers/protocol.ts';
import { Client } from '../../../contracts/wrappers/Client.ts';
import { Worker } from '../../../contracts/wrappers/Worker.ts';
import type { SettlementItem, SettlementSubmitter, SubmitOutcome } from './settlement-scheduler.ts';

export class ChainSettlementSubmitter implements SettlementSubmitter {
  constructor(private readonly chain: Chain, private readonly wallet: ChainWallet) {}

  async submit(item: SettlementItem): Promise<SubmitOutcome> {
    let signed: SignedMessage;
    let target: Address;
    try {
      signed = decodeSignedMessage(item.signedMessage);
      const p = readPayload(signed.payload);
      target = Address.parse(item.contract);
      const tag = item.kind === 'charge' ? SignedTag.charge : SignedTag.payout;
      if (p.tag !== tag || !p.target.equals(target) || p.cumulativeTokens !== item.counter) {
        return { status: 'failed', retryable: false, error: `the stored message is for tag ${p.tag}, ${p.target.toString()}, counter ${p.cumulativeTokens}, not ${item.kind} ${item.contract} ${item.counter}` };
      }
    } catch (err) {
      return { status: 'failed', retryable: false, error: errorMessage(err) };
    }
    try {
      if (item.kind === 'charge') return { status: 'confirmed', onChainCounter: (await submitCharge(this.chain, this.wallet, target, signed)).chargedTokens };
      return { status: 'confirmed', onChainCounter: (await submitPayout(this.chain, this.wallet, target, signed)).paidTokens };
    } catch (err) {
      // Refused because the chain already holds this counter or more (someone else submitted)? Then it is settled.
      const held = await this.onChainCounter(item).catch(() => undefined);
      if (held !== undefined && held >= item.counter) return { status: 'confirmed', onChainCounter: held };
      const refused = err instanceof CocoonError && err.code === 'settlement_rejected';
      return { status: 'failed', retryable: !refused, error: errorMessage(err) };
    }
  }

  private async onChainCounter(item: SettlementItem): Promise<bigint> {
    const a = Address.parse(item.contract);
    return item.kind === 'charge'
      ? (await this.chain.open(Client.createFromAddress(a)).getState()).chargedTokens
      : (await this.chain.open(Worker.createFromAddress(a)).getState()).paidTokens;
  }
}

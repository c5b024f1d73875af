/**
 * The `SettlementSubmitter` over the chain layer (node-core/src/chain/settlement.ts): sends a
 * stored signed body through a wallet (re-wrapped so the unspent value returns to that wallet)
 * and reads the contract's counter back. Works the same on the embedded chain, testnet, mainnet.
 */
import { Address } from '@ton/core';
import type { Chain, ChainWallet } from '../chain/chain.ts';
import { submitCharge, submitPayout } from '../chain/settlement.ts';
import { readClientData, readWorkerData } from '../chain/contract-state.ts';
import { CocoonError, errorMessage } from '../errors.ts';
import { decodeSignedBody, readSignedPayment, SIGNED_OP } from './signed-payments.ts';
import { Op } from '../../../contracts/wrappers/protocol.ts';
import type { SettlementItem, SettlementSubmitter, SubmitOutcome } from './settlement-scheduler.ts';

export class ChainSettlementSubmitter implements SettlementSubmitter {
  constructor(private readonly chain: Chain, private readonly wallet: ChainWallet) {}

  async submit(item: SettlementItem): Promise<SubmitOutcome> {
    try {
      const m = readSignedPayment(item.signedMessage);
      const target = Address.parse(item.contract);
      if (m.op !== Op[SIGNED_OP[item.kind]] || !m.target.equals(target) || m.tokens !== item.counter) {
        return { status: 'failed', retryable: false, error: `the stored message is op 0x${m.op.toString(16)} for ${m.target.toString()} counter ${m.tokens}, not a ${item.kind} of ${item.counter} for ${item.contract}` };
      }
    } catch (err) {
      return { status: 'failed', retryable: false, error: errorMessage(err) };
    }
    // Already there (someone else submitted it, or a previous attempt landed before a crash)?
    const before = await this.onChainCounter(item).catch(() => undefined);
    if (before !== undefined && before >= item.counter) return { status: 'confirmed', onChainCounter: before };
    try {
      const body = decodeSignedBody(item.signedMessage);
      if (item.kind === 'charge') return { status: 'confirmed', onChainCounter: (await submitCharge(this.chain, this.wallet, body)).tokensUsed };
      return { status: 'confirmed', onChainCounter: (await submitPayout(this.chain, this.wallet, body)).tokens };
    } catch (err) {
      const held = await this.onChainCounter(item).catch(() => undefined);
      if (held !== undefined && held >= item.counter) return { status: 'confirmed', onChainCounter: held };
      const refused = err instanceof CocoonError && err.code === 'settlement_rejected';
      // A refused payout is usually a reserve not yet funded by the charges it depends on: retry it.
      return { status: 'failed', retryable: !refused || item.kind === 'payout', error: errorMessage(err) };
    }
  }

  /** The counter the chain holds for this contract (0 when not deployed). */
  async onChainCounter(item: Pick<SettlementItem, 'kind' | 'contract'>): Promise<bigint> {
    const a = Address.parse(item.contract);
    return item.kind === 'charge' ? ((await readClientData(this.chain, a))?.tokensUsed ?? 0n) : ((await readWorkerData(this.chain, a))?.tokens ?? 0n);
  }
}

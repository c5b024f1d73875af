/**
 * The client's and the worker's settlement, behind `ClientSettlement` / `WorkerSettlement`
 * (protocol/settlement.ts), over their payment stores: every signed payment the proxy sends is
 * verified against the party's own contract and the key its contract holds, checked against
 * what the party holds (rollback; for the client, never above what it received), kept when
 * better, and submitted on chain by the party's scheduler when due.
 */
import type { Chain, ChainWallet } from '../chain/chain.ts';
import { errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { ClientSettlement, PaymentState, WorkerSettlement } from '../protocol/settlement.ts';
import { ChainSettlementSubmitter } from './chain-submitter.ts';
import { ClientPaymentStore } from './client-payment-store.ts';
import type { PartyPaymentStore } from './party-payment-store.ts';
import type { PricingParams, TokenCounts } from './pricing.ts';
import { SettlementScheduler, DEFAULT_SETTLEMENT_POLICY, type SettlementPolicy } from './settlement-scheduler.ts';
import { verifySignedPayment } from './signed-payments.ts';
import { WorkerPaymentStore } from './worker-payment-store.ts';
import type { SettlementKind } from './settlement-state.ts';

/** What a party knows about the proxy it works with: its contract, its own contract there, and the key that contract holds. */
export interface ProxyBinding {
  proxyContract: string;
  ownContract: string;
  proxyPublicKey: Buffer;
}

export interface PartySettlementOptions {
  ownerAddress: string;
  isTest: boolean;
  path: string;
  pricing: PricingParams;
  proxies: ProxyBinding[];
  /** Chain and the party's wallet for its own submissions; without them nothing is submitted. */
  chain?: Chain;
  wallet?: ChainWallet;
  policy?: SettlementPolicy;
  log: Logger;
}

abstract class PartySettlement<S extends PartyPaymentStore> {
  readonly ownerAddress: string;
  readonly isTest: boolean;
  readonly scheduler: SettlementScheduler | null;

  protected constructor(readonly store: S, protected readonly o: PartySettlementOptions, private readonly kind: SettlementKind) {
    this.ownerAddress = o.ownerAddress;
    this.isTest = o.isTest;
    this.scheduler = o.chain && o.wallet ? new SettlementScheduler(store, new ChainSettlementSubmitter(o.chain, o.wallet), o.policy ?? DEFAULT_SETTLEMENT_POLICY, { log: o.log }) : null;
    this.scheduler?.start();
  }

  protected binding(proxyContract: string): ProxyBinding | undefined {
    return this.o.proxies.find((p) => p.proxyContract === proxyContract);
  }

  /** Verifies and checks one payment report; returns a refusal reason or null. */
  protected take(proxyContract: string, payment: PaymentState): string | null {
    return this.takeChecked(proxyContract, payment)?.reason ?? null;
  }

  protected takeChecked(proxyContract: string, payment: PaymentState): { code: string; reason: string } | null {
    const b = this.binding(proxyContract);
    if (!b) return { code: 'unknown_proxy', reason: `no contract known at proxy ${proxyContract}` };
    let signed: { counter: bigint; message: Uint8Array } | undefined;
    if (payment.signedPayment) {
      try {
        signed = { counter: verifySignedPayment(payment.signedPayment, { kind: this.kind, contract: b.ownContract, proxyPublicKey: b.proxyPublicKey }), message: payment.signedPayment };
      } catch (err) {
        this.o.log.warn({ proxy: proxyContract, err: errorMessage(err) }, `refused a signed ${this.kind} from the proxy`);
        return { code: 'bad_signature', reason: errorMessage(err) };
      }
    }
    const r = this.store.check({ proxy: proxyContract, contract: b.ownContract, ...(signed && { signed }), committedCounter: payment.tokensCommittedToDb, maxCounter: payment.maxTokens });
    if (r.ok) return null;
    this.o.log.error({ proxy: proxyContract, code: r.code }, r.reason);
    return { code: r.code, reason: r.reason };
  }

  async close(opts: { flush?: boolean } = {}): Promise<void> {
    try {
      await this.scheduler?.stop({ flush: opts.flush ?? true });
    } finally {
      this.store.close();
    }
  }
}

export class StoreClientSettlement extends PartySettlement<ClientPaymentStore> implements ClientSettlement {
  readonly secret = null;

  static open(o: PartySettlementOptions): StoreClientSettlement {
    return new StoreClientSettlement(ClientPaymentStore.open(o.path), o, 'charge');
  }

  async registerWithProxy(): Promise<void> {
    // Long authorization on chain is not implemented yet; the proxy admits by the contract's funds.
  }

  onAnswer(proxyContract: string, requestId: string, tokens: TokenCounts, maxCoefficient: number): void {
    const b = this.binding(proxyContract);
    if (!b) return;
    // Counted at the highest coefficient this client allowed: what it may be charged at most.
    this.store.recordReceived({ proxy: proxyContract, contract: b.ownContract, requestId, tokens, coefficient: Math.max(1, maxCoefficient), pricing: this.o.pricing });
  }

  /**
   * Checks the proxy's charge; a rollback or a charge above what this client received stops this
   * client using the proxy (persisted in its store, shown in its status) — not only a log line.
   */
  onPayment(proxyContract: string, payment: PaymentState): string | null {
    const refused = this.takeChecked(proxyContract, payment);
    if (refused?.code === 'charge_above_received') this.store.flag(proxyContract, `proxy charged more than this client received: ${refused.reason}`);
    return refused?.reason ?? null;
  }

  refusal(proxyContract: string): string | null {
    return this.store.rollbackOf(proxyContract)?.reason ?? null;
  }

  chargeCounters(proxyContract: string): { signed: bigint; onChain: bigint } | null {
    const b = this.binding(proxyContract);
    const h = b ? this.store.holding(proxyContract, b.ownContract) : undefined;
    return h ? { signed: h.signedCounter, onChain: h.onChainCounter } : null;
  }
}

export class StoreWorkerSettlement extends PartySettlement<WorkerPaymentStore> implements WorkerSettlement {
  static open(o: PartySettlementOptions): StoreWorkerSettlement {
    return new StoreWorkerSettlement(WorkerPaymentStore.open(o.path), o, 'payout');
  }

  earned(proxyContract: string): { committedToBlockchain: bigint; committedToDb: bigint; maxKnown: bigint } {
    const b = this.binding(proxyContract);
    const h = b ? this.store.holding(proxyContract, b.ownContract) : undefined;
    return { committedToBlockchain: h?.onChainCounter ?? 0n, committedToDb: h?.signedCounter ?? 0n, maxKnown: h?.maxCounter ?? 0n };
  }

  refusal(proxyContract: string): string | null {
    return this.store.rollbackOf(proxyContract)?.reason ?? null;
  }

  onPayment(proxyContract: string, payment: PaymentState): boolean {
    return this.take(proxyContract, payment) === null;
  }

  onServed(proxyContract: string, requestId: string, tokens: TokenCounts, coefficient: number): void {
    const b = this.binding(proxyContract);
    if (!b) return;
    this.store.recordServed({ proxy: proxyContract, contract: b.ownContract, requestId, tokens, coefficient: Math.max(1, coefficient), pricing: this.o.pricing });
  }
}

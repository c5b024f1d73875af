/**
 * The client's and the worker's settlement, behind `ClientSettlement` / `WorkerSettlement`
 * (protocol/settlement.ts), over their payment stores: every signed payment the proxy sends is
 * verified against the party's own contract and the key its contract holds, checked against
 * what the party holds (rollback; for the client, never above what it received), kept when
 * better, and submitted on chain by the party's scheduler when due.
 */
import { Address } from '@ton/core';
import type { Chain, ChainWallet } from '../chain/chain.ts';
import { readClientData } from '../chain/contract-state.ts';
import { Body, MIN_OP_VALUE } from '../../../contracts/wrappers/protocol.ts';
import { randomQueryId } from '../../../contracts/wrappers/signing.ts';
import { CocoonError, errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import { sameAddress, secretHash, type ClientSettlement, type PaymentState, type WorkerSettlement } from '../protocol/settlement.ts';
import { ChainSettlementSubmitter } from './chain-submitter.ts';
import { ClientPaymentStore, type AnswerRetention } from './client-payment-store.ts';
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
  /** The last signed payment verified per proxy contract. */
  private readonly lastVerified = new Map<string, { counter: bigint; message: Uint8Array }>();

  protected constructor(readonly store: S, protected readonly o: PartySettlementOptions, private readonly kind: SettlementKind) {
    this.ownerAddress = o.ownerAddress;
    this.isTest = o.isTest;
    this.scheduler = o.chain && o.wallet ? new SettlementScheduler(store, new ChainSettlementSubmitter(o.chain, o.wallet), o.policy ?? DEFAULT_SETTLEMENT_POLICY, { log: o.log }) : null;
    this.scheduler?.start();
  }

  /** The binding for a proxy contract as the proxy spells it (remembered: it is looked up several times per answer). */
  protected binding(proxyContract: string): ProxyBinding | undefined {
    const known = this.bindings.get(proxyContract);
    if (known) return known;
    const b = this.o.proxies.find((p) => p.proxyContract === proxyContract || sameAddress(p.proxyContract, proxyContract));
    if (b && this.bindings.size < 64) this.bindings.set(proxyContract, b);
    return b;
  }

  private readonly bindings = new Map<string, ProxyBinding>();

  /**
   * Why the contract a proxy names for this party is not its own (null when it is, in whatever
   * form the proxy spells it, or when this party has no contract at that proxy: the payments then
   * say "unknown proxy"). A proxy that names another contract would sign payments for it.
   */
  contractMismatch(proxyContract: string, announced: string): string | null {
    const b = this.binding(proxyContract);
    if (!b || sameAddress(b.ownContract, announced)) return null;
    return `the proxy names ${this.kind === 'charge' ? 'client' : 'worker'} contract ${announced}, but this owner's contract at ${proxyContract} is ${b.ownContract}`;
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
      // The proxy signs in batches and repeats its last signed payment with every answer: the
      // same bytes from the same proxy were verified already (against the same contract and key).
      const last = this.lastVerified.get(proxyContract);
      if (last && Buffer.compare(last.message, payment.signedPayment) === 0) {
        signed = last;
      } else {
        try {
          signed = { counter: verifySignedPayment(payment.signedPayment, { kind: this.kind, contract: b.ownContract, proxyPublicKey: b.proxyPublicKey }), message: payment.signedPayment };
          this.lastVerified.set(proxyContract, signed);
        } catch (err) {
          this.o.log.warn({ proxy: proxyContract, err: errorMessage(err) }, `refused a signed ${this.kind} from the proxy`);
          return { code: 'bad_signature', reason: errorMessage(err) };
        }
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
  /**
   * The secret for the short authorization, once a client contract of this client holds its
   * hash (`enableShortAuth`, or set after a long authorization); null: long authorization only.
   */
  secret: Buffer | null = null;
  private secretSent = false;

  /**
   * Uses the short authorization from now on if this client's contract already holds the hash
   * of its secret (no transaction). Called on start; the long authorization sets the hash when
   * it is missing (`registerWithProxy`).
   */
  async enableShortAuth(): Promise<boolean> {
    const { chain } = this.o;
    if (!chain) return false;
    const mine = this.store.authSecret();
    for (const b of this.o.proxies) {
      const d = await readClientData(chain, Address.parse(b.ownContract)).catch(() => null);
      if (d?.state === 0 && d.secretHash.equals(secretHash(mine))) {
        this.secret = mine;
        return true;
      }
    }
    return false;
  }

  /** After a long authorization: puts the secret's hash in the contract (once) so the next connections use the short one. */
  private async setSecretHash(contract: string): Promise<void> {
    const { chain, wallet } = this.o;
    if (this.secret || this.secretSent || !chain || !wallet) return;
    const mine = this.store.authSecret();
    const d = await readClientData(chain, Address.parse(contract));
    if (d?.state !== 0) return;
    if (!d.secretHash.equals(secretHash(mine))) {
      this.secretSent = true;
      await wallet.sendAndWait([{ to: Address.parse(contract), value: MIN_OP_VALUE, body: Body.clientChangeSecretHash(randomQueryId(), secretHash(mine), wallet.address) }]);
      this.o.log.info({ contract }, 'set the secret hash in the client contract: the next connections use the short authorization');
    }
    this.secret = mine;
  }

  /** The answer log is kept in the client payment store. */
  get answerHistory(): ClientPaymentStore {
    return this.store;
  }

  static open(o: PartySettlementOptions & { answerRetention?: Partial<AnswerRetention> }): StoreClientSettlement {
    return new StoreClientSettlement(ClientPaymentStore.open(o.path, { ...(o.answerRetention && { answerRetention: o.answerRetention }) }), o, 'charge');
  }

  private pendingRegistration: { proxyContract: string; nonce: bigint; timer: NodeJS.Timeout } | null = null;

  /**
   * Long authorization: the owner's wallet sends `owner_client_register(nonce)` to the client
   * contract, which tells the proxy contract; the proxy accepts the connection when it sees it.
   * Sent only to this client's own contract at a proxy it knows (never to an address the proxy
   * names). A contract that is not open yet cannot register: the handshake goes on (the proxy
   * refuses queries with 402 meanwhile) and the registration is sent as soon as it is open.
   */
  async registerWithProxy(p: { proxyContract: string; clientContract: string; nonce: bigint }): Promise<void> {
    const b = this.binding(p.proxyContract);
    if (!b) throw new CocoonError('unknown_proxy', `this client has no client contract at proxy ${p.proxyContract}`, { hint: 'configure the proxy contract this client pays (--proxy-contract)' });
    const mismatch = this.contractMismatch(p.proxyContract, p.clientContract);
    if (mismatch) throw new CocoonError('client_contract_mismatch', mismatch);
    const { chain, wallet } = this.o;
    if (!chain || !wallet) throw new CocoonError('client_cannot_register', 'the long authorization needs the owner\'s wallet to send the register transaction, and this client has none', { hint: 'give the client its wallet (--wallet-mnemonic-file FILE)' });
    if (this.pendingRegistration) clearTimeout(this.pendingRegistration.timer);
    this.pendingRegistration = null;
    const send = () => wallet.sendAndWait([{ to: Address.parse(b.ownContract), value: MIN_OP_VALUE, body: Body.clientRegister(randomQueryId(), p.nonce, wallet.address) }]);
    const open = async () => (await readClientData(chain, Address.parse(b.ownContract)))?.state === 0;
    if (await open()) {
      await send();
      this.o.log.info({ proxy: p.proxyContract, contract: b.ownContract }, 'sent the register transaction for the long authorization');
      // In the background: the connection is authorized by the register transaction already.
      void this.setSecretHash(b.ownContract).catch((err) => this.o.log.warn({ err: errorMessage(err) }, 'could not set the secret hash (the long authorization goes on)'));
      return;
    }
    this.o.log.warn({ proxy: p.proxyContract, contract: b.ownContract }, 'the client contract is not open: queries are refused until it is; the registration is sent once it opens');
    const retry = () => {
      const pending = { proxyContract: p.proxyContract, nonce: p.nonce, timer: setTimeout(() => void (async () => {
        if (this.pendingRegistration !== pending) return;
        try {
          if (await open()) {
            await send();
            this.pendingRegistration = null;
            this.o.log.info({ proxy: p.proxyContract, contract: b.ownContract }, 'client contract opened: sent the register transaction');
            return;
          }
        } catch (err) {
          this.o.log.warn({ err: errorMessage(err) }, 'could not send the register transaction; retrying');
        }
        if (this.pendingRegistration === pending) retry();
      })(), 2_000) };
      pending.timer.unref();
      this.pendingRegistration = pending;
    };
    retry();
  }

  override async close(opts: { flush?: boolean } = {}): Promise<void> {
    if (this.pendingRegistration) clearTimeout(this.pendingRegistration.timer);
    this.pendingRegistration = null;
    await super.close(opts);
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
    return b ? this.store.signedCounters(proxyContract, b.ownContract) : null;
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

  /** The root's multipliers (the proxy contract's params): the worker reports adjusted tokens with them. */
  get multipliers(): TokenCounts {
    return this.o.pricing.multipliers;
  }

  onServed(proxyContract: string, requestId: string, tokens: TokenCounts, coefficient: number): void {
    const b = this.binding(proxyContract);
    if (!b) return;
    this.store.recordServed({ proxy: proxyContract, contract: b.ownContract, requestId, tokens, coefficient: Math.max(1, coefficient), pricing: this.o.pricing });
  }
}

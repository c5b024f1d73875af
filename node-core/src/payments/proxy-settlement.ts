/**
 * The proxy's settlement, behind `ProxySettlement` (protocol/settlement.ts): the ledger file, the
 * proxy key's signatures, admission against the client contract on chain, and the scheduler that
 * puts charges on chain. The runner calls it at three points: `admit` before a query goes to a
 * worker, `answerEnded` once per answer (whatever its outcome), and the handshakes' payment reads.
 *
 * Nothing here waits for the chain on the answering path: client contract states are cached and
 * refreshed in the background (admission awaits a read only for a client never seen before), and
 * the scheduler submits on its own timer.
 */
import { Address, type Cell } from '@ton/core';
import type { KeyPair } from '@ton/crypto';
import { join } from 'node:path';
import type { Chain, ChainWallet } from '../chain/chain.ts';
import { readClientData, readProxyData, type ProxyData } from '../chain/contract-state.ts';
import { compileAll } from '../../../contracts/compile.ts';
import { clientContractOf, workerContractOf } from '../../../contracts/wrappers/Proxy.ts';
import { pricingOf } from '../../../contracts/wrappers/Root.ts';
import { CocoonError, errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import { NO_PAYMENT, secretHash, type PaymentState, type ProxySettlement } from '../protocol/settlement.ts';
import { admit, type PaymentErrorBody } from './admission.ts';
import { ChainSettlementSubmitter } from './chain-submitter.ts';
import type { PricingParams, TokenCounts } from './pricing.ts';
import { ProxyLedger, type AnswerOutcome, type Party } from './proxy-ledger.ts';
import { SettlementScheduler, DEFAULT_SETTLEMENT_POLICY, type SettlementPolicy } from './settlement-scheduler.ts';
import { ProxyPaymentSigner, signLatest } from './signed-payments.ts';
import { ClientRegistrationWatcher, rawOwner } from './client-registrations.ts';
import { ProxyStateCommitter, type StateCommitPolicy } from './proxy-state-commits.ts';

export const PROXY_LEDGER_FILE = 'proxy-ledger.sqlite';

interface ClientView { balanceNano: bigint; stakeNano: bigint; tokensUsed: bigint; deployed: boolean; readAt: number; secretHash?: Buffer }

/** Secret hashes that prove nothing: unset, and the hash of the empty secret (the reference's default). */
const WEAK_SECRET_HASHES = [Buffer.alloc(32), secretHash(Buffer.alloc(0))];

export interface AdmissionRequest {
  clientOwner: string;
  /** An upper bound of the prompt's tokens (the reference uses the query's size in bytes). */
  promptTokens: number;
  maxTokens: number;
  coefficient: number;
  /**
   * The nonce this client's connection was given for the long authorization: queries are
   * charged to the claimed owner's contract only once its register transaction with this nonce
   * is seen on chain.
   */
  authNonce: bigint;
}

export type Admission = { ok: true; release(): void } | { ok: false; status: 402; body: PaymentErrorBody };

export interface AnswerEnd {
  requestId: string;
  clientOwner: string;
  workerOwner: string;
  /** Adjusted tokens per kind (what the worker reported; the runner adjusts an answer that ended early). */
  tokens: TokenCounts;
  coefficient: number;
  outcome: AnswerOutcome;
}

/** What the runner may additionally call on a settling proxy. */
export interface ProxyPayments {
  /** The proxy contract's prices and multipliers (the runner adjusts an early-ended answer's tokens with them). */
  readonly pricing: PricingParams;
  admit(r: AdmissionRequest): Promise<Admission>;
  /**
   * Records an answer in the ledger. Answers are committed in groups (`GroupCommitPolicy`):
   * `committed` runs once the answer is durable in the ledger (or at once when there is nothing
   * to record) — the runner sends the parties their payment messages from it, so a counter a
   * party sees is never lost by a crash of the proxy (which would look like a rollback).
   */
  answerEnded(a: AnswerEnd, committed?: () => void): void;
  /**
   * Called when a counter was signed off the answering path (a batched signature, see
   * `SigningPolicy`): the runner sends that party its new signed payment.
   */
  onSigned(listener: (party: Party, owner: string) => void): void;
  /** Signs now what the batching left for later (listeners are told); the runner calls it before it stops. Returns how many were signed. */
  signPending(): number;
}

/**
 * How often the proxy signs (the reference allows one signed cumulative payment per several
 * answers: each covers everything before it). A counter is signed at the end of an answer when
 * nothing was signed for its contract yet (since this proxy started), when the last signature is
 * `signEveryMs` old, or when the unsigned amount reaches `signAboveNano`; otherwise within
 * `signEveryMs` by a timer, which sends the party its signed payment. Everything unsigned is
 * signed on start (after a crash) and on shutdown, before the final settlement.
 */
export interface SigningPolicy {
  signEveryMs: number;
  signAboveNano: bigint;
}

/** 200 ms: a busy client gets one signature per few answers; a single answer is signed within 0.2 s. */
export const DEFAULT_SIGNING_POLICY: SigningPolicy = { signEveryMs: 200, signAboveNano: 100_000_000n };

/**
 * Grouped ledger commits: the answers that ended within `windowMs` (or the first `maxAnswers`)
 * are committed in one SQLite transaction, then their payment messages go out. A busy proxy
 * makes one WAL commit per window instead of one per answer; a kill -9 inside the window loses
 * only answers no party was told about (each answer's client had its final part with its usage,
 * and counts it itself: it is at most undercharged, never charged twice).
 */
export interface GroupCommitPolicy {
  windowMs: number;
  maxAnswers: number;
}

/**
 * 20 ms: the payment messages of an answer leave at most 20 ms later; the answer itself is not
 * delayed. A commit costs ~100 µs here whatever its size (`npm run bench -- ledger`), so at
 * 1,000 answers/s a 5 ms window spent ~2 % of a core on commits and 20 ms spends ~0.5 %.
 */
export const DEFAULT_GROUP_COMMIT: GroupCommitPolicy = { windowMs: 20, maxAnswers: 256 };

export interface ProxySettlementOptions {
  chain: Chain;
  /** The proxy operator's wallet: pays the fees of the charges the proxy submits. */
  wallet: ChainWallet;
  proxyContract: Address;
  /** The key the proxy contract holds (signs charges and payouts). */
  proxyKey: KeyPair;
  dataDir: string;
  policy?: SettlementPolicy;
  /** When counters are signed (default `DEFAULT_SIGNING_POLICY`). */
  signing?: SigningPolicy;
  /** How answers are grouped into ledger commits (default `DEFAULT_GROUP_COMMIT`). */
  groupCommit?: GroupCommitPolicy;
  /** How long a client contract read stays fresh for admission (default 2 s). */
  clientStateTtlMs?: number;
  /** How long the long authorization waits for the register transaction (default 300 s, as the reference). */
  registrationTimeoutMs?: number;
  /** How old a client contract read may be for the proxy to offer the short authorization (default 60 s). */
  shortAuthMaxAgeMs?: number;
  /** How long a query waits for the registration of a connection that authorized before its contract was open (default 20 s). */
  lateRegistrationWaitMs?: number;
  /** When the proxy commits its state on chain (proxy-state-commits.ts; default the reference's 30–60 s). */
  stateCommit?: StateCommitPolicy;
  log: Logger;
}

export class LedgerProxySettlement implements ProxySettlement, ProxyPayments {
  readonly ledger: ProxyLedger;
  readonly scheduler: SettlementScheduler;
  readonly pricing: PricingParams;
  readonly ownerAddress: string;
  readonly contractAddress: string;
  readonly isTest: boolean;
  private readonly signer: ProxyPaymentSigner;
  private readonly clients = new Map<string, ClientView>();
  private readonly refreshing = new Map<string, Promise<ClientView>>();
  private readonly reserved = new Map<string, bigint>();
  private readonly addressCache = new Map<string, string>();
  private proxyTimer: NodeJS.Timeout | undefined;
  private readonly signing: SigningPolicy;
  /** When each account (`party:contract`) was last signed by this process. */
  private readonly lastSignedAt = new Map<string, number>();
  /** Accounts with answers not yet covered by a signature, and their owners (for the runner). */
  private readonly unsigned = new Map<string, { party: Party; contract: string; owner: string }>();
  private signTimer: NodeJS.Timeout | undefined;
  private readonly group: GroupCommitPolicy;
  /** Answers ended but not yet committed (the next group), and their tokens per client contract (admission counts them). */
  private pending: { a: AnswerEnd; clientContract: string; workerContract: string; committed: (() => void) | undefined }[] = [];
  private readonly pendingCounter = new Map<string, bigint>();
  private groupTimer: NodeJS.Timeout | undefined;
  private readonly signedListeners: ((party: Party, owner: string) => void)[] = [];
  readonly registrations: ClientRegistrationWatcher;
  /** The ledger's commits of its state on chain; set by `open` after the start-time check. */
  stateCommits!: ProxyStateCommitter;

  private constructor(private readonly o: ProxySettlementOptions, private readonly data: ProxyData, private readonly codes: { client: Cell; worker: Cell }) {
    this.pricing = pricingOf(data.params);
    this.ownerAddress = data.owner.toString();
    this.contractAddress = o.proxyContract.toString();
    this.isTest = data.params.isTest;
    this.signer = new ProxyPaymentSigner(o.proxyKey);
    this.signing = o.signing ?? DEFAULT_SIGNING_POLICY;
    this.group = o.groupCommit ?? DEFAULT_GROUP_COMMIT;
    this.ledger = ProxyLedger.open(join(o.dataDir, PROXY_LEDGER_FILE), { pricing: this.pricing });
    const audit = this.ledger.audit();
    if (!audit.ok) {
      this.ledger.close();
      throw new CocoonError('ledger_inconsistent', `the proxy ledger ${this.ledger.path} fails its audit: ${audit.problems.join('; ')}`);
    }
    this.scheduler = new SettlementScheduler(this.ledger, new ChainSettlementSubmitter(o.chain, o.wallet), o.policy ?? DEFAULT_SETTLEMENT_POLICY, { log: o.log });
    this.registrations = new ClientRegistrationWatcher({ chain: o.chain, proxyContract: o.proxyContract, clientContractOf: (owner) => this.clientContractAddress(owner), log: o.log });
  }

  static async open(o: ProxySettlementOptions): Promise<LedgerProxySettlement> {
    const data = await readProxyData(o.chain, o.proxyContract);
    if (!data) throw new CocoonError('proxy_not_deployed', `no proxy contract at ${o.proxyContract.toString()}`, { hint: 'deploy it first (cocoon contracts deploy-proxy, or cocoon up on the local chain)' });
    if (!data.publicKey.equals(o.proxyKey.publicKey)) {
      throw new CocoonError('proxy_key_mismatch', `the proxy contract ${o.proxyContract.toString()} holds another public key than this proxy's signing key`);
    }
    const compiled = data.codes.client && data.codes.worker ? null : await compileAll();
    const s = new LedgerProxySettlement(o, data, { client: data.codes.client ?? compiled!.client, worker: data.codes.worker ?? compiled!.worker });
    try {
      // Refuses to start on a ledger older than the state it committed on chain (rollback).
      s.stateCommits = await ProxyStateCommitter.open({
        chain: o.chain, wallet: o.wallet, proxyContract: o.proxyContract, trusted: [o.wallet.address, data.owner],
        ledgerPath: s.ledger.path, answers: () => s.ledger.proxyTotals().answers, policy: o.stateCommit, log: o.log,
      });
      await s.registrations.start();
    } catch (err) {
      await s.stateCommits?.stop({ final: false }).catch(() => undefined);
      s.ledger.close();
      throw err;
    }
    // Answers a previous run recorded but did not sign (killed within a signing window).
    s.signAllUnsigned();
    s.scheduler.start();
    s.stateCommits.start();
    s.proxyTimer = setInterval(() => void s.refreshProxy(), s.scheduler.policy.tickMs * 4);
    s.proxyTimer.unref();
    void s.refreshProxy();
    return s;
  }

  async close(opts: { flush?: boolean } = {}): Promise<void> {
    clearInterval(this.proxyTimer);
    clearTimeout(this.signTimer);
    this.registrations.stop();
    try {
      // The final settlement covers every answer: commit the last group, sign what the batching left unsigned.
      this.commitGroup();
      this.flushUnsigned();
      const results = await this.scheduler.stop({ flush: opts.flush ?? true });
      const failed = results.filter((r) => r.outcome.status === 'failed');
      if (failed.length) this.o.log.warn({ failed: failed.length }, 'some signed counters could not be settled on shutdown; they stay in the ledger');
    } finally {
      await this.stateCommits.stop({ final: opts.flush ?? true }).catch((err) => this.o.log.warn({ err: errorMessage(err) }, 'could not make the final state commit'));
      this.ledger.close();
    }
  }

  clientContractAddress(clientOwner: string): string {
    return this.contractOf('client', clientOwner);
  }

  workerContractAddress(workerOwner: string): string {
    return this.contractOf('worker', workerOwner);
  }

  /**
   * Short authorization: offered when this proxy holds a read of the owner's client contract
   * (open, younger than `shortAuthMaxAgeMs`, default 60 s) with a secret hash set by its owner
   * (`owner_client_change_secret_hash`, which only the owner may send). The client proves the
   * secret instead of sending a register transaction per connection. Otherwise (never seen,
   * stale, no secret set) the long authorization; a stale read is refreshed for the next time.
   */
  clientSecretHash(clientOwner: string): Buffer | null {
    const contract = this.clientContractAddress(clientOwner);
    const view = this.clients.get(contract);
    const age = view ? Date.now() - view.readAt : Infinity;
    const fresh = age <= (this.o.shortAuthMaxAgeMs ?? 60_000);
    // Refreshed for the next connection (a secret hash just set, or changed by its owner).
    if (age > (this.o.clientStateTtlMs ?? 2_000)) void this.refreshClient(contract).catch(() => undefined);
    if (!fresh || !view || !view.deployed || !view.secretHash || WEAK_SECRET_HASHES.some((w) => w.equals(view.secretHash!))) return null;
    return view.secretHash;
  }

  /** Nonces of connections that proved their owner's secret (short authorization), with that owner. */
  private readonly shortAuthorized = new Map<bigint, string>();

  clientAuthorizedShort(clientOwner: string, nonce: bigint): void {
    if (this.shortAuthorized.size > 100_000) this.shortAuthorized.clear();
    this.shortAuthorized.set(nonce, rawOwner(clientOwner));
    this.o.log.info({ clientOwner, contract: this.clientContractAddress(clientOwner) }, 'client authorized by the secret its contract holds the hash of');
  }

  /**
   * Long authorization (see client-registrations.ts): an open client contract must send its
   * register notice with this connection's nonce. A client whose contract is not open yet is let
   * in unproven — nothing can be charged to a contract that is not open, and admission refuses
   * its queries until the registration with this nonce is seen (the client sends it once it has
   * opened the contract).
   */
  async awaitClientRegistration(clientOwner: string, nonce: bigint): Promise<void> {
    const contract = this.clientContractAddress(clientOwner);
    const view = await this.readOrEmpty(this.refreshClient(contract));
    if (!view.deployed && !this.registrations.registration(nonce)) {
      this.o.log.warn({ clientOwner, contract }, 'client contract not open: connection accepted unproven; its queries get 402 until it opens the contract and registers with this connection\'s nonce');
      return;
    }
    try {
      await this.registrations.verify(clientOwner, nonce, this.o.registrationTimeoutMs ?? 300_000);
    } catch (err) {
      this.o.log.warn({ clientOwner, contract, code: (err as CocoonError).code, err: errorMessage(err) }, 'client authorization refused');
      throw err;
    }
    this.o.log.info({ clientOwner, contract }, 'client authorized by its register transaction on chain');
  }

  clientPayment(clientOwner: string): PaymentState {
    return this.payment('client', this.clientContractAddress(clientOwner));
  }

  workerPayment(workerOwner: string): PaymentState {
    return this.payment('worker', this.workerContractAddress(workerOwner));
  }

  async admit(r: AdmissionRequest): Promise<Admission> {
    const contract = this.clientContractAddress(r.clientOwner);
    let view = this.clients.get(contract);
    const stale = !view || Date.now() - view.readAt > (this.o.clientStateTtlMs ?? 2_000);
    // Known clients are admitted on the cached state while a fresh read runs; a new one waits for it.
    const fresh = stale ? this.refreshClient(contract) : null;
    if (!view) view = await this.readOrEmpty(fresh!);
    else fresh?.catch(() => undefined);
    let result = this.assess(contract, r, view);
    // A refusal on an old read may be out of date (a top-up, a contract just opened): decide on a fresh one.
    if (!result.ok && view.readAt < Date.now() - 200) {
      view = await this.readOrEmpty(fresh ?? this.refreshClient(contract));
      result = this.assess(contract, r, view);
    }
    if (!result.ok) return { ok: false, status: 402, body: result.body };
    // Only a connection that proved the owner (register transaction with its nonce) is charged to the contract.
    const owner = rawOwner(r.clientOwner);
    if (this.shortAuthorized.get(r.authNonce) !== owner && this.registrations.registration(r.authNonce)?.owner !== owner) {
      try {
        await this.registrations.verify(r.clientOwner, r.authNonce, this.o.lateRegistrationWaitMs ?? 20_000);
      } catch (err) {
        this.o.log.warn({ clientOwner: r.clientOwner, contract, err: errorMessage(err) }, 'query refused: this connection has not proved it holds the client owner address');
        return { ok: false, status: 402, body: { error: {
          type: 'insufficient_quota', param: null, code: 'client_not_registered', needed_nano: result.worstCaseNano.toString(), contract,
          message: `This connection has not proved that it holds the owner address of the client contract ${contract}: ${errorMessage(err)}. ` +
            'Reconnect with the owner\'s wallet available to the client (it sends the register transaction itself).',
        } } };
      }
    }
    const worst = result.worstCaseNano;
    this.reserved.set(contract, (this.reserved.get(contract) ?? 0n) + worst);
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        this.reserved.set(contract, (this.reserved.get(contract) ?? 0n) - worst);
      },
    };
  }

  private async readOrEmpty(p: Promise<ClientView>): Promise<ClientView> {
    return p.catch(() => ({ balanceNano: 0n, stakeNano: 0n, tokensUsed: 0n, deployed: false, readAt: 0 }));
  }

  private assess(contract: string, r: AdmissionRequest, view: ClientView) {
    const account = this.ledger.paymentOf('client', contract);
    return admit({
      clientContract: contract, promptTokens: r.promptTokens, maxTokens: r.maxTokens, pricing: this.pricing, coefficient: Math.max(1, r.coefficient),
      // Answers ended but not committed yet are owed too.
      ledgerCounter: (account?.counter ?? 0n) + (this.pendingCounter.get(contract) ?? 0n), onChainCounter: view.tokensUsed, reservedNano: this.reserved.get(contract) ?? 0n,
      balanceNano: view.balanceNano, stakeNano: view.stakeNano,
      ...(!view.deployed && { topUpHint: `open the client contract ${contract} first (Cocoon app: Wallet → Open; it needs the root's minimum stake)` }),
    });
  }

  answerEnded(a: AnswerEnd, committed?: () => void): void {
    const total = a.tokens.prompt + a.tokens.cached + a.tokens.completion + a.tokens.reasoning;
    if (total === 0) {
      committed?.();
      return;
    }
    const clientContract = this.clientContractAddress(a.clientOwner);
    const workerContract = this.workerContractAddress(a.workerOwner);
    this.pending.push({ a, clientContract, workerContract, committed });
    this.pendingCounter.set(clientContract, (this.pendingCounter.get(clientContract) ?? 0n) + BigInt(total));
    if (this.pending.length >= this.group.maxAnswers) this.commitGroup();
    else if (!this.groupTimer) {
      this.groupTimer = setTimeout(() => {
        this.groupTimer = undefined;
        this.commitGroup();
      }, this.group.windowMs);
    }
    const view = this.clients.get(clientContract);
    if (!view || Date.now() - view.readAt > 1_000) void this.refreshClient(clientContract).catch(() => undefined);
  }

  /**
   * Commits the pending answers in one WAL transaction with the signatures they make due, then
   * runs their `committed` callbacks (the payment messages). If the group fails as a whole, each
   * answer is retried in its own transaction so one bad answer cannot take the others with it.
   */
  private commitGroup(): void {
    clearTimeout(this.groupTimer);
    this.groupTimer = undefined;
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    this.pendingCounter.clear();
    const now = Date.now();
    const usage = (p: (typeof batch)[number]) => ({
      requestId: p.a.requestId, clientContract: p.clientContract, workerContract: p.workerContract, tokens: p.a.tokens, coefficient: p.a.coefficient, outcome: p.a.outcome,
    });
    const record = (p: (typeof batch)[number]) => this.ledger.recordAnswer(usage(p));
    const signDue = (items: typeof batch) => {
      // Once per account per group; the newest answer's owner names the party's connection.
      const accounts = new Map<string, { party: Party; contract: string; owner: string }>();
      for (const p of items) {
        accounts.set(`client:${p.clientContract}`, { party: 'client', contract: p.clientContract, owner: p.a.clientOwner });
        accounts.set(`worker:${p.workerContract}`, { party: 'worker', contract: p.workerContract, owner: p.a.workerOwner });
      }
      for (const x of accounts.values()) this.signIfDue(x.party, x.contract, x.owner, now);
    };
    try {
      this.ledger.transaction(() => {
        // Each account read and written once for the whole group (ProxyLedger.recordAnswers).
        this.ledger.recordAnswers(batch.map(usage));
        signDue(batch);
      });
    } catch (groupErr) {
      this.o.log.warn({ answers: batch.length, err: errorMessage(groupErr) }, 'a grouped ledger commit failed; committing its answers one by one');
      for (const p of batch) {
        try {
          this.ledger.transaction(() => {
            record(p);
            signDue([p]);
          });
        } catch (err) {
          this.o.log.error({ request: p.a.requestId.slice(0, 16), err: errorMessage(err) }, 'could not record an answer in the ledger');
        }
      }
    }
    for (const p of batch) {
      try {
        p.committed?.();
      } catch (err) {
        this.o.log.warn({ err: errorMessage(err) }, 'could not send the payment messages of a committed answer');
      }
    }
  }

  onSigned(listener: (party: Party, owner: string) => void): void {
    this.signedListeners.push(listener);
  }

  /** Signs the account's counter now if the signing policy says so; otherwise leaves it to the timer. */
  private signIfDue(party: Party, contract: string, owner: string, now: number): void {
    const key = `${party}:${contract}`;
    const a = this.ledger.account(party, contract);
    if (!a || (a.signedMessage && a.signedCounter === a.counter)) return;
    const last = this.lastSignedAt.get(key);
    const unsignedNano = a.nano - a.signedNano;
    if (last === undefined || now - last >= this.signing.signEveryMs || unsignedNano >= this.signing.signAboveNano) {
      signLatest(this.ledger, this.signer, party, contract);
      this.lastSignedAt.set(key, now);
      this.unsigned.delete(key);
      return;
    }
    // The owner as the runner named it (its key for the party's connection).
    this.unsigned.set(key, { party, contract, owner });
    if (!this.signTimer) {
      this.signTimer = setTimeout(() => {
        this.signTimer = undefined;
        try {
          this.flushUnsigned();
        } catch (err) {
          this.o.log.error({ err: errorMessage(err) }, 'could not sign the batched counters; retrying at the next answer or on shutdown');
        }
      }, Math.max(1, last + this.signing.signEveryMs - now));
      this.signTimer.unref();
    }
  }

  signPending(): number {
    clearTimeout(this.signTimer);
    this.signTimer = undefined;
    const committed = this.pending.length;
    this.commitGroup();
    return committed + this.flushUnsigned();
  }

  /** Signs every account with unsigned answers and tells the runner, which sends each party its payment. */
  private flushUnsigned(): number {
    if (this.unsigned.size === 0) return 0;
    const due = [...this.unsigned.values()];
    this.unsigned.clear();
    const now = Date.now();
    this.ledger.transaction(() => {
      for (const u of due) {
        signLatest(this.ledger, this.signer, u.party, u.contract);
        this.lastSignedAt.set(`${u.party}:${u.contract}`, now);
      }
    });
    for (const u of due) {
      for (const l of this.signedListeners) {
        try {
          l(u.party, u.owner);
        } catch (err) {
          this.o.log.warn({ err: errorMessage(err) }, 'could not send a batched signed payment');
        }
      }
    }
    return due.length;
  }

  private signAllUnsigned(): void {
    const left = this.ledger.unsignedAccounts();
    if (left.length === 0) return;
    this.ledger.transaction(() => {
      for (const u of left) signLatest(this.ledger, this.signer, u.party, u.contract);
    });
    this.o.log.info({ accounts: left.length }, 'signed the counters a previous run left unsigned');
  }

  private payment(party: Party, contract: string): PaymentState {
    const a = this.ledger.paymentOf(party, contract);
    if (!a) return NO_PAYMENT;
    return { signedPayment: a.signedMessage, tokensCommittedToDb: a.signedCounter, maxTokens: a.counter };
  }

  private contractOf(party: Party, owner: string): string {
    const key = `${party}:${owner}`;
    let a = this.addressCache.get(key);
    if (!a) {
      const base = { owner: Address.parse(owner), proxy: this.o.proxyContract, proxyPublicKey: this.data.publicKey, params: this.data.params };
      a = (party === 'client' ? clientContractOf({ ...base, clientCode: this.codes.client }) : workerContractOf({ ...base, workerCode: this.codes.worker })).address.toString();
      this.addressCache.set(key, a);
    }
    return a;
  }

  private refreshClient(contract: string): Promise<ClientView> {
    let p = this.refreshing.get(contract);
    if (p) return p;
    p = (async () => {
      try {
        const d = await readClientData(this.o.chain, Address.parse(contract));
        const held = d ? (d.balance < d.stake ? d.balance : d.stake) : 0n;
        const view: ClientView = d
          ? { balanceNano: d.balance - held, stakeNano: held, tokensUsed: d.tokensUsed, deployed: d.state === 0, readAt: Date.now(), secretHash: d.secretHash }
          : { balanceNano: 0n, stakeNano: 0n, tokensUsed: 0n, deployed: false, readAt: Date.now() };
        this.clients.set(contract, view);
        if (d && this.ledger.account('client', contract)) {
          try {
            this.ledger.recordOnChain('charge', contract, d.tokensUsed);
          } catch (err) {
            this.o.log.error({ contract, err: errorMessage(err) }, 'the chain holds more than this ledger: restored from an older copy?');
          }
        }
        return view;
      } finally {
        this.refreshing.delete(contract);
      }
    })();
    this.refreshing.set(contract, p);
    return p;
  }

  private async refreshProxy(): Promise<void> {
    try {
      const d = await readProxyData(this.o.chain, this.o.proxyContract);
      if (d) this.ledger.recordProxyOnChain(d.balance);
    } catch (err) {
      this.o.log.debug?.({ err: errorMessage(err) }, 'cannot read the proxy contract now');
    }
  }
}

export function isProxyPayments(s: ProxySettlement): s is ProxySettlement & ProxyPayments {
  return typeof (s as Partial<ProxyPayments>).admit === 'function' && typeof (s as Partial<ProxyPayments>).answerEnded === 'function';
}

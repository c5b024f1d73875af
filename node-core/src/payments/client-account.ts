import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Address, beginCell, fromNano } from '@ton/core';
import { keyPairFromSeed, type KeyPair } from '@ton/crypto';
import { deployProxy } from '../chain/deploy.ts';
import type { Client } from '../../../contracts/wrappers/Client.ts';
import { Body, MIN_OP_VALUE, Op } from '../../../contracts/wrappers/protocol.ts';
import { randomQueryId } from '../../../contracts/wrappers/signing.ts';
import { DEPLOY_VALUE } from '../chain/deploy.ts';
import { readClientData, readRootData } from '../chain/contract-state.ts';
import { Chain, type ChainWallet } from '../chain/chain.ts';
import { clientContractFor } from '../chain/settlement.ts';
import { CocoonError } from '../errors.ts';
import { chainWalletSigner, WALLET_FEE_ESTIMATE_NANO, type TransactionSigner, type WalletMessage } from './wallet-signer.ts';

/**
 * The local network's proxy contract: deployed once by the "proxy" development wallet, its signing
 * key kept beside the chain state (mode 0600), so the app, `cocoon up` and the proxy's ledger all
 * use the same contract across restarts. Local chain only.
 */
export async function localProxyContract(chain: Chain, chainDataDir: string, root: Address, proxyWallet: ChainWallet): Promise<{ address: Address; key: KeyPair }> {
  const proxyFile = join(chainDataDir, 'proxy-contract.json');
  if (existsSync(proxyFile)) {
    const f = JSON.parse(readFileSync(proxyFile, 'utf8')) as { address: string; publicKey: string; secretKey: string };
    return { address: Address.parse(f.address), key: { publicKey: Buffer.from(f.publicKey, 'hex'), secretKey: Buffer.from(f.secretKey, 'hex') } };
  }
  const key = keyPairFromSeed(randomBytes(32));
  const { address } = await deployProxy(chain, proxyWallet, { root, publicKey: key.publicKey });
  writeFileSync(proxyFile, JSON.stringify({ address: address.toString(), publicKey: key.publicKey.toString('hex'), secretKey: key.secretKey.toString('hex') }, null, 2), { mode: 0o600 });
  return { address, key };
}

/**
 * A developer's client contract at their proxy: balance, stake, charges, and the owner's actions
 * on it (open with a stake, top up, withdraw the free balance). Every action is planned as the
 * messages of one wallet transfer (`plan`), sent by a signer — the development wallet in local
 * mode or the user's wallet through TON Connect — and confirmed by re-reading the contract; a
 * refusal by the contract is reported, not guessed.
 */
export interface ClientAccountState {
  contract: string;
  proxyContract: string;
  deployed: boolean;
  /** Free balance: what the contract holds above the stake, withdrawable. */
  balanceNano: bigint;
  /** The part of the contract's money that stays until it closes (≤ the stake setting). */
  stakeNano: bigint;
  minStakeNano: bigint;
  /** What charges took so far: tokens used × price per token. */
  chargedNano: bigint;
  tokensUsed: bigint;
  /** running | closing | closed */
  state: 'running' | 'closing' | 'closed';
}

export type AccountActionKind = 'stake' | 'topUp' | 'withdraw';

/** One action as the wallet will be asked to sign it, with what it costs, before anything is sent. */
export interface AccountActionPlan {
  kind: AccountActionKind;
  amountNano: bigint;
  messages: WalletMessage[];
  /** Everything the wallet attaches (the amount moved plus the value that pays the contract's work). */
  attachedNano: bigint;
  /** Estimated cost: the contract's processing out of the attached value plus the wallet's own fee; what is not spent returns. */
  feeEstimateNano: bigint;
  before: ClientAccountState;
}

/** One transaction of the client contract as the chain records it, newest first in `history`. */
export interface AccountHistoryEntry {
  at: Date;
  /** Transaction hash, hex. */
  hash: string;
  /** What the incoming message asked, by its op name (`deploy` for an empty body, `op 0x…` when unknown). */
  action: string;
  /** TON that came in with it. */
  valueNano: bigint;
  /** TON the contract sent out in it (a withdraw, a charge's share to the proxy, excesses). */
  sentNano: bigint;
  ok: boolean;
}

const OP_NAMES = new Map<number, string>(Object.entries(Op).map(([name, code]) => [code, name]));

export interface AccountActionResult {
  state: ClientAccountState;
  hash: string;
}

/** Attached to every action beyond the amount it moves; what is not spent comes back. */
const ACTION_FEE = MIN_OP_VALUE;

function positive(amountNano: bigint): void {
  if (amountNano <= 0n) throw new CocoonError('bad_amount', 'the amount must be positive');
}

export class ClientAccount {
  private constructor(
    private readonly chain: Chain,
    /** Who owns the account (and pays): the dev wallet in local mode, the connected wallet otherwise. */
    readonly owner: Address,
    private readonly signer: TransactionSigner | null,
    private readonly client: Client,
    private readonly proxyContract: Address,
    private readonly minStakeNano: bigint,
  ) {}

  /**
   * Local network: the proxy contract is deployed once by the "proxy" development wallet (its
   * signing key kept beside the chain state, mode 0600) and the "client" development wallet owns
   * the account and signs its actions.
   */
  static async openLocal(opts: { endpoint: string; rootAddress: string; chainDataDir: string }): Promise<ClientAccount> {
    const chain = new Chain({ network: 'local', endpoint: opts.endpoint, rootAddress: opts.rootAddress });
    const proxyContract = await ClientAccount.localProxyContract(chain, opts);
    const owner = await chain.wallet(localMnemonic(opts.chainDataDir, 'client'));
    return ClientAccount.open({ chain, proxyContract, owner: owner.address, signer: chainWalletSigner(owner) });
  }

  /** The local network's proxy contract, deployed on first use by the "proxy" development wallet. */
  static async localProxyContract(chain: Chain, opts: { rootAddress: string; chainDataDir: string }): Promise<Address> {
    const proxyWallet = await chain.wallet(localMnemonic(opts.chainDataDir, 'proxy'));
    return (await localProxyContract(chain, opts.chainDataDir, Address.parse(opts.rootAddress), proxyWallet)).address;
  }

  /** The account of `owner` at `proxyContract`; without a signer it can be read and planned, not sent. */
  static async open(opts: { chain: Chain; proxyContract: Address; owner: Address; signer: TransactionSigner | null }): Promise<ClientAccount> {
    const client = await clientContractFor(opts.chain, opts.proxyContract, opts.owner);
    const { params } = await readRootData(opts.chain.config, Address.parse(opts.chain.config.rootAddress!));
    return new ClientAccount(opts.chain, opts.owner, opts.signer, client, opts.proxyContract, params.minClientStake);
  }

  async state(): Promise<ClientAccountState> {
    const base = { contract: this.client.address.toString(), proxyContract: this.proxyContract.toString(), minStakeNano: this.minStakeNano };
    const s = await readClientData(this.chain, this.client.address);
    if (!s) return { ...base, deployed: false, balanceNano: 0n, stakeNano: 0n, chargedNano: 0n, tokensUsed: 0n, state: 'running' };
    const held = s.balance < s.stake ? s.balance : s.stake;
    return {
      ...base, deployed: true, balanceNano: s.balance - held, stakeNano: held,
      chargedNano: s.tokensUsed * s.params.pricePerToken, tokensUsed: s.tokensUsed,
      state: s.state === 0 ? 'running' : s.state === 1 ? 'closing' : 'closed',
    };
  }

  /** The contract's latest transactions on chain (none before it is deployed). */
  async history(limit = 20): Promise<AccountHistoryEntry[]> {
    const txs = (await this.chain.transactionsSince(this.client.address)).sort((a, b) => (a.lt < b.lt ? 1 : -1)).slice(0, limit);
    return txs.map((tx) => {
      const inMsg = tx.inMessage;
      const body = inMsg?.body.beginParse();
      const op = body && body.remainingBits >= 32 ? body.loadUint(32) : null;
      const d = tx.description;
      let sentNano = 0n;
      for (const out of tx.outMessages.values()) if (out.info.type === 'internal') sentNano += out.info.value.coins;
      return {
        at: new Date(tx.now * 1000), hash: tx.hash().toString('hex'),
        action: op === null ? 'deploy' : OP_NAMES.get(op) ?? `op 0x${op.toString(16)}`,
        valueNano: inMsg?.info.type === 'internal' ? inMsg.info.value.coins : 0n, sentNano,
        ok: d.type === 'generic' && !d.aborted,
      };
    });
  }

  /**
   * Builds the action's messages and checks it against the contract as it is now. Stake adds to
   * the stake; the first stake opens (deploys) the account and must reach the minimum.
   */
  async plan(kind: AccountActionKind, amountNano: bigint): Promise<AccountActionPlan> {
    positive(amountNano);
    const before = await this.state();
    const msg = (valueNano: bigint, body: WalletMessage['body'], deploy = false): WalletMessage => ({
      to: this.client.address, valueNano, body, stateInit: deploy ? this.client.init ?? null : null, bounce: !deploy,
    });
    let messages: WalletMessage[];
    /** What the wallet moves into the contract (the rest of what it attaches pays the work and comes back). */
    let moved = kind === 'withdraw' ? 0n : amountNano;
    if (kind === 'stake') {
      if (!before.deployed && amountNano < this.minStakeNano) {
        throw new CocoonError('stake_too_low', `opening the account needs a stake of at least ${fromNano(this.minStakeNano)} TON`, { hint: `stake ${fromNano(this.minStakeNano)} TON or more` });
      }
      if (!before.deployed) {
        // As the reference does: deploy with an empty body (the value is the storage buffer; the
        // contract starts with stake = the root's minimum), then top up what the stake locks, and
        // raise the stake above the minimum. Messages from one wallet to one contract arrive in
        // order, so one transfer (one approval) does all of it.
        messages = [msg(DEPLOY_VALUE, beginCell().endCell(), true), msg(amountNano + ACTION_FEE, Body.clientTopUp(randomQueryId(), amountNano, this.owner))];
        if (amountNano > this.minStakeNano) messages.push(msg(ACTION_FEE, Body.clientIncreaseStake(randomQueryId(), this.owner, amountNano)));
      } else {
        // The contract raises the stake out of what it already holds first; only the part the
        // balance does not cover is attached (plus the processing value).
        const s = await readClientData(this.chain, this.client.address);
        const newStake = s!.stake + amountNano;
        moved = newStake > s!.balance ? newStake - s!.balance : 0n;
        messages = [msg(moved + ACTION_FEE, Body.clientIncreaseStake(randomQueryId(), this.owner, newStake))];
      }
    } else if (kind === 'topUp') {
      if (!before.deployed) throw new CocoonError('account_not_open', 'the client account is not open yet', { hint: `open it with a stake of at least ${fromNano(this.minStakeNano)} TON first` });
      messages = [msg(amountNano + ACTION_FEE, Body.clientTopUp(randomQueryId(), amountNano, this.owner))];
    } else {
      if (!before.deployed) throw new CocoonError('account_not_open', 'the client account is not open, there is nothing to withdraw');
      if (amountNano > before.balanceNano) {
        throw new CocoonError('insufficient_balance', `only ${fromNano(before.balanceNano)} TON of free balance can be withdrawn (the ${fromNano(before.stakeNano)} TON stake stays locked)`);
      }
      messages = [msg(ACTION_FEE, Body.clientWithdraw(randomQueryId(), this.owner, amountNano))];
    }
    const attachedNano = messages.reduce((a, m) => a + m.valueNano, 0n);
    return { kind, amountNano, messages, attachedNano, feeEstimateNano: attachedNano - moved + WALLET_FEE_ESTIMATE_NANO, before };
  }

  /** Sends a plan with `signer` (default: this account's own) and waits until the contract applied it. */
  async execute(plan: AccountActionPlan, signer: TransactionSigner | null = this.signer): Promise<AccountActionResult> {
    if (!signer) throw new CocoonError('no_wallet', 'no wallet is connected to sign this action', { hint: 'connect a wallet first' });
    if (!signer.address.equals(this.owner)) throw new CocoonError('wrong_wallet', `the connected wallet ${signer.address.toString()} does not own this client account (owner ${this.owner.toString()})`);
    const balance = (await this.chain.getAccount(signer.address)).balance;
    if (balance < plan.attachedNano + WALLET_FEE_ESTIMATE_NANO) {
      throw new CocoonError('wallet_balance_low', `the wallet holds ${fromNano(balance)} TON, not enough for ${fromNano(plan.attachedNano)} TON plus fees`);
    }
    const { hash } = await signer.send(plan.messages);
    const { before, amountNano } = plan;
    const done: Record<AccountActionKind, (after: ClientAccountState) => boolean> = {
      stake: (after) => before.deployed ? after.stakeNano > before.stakeNano : after.deployed && after.stakeNano >= (amountNano < this.minStakeNano ? amountNano : this.minStakeNano),
      topUp: (after) => after.balanceNano > before.balanceNano,
      withdraw: (after) => after.balanceNano < before.balanceNano,
    };
    return { state: await this.confirm(plan.kind, before, done[plan.kind]), hash };
  }

  async stake(amountNano: bigint): Promise<ClientAccountState> {
    return (await this.execute(await this.plan('stake', amountNano))).state;
  }

  async topUp(amountNano: bigint): Promise<ClientAccountState> {
    return (await this.execute(await this.plan('topUp', amountNano))).state;
  }

  /** Withdraws from the free balance; the stake is never withdrawable while the account is open. */
  async withdraw(amountNano: bigint): Promise<ClientAccountState> {
    return (await this.execute(await this.plan('withdraw', amountNano))).state;
  }

  /** Re-reads the contract after the transfer; the contract processes it within a few polls. */
  private async confirm(action: string, before: ClientAccountState, done: (after: ClientAccountState) => boolean): Promise<ClientAccountState> {
    for (let i = 0; i < 100; i++) {
      const after = await this.state();
      if (done(after)) return after;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new CocoonError('action_refused', `the client contract did not apply the ${action} (balance ${fromNano(before.balanceNano)} TON, stake ${fromNano(before.stakeNano)} TON unchanged); the sent value bounced back to the wallet minus fees`);
  }
}

function localMnemonic(chainDataDir: string, name: string): string[] {
  const wallets = JSON.parse(readFileSync(join(chainDataDir, 'wallets.json'), 'utf8')) as Array<{ name: string; mnemonic: string[] }>;
  const w = wallets.find((x) => x.name === name);
  if (!w) throw new CocoonError('dev_wallet_missing', `the local chain has no "${name}" development wallet`);
  return w.mnemonic;
}

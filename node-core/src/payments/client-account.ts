import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Address, beginCell, fromNano, toNano, type Cell } from '@ton/core';
import { keyPairFromSeed, type KeyPair } from '@ton/crypto';
import { deployProxy } from '../../../contracts/deploy.ts';
import type { Client } from '../../../contracts/wrappers/Client.ts';
import { Body, MIN_OP_VALUE } from '../../../contracts/wrappers/protocol.ts';
import { randomQueryId } from '../../../contracts/wrappers/signing.ts';
import { DEPLOY_VALUE } from '../../../contracts/deploy.ts';
import { readClientData, readRootData } from '../chain/contract-state.ts';
import { Chain, type ChainWallet } from '../chain/chain.ts';
import { clientContractFor } from '../chain/settlement.ts';
import { CocoonError } from '../errors.ts';

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
 * on it (open with a stake, top up, withdraw the free balance). Every action is one wallet
 * transfer, confirmed by re-reading the contract; a refusal by the contract is reported, not
 * guessed.
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

/** Attached to every action beyond the amount it moves; what is not spent comes back. */
const ACTION_FEE = MIN_OP_VALUE;

function positive(amountNano: bigint): void {
  if (amountNano <= 0n) throw new CocoonError('bad_amount', 'the amount must be positive');
}

export class ClientAccount {
  private constructor(
    private readonly chain: Chain,
    private readonly owner: ChainWallet,
    private readonly client: Client,
    private readonly proxyContract: Address,
    private readonly minStakeNano: bigint,
  ) {}

  /**
   * Local network: the proxy contract is deployed once by the "proxy" development wallet (its
   * signing key kept beside the chain state, mode 0600) and the "client" development wallet owns
   * the account.
   */
  static async openLocal(opts: { endpoint: string; rootAddress: string; chainDataDir: string }): Promise<ClientAccount> {
    const chain = new Chain({ network: 'local', endpoint: opts.endpoint, rootAddress: opts.rootAddress });
    const wallets = JSON.parse(readFileSync(join(opts.chainDataDir, 'wallets.json'), 'utf8')) as Array<{ name: string; mnemonic: string[] }>;
    const mnemonic = (name: string) => {
      const w = wallets.find((x) => x.name === name);
      if (!w) throw new CocoonError('dev_wallet_missing', `the local chain has no "${name}" development wallet`);
      return w.mnemonic;
    };
    const root = Address.parse(opts.rootAddress);
    const { address: proxyAddress } = await localProxyContract(chain, opts.chainDataDir, root, await chain.wallet(mnemonic('proxy')));
    const owner = await chain.wallet(mnemonic('client'));
    const client = await clientContractFor(chain, proxyAddress, owner.address);
    const { params } = await readRootData(chain.config, root);
    return new ClientAccount(chain, owner, client, proxyAddress, params.minClientStake);
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

  /** Adds to the stake; the first stake opens (deploys) the account and must reach the minimum. */
  async stake(amountNano: bigint): Promise<ClientAccountState> {
    positive(amountNano);
    const before = await this.state();
    if (!before.deployed && amountNano < this.minStakeNano) {
      throw new CocoonError('stake_too_low', `opening the account needs a stake of at least ${fromNano(this.minStakeNano)} TON`, { hint: `stake ${fromNano(this.minStakeNano)} TON or more` });
    }
    if (!before.deployed) {
      // As the reference does: deploy with an empty body (the value is the storage buffer; the
      // contract starts with stake = the root's minimum), then top up what the stake locks.
      await this.sendMany([
        { value: DEPLOY_VALUE, body: beginCell().endCell(), init: true },
        { value: amountNano + ACTION_FEE, body: Body.clientTopUp(randomQueryId(), amountNano, this.owner.address), init: false },
      ]);
      if (amountNano > this.minStakeNano) {
        await this.confirm('stake', before, (after) => after.deployed && after.stakeNano + after.balanceNano >= amountNano);
        await this.send(ACTION_FEE, Body.clientIncreaseStake(randomQueryId(), this.owner.address, amountNano), false);
      }
      return this.confirm('stake', before, (after) => after.deployed && after.stakeNano >= (amountNano < this.minStakeNano ? amountNano : this.minStakeNano));
    }
    const s = await readClientData(this.chain, this.client.address);
    const newStake = s!.stake + amountNano;
    await this.send(amountNano + ACTION_FEE, Body.clientIncreaseStake(randomQueryId(), this.owner.address, newStake), false);
    return this.confirm('stake', before, (after) => after.stakeNano > before.stakeNano);
  }

  async topUp(amountNano: bigint): Promise<ClientAccountState> {
    positive(amountNano);
    const before = await this.state();
    if (!before.deployed) throw new CocoonError('account_not_open', 'the client account is not open yet', { hint: `open it with a stake of at least ${fromNano(this.minStakeNano)} TON first` });
    await this.send(amountNano + ACTION_FEE, Body.clientTopUp(randomQueryId(), amountNano, this.owner.address), false);
    return this.confirm('top-up', before, (after) => after.balanceNano > before.balanceNano);
  }

  /** Withdraws from the free balance; the stake is never withdrawable while the account is open. */
  async withdraw(amountNano: bigint): Promise<ClientAccountState> {
    positive(amountNano);
    const before = await this.state();
    if (!before.deployed) throw new CocoonError('account_not_open', 'the client account is not open, there is nothing to withdraw');
    if (amountNano > before.balanceNano) {
      throw new CocoonError('insufficient_balance', `only ${fromNano(before.balanceNano)} TON of free balance can be withdrawn (the ${fromNano(before.stakeNano)} TON stake stays locked)`);
    }
    await this.send(ACTION_FEE, Body.clientWithdraw(randomQueryId(), this.owner.address, amountNano), false);
    return this.confirm('withdraw', before, (after) => after.balanceNano < before.balanceNano);
  }

  private async send(value: bigint, body: Cell, withInit: boolean): Promise<void> {
    await this.sendMany([{ value, body, init: withInit }]);
  }

  private async sendMany(messages: Array<{ value: bigint; body: Cell; init: boolean }>): Promise<void> {
    const total = messages.reduce((a, m) => a + m.value, 0n);
    const balance = (await this.chain.getAccount(this.owner.address)).balance;
    if (balance < total + ACTION_FEE) throw new CocoonError('wallet_balance_low', `the wallet holds ${fromNano(balance)} TON, not enough for ${fromNano(total)} TON plus fees`);
    await this.owner.sendAndWait(messages.map((m) => ({ to: this.client.address, value: m.value, body: m.body, init: m.init ? this.client.init ?? null : null, bounce: !m.init })));
  }

  /** Re-reads the contract after the transfer; the contract processes it within a few polls. */
  private async confirm(action: string, before: ClientAccountState, done: (after: ClientAccountState) => boolean): Promise<ClientAccountState> {
    for (let i = 0; i < 50; i++) {
      const after = await this.state();
      if (done(after)) return after;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new CocoonError('action_refused', `the client contract did not apply the ${action} (balance ${fromNano(before.balanceNano)} TON, stake ${fromNano(before.stakeNano)} TON unchanged); the sent value bounced back to the wallet minus fees`);
  }
}

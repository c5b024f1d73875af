import { Address as TonAddress, fromNano, toNano, type Address } from '@ton/core';
import { CocoonError, errorMessage } from '../../../node-core/src/errors.ts';
import type { AccountActionKind, ClientAccount, ClientAccountState } from '../../../node-core/src/payments/client-account.ts';
import type { TransactionSigner } from '../../../node-core/src/payments/wallet-signer.ts';
import type { ClientAccountInfo, HandlersFor, RequestArgs, RequestResults, RequestsIn } from '../../shared/api-contract.ts';
import type { AppServiceOptions } from './app-service.ts';
import type { OwnerEconomics } from './owner-economics.ts';
import type { SettingsStore } from './settings-store.ts';
import type { WalletSession } from './wallet-session.ts';

/** The requests MoneyRequests answers. */
export type MoneyRequestName = RequestsIn<'account.'> | RequestsIn<'economics.'> | RequestsIn<'wallet.'>;

/**
 * The requests that move or show money: the wallet (TON Connect session, balance), the
 * developer's client account (quote, then an action signed by the connected wallet or, locally,
 * the development wallet), and owner economics (earnings, claims, the proxy operator's contract).
 * Arguments arrive validated by AppService.
 */
export class MoneyRequests {
  constructor(private readonly opts: AppServiceOptions, private readonly settings: SettingsStore) {}

  /** The money requests, one typed handler each (arguments arrive validated by AppService). */
  handlers(): HandlersFor<MoneyRequestName> {
    const act = (kind: AccountActionKind) => (input: RequestArgs<'account.stake'>[0]) => this.accountAction(kind, input);
    return {
      'wallet.get': () => this.walletInfo(),
      'account.stake': act('stake'),
      'account.topUp': act('topUp'),
      'account.withdraw': act('withdraw'),
      'account.quote': async ({ action, amountTon }) => {
        const { account, signerName } = await this.payingAccount();
        const plan = await account.plan(action, toNano(amountTon));
        return {
          action, network: this.opts.network, contract: plan.before.contract, amountTon: fromNano(plan.amountNano), attachedTon: fromNano(plan.attachedNano), feeTon: fromNano(plan.feeEstimateNano),
          signer: signerName, needsMainnetConfirmation: this.opts.network === 'mainnet' && !(await this.settings.read()).mainnetConfirmed,
        };
      },
      'economics.worker': async ({ ownerAddress, range }) => (await this.econ()).worker(this.workerOwner(ownerAddress), range),
      'economics.claim': async ({ ownerAddress }) => {
        const owner = this.workerOwner(ownerAddress);
        const { signer, signerName } = this.signerFor(owner, 'worker');
        const { hash, tokens } = await (await this.econ()).claim(owner, signer);
        return { ...(await (await this.econ()).worker(owner, 'day')), claimed: { hash, tokens: tokens.toString(), signer: signerName } };
      },
      'economics.proxy': async () => (await this.econ()).proxy(),
      'economics.proxy.act': async ({ action, amountTon }) => {
        const view = await (await this.econ()).proxy();
        if (!view.owner) throw new CocoonError('no_proxy_contract', view.disabledReason ?? 'the proxy contract is not deployed');
        const { signer, signerName } = this.signerFor(TonAddress.parse(view.owner), 'proxy');
        const { hash } = await (await this.econ()).proxyAct(action, amountTon ? toNano(amountTon) : null, signer);
        return { ...(await (await this.econ()).proxy()), sent: { action, hash, signer: signerName } };
      },
      'wallet.session': () => this.session().current(),
      'wallet.connect': ({ appName }) => this.session().connect(appName),
      'wallet.disconnect': () => this.session().disconnect(),
    };
  }

  private async accountAction(kind: AccountActionKind, { amountTon, confirmMainnet }: RequestArgs<'account.stake'>[0]): Promise<ClientAccountInfo> {
    // Asked once, before the first mainnet transaction, whoever signs it.
    if (this.opts.network === 'mainnet' && !(await this.settings.read()).mainnetConfirmed) {
      if (!confirmMainnet) throw new CocoonError('mainnet_confirmation_required', 'This is mainnet: the transaction moves real TON. Confirm to continue (asked once).');
      await this.settings.update({ mainnetConfirmed: true });
    }
    const { account, signer, signerName } = await this.payingAccount();
    const plan = await account.plan(kind, toNano(amountTon));
    const { state, hash } = await account.execute(plan, signer ?? undefined);
    return { ...accountInfo(state), lastTransaction: { action: kind, hash, signer: signerName } };
  }

  /** Owner economics; on testnet/mainnet it waits for the proxy chosen from the root (its error says why there is none). */
  private async econ(): Promise<OwnerEconomics> {
    if (!this.opts.economics) throw new CocoonError('no_economics', `owner economics need the chain layer and a proxy contract, which this app instance does not have on ${this.opts.network}`);
    return this.opts.economics;
  }

  /** The worker owner: the typed address, else the connected wallet's, else (local) the worker development wallet's. */
  private workerOwner(typed: string | null): Address {
    if (typed) {
      try {
        return TonAddress.parse(typed.trim());
      } catch {
        throw new CocoonError('bad_address', `"${typed.slice(0, 80)}" is not a TON address`, { hint: 'paste the owner address from your wallet' });
      }
    }
    const connected = this.opts.walletSession?.signer();
    if (connected) return connected.address;
    if (this.opts.devSigners?.worker) return this.opts.devSigners.worker.address;
    throw new CocoonError('no_wallet', 'connect your wallet or type the worker owner address');
  }

  /** Who signs for `owner`: the connected wallet when it is the owner, else (local) the matching development wallet. */
  private signerFor(owner: Address, role: 'worker' | 'proxy'): { signer: TransactionSigner; signerName: string } {
    const connected = this.opts.walletSession?.signer();
    if (connected?.address.equals(owner)) return { signer: connected, signerName: `${this.opts.walletSession!.current().walletName ?? 'wallet'} (TON Connect)` };
    const dev = this.opts.devSigners?.[role];
    if (this.opts.network === 'local' && dev?.address.equals(owner)) return { signer: dev, signerName: `local ${role} development wallet` };
    throw new CocoonError('wrong_wallet', `connect the wallet that owns ${owner.toString()} to sign this`, { hint: 'TON Connect: disconnect and connect the owner\'s wallet' });
  }

  private session(): WalletSession {
    if (!this.opts.walletSession) throw new CocoonError('no_wallet_session', 'TON Connect is not available in this app instance');
    return this.opts.walletSession;
  }

  /**
   * Who pays for a client-account action: the connected TON Connect wallet (its own account,
   * signed in the wallet) or, on the local network with no wallet connected, the development
   * wallet (signed by the app: it holds no real TON).
   */
  private async payingAccount(): Promise<{ account: ClientAccount; signer: TransactionSigner | null; signerName: string }> {
    const signer = this.opts.walletSession?.signer() ?? null;
    if (signer) {
      if (!this.opts.accountFor) throw new CocoonError('no_chain', `client-contract actions on ${this.opts.network} are not available yet: the app has no proxy contract for this network`);
      return { account: await this.opts.accountFor(signer.address), signer, signerName: `${this.opts.walletSession!.current().walletName ?? 'wallet'} (TON Connect)` };
    }
    if (this.opts.network === 'local' && this.opts.clientAccount) return { account: this.opts.clientAccount, signer: null, signerName: 'local development wallet' };
    if (this.opts.network !== 'local') throw new CocoonError('no_wallet', 'connect your wallet first: every transaction is signed in your wallet through TON Connect');
    throw new CocoonError('no_chain', 'client-contract actions need the chain layer, which is not running', { hint: 'start the app with its embedded local chain' });
  }

  async walletInfo(): Promise<RequestResults['wallet.get']> {
    const dev = this.opts.devWallet;
    const connected = this.opts.walletSession?.signer() ?? null;
    let balanceTon: string | null = null;
    let balanceError: string | null = null;
    if (connected && this.opts.balanceOf) {
      try {
        balanceTon = fromNano(await this.opts.balanceOf(connected.address));
      } catch (err) {
        balanceError = `the chain did not answer the balance query: ${errorMessage(err)}`;
      }
    } else if (dev) {
      try {
        balanceTon = fromNano(await dev.balanceNano());
      } catch (err) {
        balanceError = `the local chain did not answer the balance query: ${errorMessage(err)}`;
      }
    }
    let clientAccount: RequestResults['wallet.get']['clientAccount'] = null;
    let accountError: string | null = null;
    let noAccount: string | null = null;
    const account = connected
      ? (this.opts.accountFor ? await this.opts.accountFor(connected.address).catch((err: unknown) => { noAccount = errorMessage(err); return undefined; }) : undefined)
      : this.opts.clientAccount;
    if (account) {
      try {
        const [state, history] = await Promise.all([account.state(), account.history(20)]);
        clientAccount = {
          ...accountInfo(state),
          history: history.map((h) => ({ at: h.at.toISOString(), hash: h.hash, action: h.action, valueTon: fromNano(h.valueNano), sentTon: fromNano(h.sentNano), ok: h.ok })),
        };
      } catch (err) {
        accountError = `the client contract could not be read: ${errorMessage(err)}`;
      }
    }
    return {
      network: this.opts.network,
      mode: connected || this.opts.network !== 'local' ? 'tonconnect' : 'development',
      address: connected ? this.opts.walletSession!.current().address : dev?.address ?? null,
      balanceTon,
      clientAccount,
      contractActionsDisabledReason: balanceError ?? accountError ?? (account ? null
        : connected ? `client-contract actions on ${this.opts.network} are not available: ${noAccount ?? 'the app has no proxy contract for this network'}`
        : this.opts.network !== 'local' ? 'connect your wallet to see and use your client contract'
        : 'the chain layer is not running, so the client contract cannot be reached'),
    };
  }
}

function accountInfo(s: ClientAccountState): ClientAccountInfo {
  return {
    contract: s.contract, proxyContract: s.proxyContract, deployed: s.deployed,
    balanceTon: fromNano(s.balanceNano), stakeTon: fromNano(s.stakeNano), minStakeTon: fromNano(s.minStakeNano), chargedTon: fromNano(s.chargedNano),
  };
}


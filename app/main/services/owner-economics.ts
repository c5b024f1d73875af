import { Address, beginCell, fromNano } from '@ton/core';
import { DEPLOY_VALUE } from '../../../node-core/src/chain/deploy.ts';
import { Body, MIN_OP_VALUE, repackSigned } from '../../../contracts/wrappers/protocol.ts';
import { randomQueryId } from '../../../contracts/wrappers/signing.ts';
import type { Chain } from '../../../node-core/src/chain/chain.ts';
import { readProxyData, readRootData, readWorkerData } from '../../../node-core/src/chain/contract-state.ts';
import { SETTLEMENT_VALUE, workerContractFor } from '../../../node-core/src/chain/settlement.ts';
import { CocoonError } from '../../../node-core/src/errors.ts';
import { WALLET_FEE_ESTIMATE_NANO, type TransactionSigner, type WalletMessage } from '../../../node-core/src/payments/wallet-signer.ts';
import type { ProxyEconomics, WorkerEconomics } from '../../shared/api-contract.ts';
import { bucketUsage, rangeStart, type ChartRange, type EarningsLedger } from './earnings-ledger.ts';

/**
 * Owner economics: what a worker earned (signed by the proxy, paid on chain, pending), claiming
 * the latest signed payout, and the proxy operator's contract (stake, earnings, reserve, client
 * funds, withdraw, close with its delay). Every action is a set of wallet messages sent by a
 * signer: the connected TON Connect wallet, or on the local network a development wallet.
 */
export interface OwnerEconomicsOptions {
  network: 'local' | 'testnet' | 'mainnet';
  chain: Chain;
  proxyContract: Address;
  /** The proxy's settlement ledger; null until it is wired to the app (the views say so). */
  ledger: EarningsLedger | null;
  now?: () => Date;
}

const NO_LEDGER = 'Tokens served, TON signed by the proxy and pending payouts come from the proxy\'s settlement ledger, which this app cannot read for this proxy: only what the chain holds is shown.';

export class OwnerEconomics {
  private readonly claims = new Map<string, string>(); // signed-payout cell hash → transaction hash

  constructor(private readonly opts: OwnerEconomicsOptions) {}

  private now(): Date {
    return this.opts.now?.() ?? new Date();
  }

  async worker(owner: Address, range: ChartRange): Promise<WorkerEconomics> {
    const { chain, proxyContract, ledger, network } = this.opts;
    const contract = await workerContractFor(chain, proxyContract, owner);
    const onChain = await readWorkerData(chain, contract.address);
    const proxy = await readProxyData(chain, proxyContract);
    if (!proxy) throw new CocoonError('no_proxy_contract', `the proxy contract ${proxyContract.toString()} is not deployed`);
    const fee = proxy.params.workerFeePerToken;
    const paidTokens = onChain?.tokens ?? 0n;
    const base = {
      network, owner: owner.toString({ bounceable: false, testOnly: network !== 'mainnet' }), workerContract: contract.address.toString(), proxyContract: proxyContract.toString(),
      deployed: onChain !== null, paidTon: fromNano(paidTokens * fee),
    };
    if (!ledger) return { ...base, tokensServed: null, signedTon: null, pendingTon: null, series: [], payouts: [], claimable: false, notes: [NO_LEDGER] };
    const now = this.now();
    const usage = await ledger.usage(contract.address, rangeStart(range, now));
    const allUsage = await ledger.usage(contract.address, new Date(0));
    const payouts = await ledger.payouts(contract.address);
    const latest = payouts.at(-1);
    const signedTokens = latest?.tokens ?? 0n;
    const pending = signedTokens > paidTokens ? signedTokens - paidTokens : 0n;
    // The contract pays workers only from the reserve clients' settled charges funded: a claim
    // above it would bounce, so it waits (the proxy puts charges on chain on its own schedule).
    const reserveShort = pending > 0n && proxy.workerReserve < pending * fee;
    const notes = pending === 0n ? ['Nothing to claim: the chain already holds the latest signed payout.']
      : reserveShort ? [`Waiting for clients' charges to reach the chain: the proxy's worker reserve holds ${fromNano(proxy.workerReserve)} TON, less than the ${fromNano(pending * fee)} TON pending.`] : [];
    return {
      ...base,
      tokensServed: allUsage.reduce((a, r) => a + r.tokens, 0n).toString(),
      signedTon: fromNano(signedTokens * fee),
      pendingTon: fromNano(pending * fee),
      series: bucketUsage(usage, range, now).map((b) => ({ at: b.at, tokens: b.tokens, earnedTon: fromNano(BigInt(b.earnedNano)) })),
      payouts: payouts.map((p) => ({
        signedAt: p.signedAt.toISOString(), tokens: p.tokens.toString(), amountTon: fromNano(p.tokens * fee),
        claimed: p.tokens <= paidTokens, hash: this.claims.get(p.body.hash().toString('hex')) ?? null,
      })).reverse(),
      claimable: pending > 0n && !reserveShort,
      claimAttachedTon: fromNano(SETTLEMENT_VALUE + (onChain ? 0n : DEPLOY_VALUE)),
      claimFeeTon: fromNano(SETTLEMENT_VALUE + (onChain ? 0n : DEPLOY_VALUE) + WALLET_FEE_ESTIMATE_NANO),
      notes,
    };
  }

  /** Submits the latest signed payout to the worker contract (deploying it first when needed) in one wallet transfer. */
  async claim(owner: Address, signer: TransactionSigner): Promise<{ hash: string; tokens: bigint }> {
    const { chain, proxyContract, ledger } = this.opts;
    if (!ledger) throw new CocoonError('no_ledger', NO_LEDGER);
    if (!signer.address.equals(owner)) throw new CocoonError('wrong_wallet', `the signing wallet ${signer.address.toString()} is not the worker's owner ${owner.toString()}; connect the owner's wallet`);
    const contract = await workerContractFor(chain, proxyContract, owner);
    const latest = (await ledger.payouts(contract.address)).at(-1);
    const before = await readWorkerData(chain, contract.address);
    if (!latest || latest.tokens <= (before?.tokens ?? 0n)) throw new CocoonError('nothing_to_claim', 'there is no signed payout above what the worker contract already holds');
    const messages: WalletMessage[] = [];
    if (!before) messages.push({ to: contract.address, valueNano: DEPLOY_VALUE, body: beginCell().endCell(), stateInit: contract.init ?? null, bounce: false });
    messages.push({ to: contract.address, valueNano: SETTLEMENT_VALUE, body: repackSigned(latest.body, owner), stateInit: null, bounce: true });
    const { hash } = await signer.send(messages);
    for (let i = 0; i < 100; i++) {
      const after = await readWorkerData(chain, contract.address);
      if (after && after.tokens >= latest.tokens) {
        this.claims.set(latest.body.hash().toString('hex'), hash);
        return { hash, tokens: latest.tokens };
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new CocoonError('claim_refused', 'the worker contract did not apply the payout (a same-or-older counter, a wrong key, or an empty worker reserve at the proxy); the attached value came back minus fees');
  }

  async proxy(): Promise<ProxyEconomics> {
    const { chain, proxyContract, network } = this.opts;
    const d = await readProxyData(chain, proxyContract);
    const { params } = await readRootData(chain.config, Address.parse(chain.config.rootAddress!));
    if (!d) {
      return { network, contract: proxyContract.toString(), owner: null, deployed: false, state: null, stakeTon: '0', minStakeTon: fromNano(params.minProxyStake), earningsTon: '0', workerReserveTon: '0', clientFundsTon: '0', closeDelaySeconds: params.proxyDelayBeforeClose, unlockAt: null, disabledReason: 'the proxy contract is not deployed' };
    }
    const held = (await chain.getAccount(proxyContract)).balance;
    const clientFunds = held - d.stake - d.balance - d.workerReserve;
    return {
      network, contract: proxyContract.toString(), owner: d.owner.toString({ bounceable: false, testOnly: network !== 'mainnet' }), deployed: true,
      state: d.state === 0 ? 'running' : d.state === 1 ? 'closing' : 'closed',
      stakeTon: fromNano(d.stake), minStakeTon: fromNano(params.minProxyStake), earningsTon: fromNano(d.balance), workerReserveTon: fromNano(d.workerReserve),
      clientFundsTon: fromNano(clientFunds > 0n ? clientFunds : 0n), closeDelaySeconds: params.proxyDelayBeforeClose,
      unlockAt: d.state === 1 && d.unlockTs > 0 ? d.unlockTs : null, disabledReason: null,
      actionAttachedTon: fromNano(MIN_OP_VALUE), actionFeeTon: fromNano(MIN_OP_VALUE + WALLET_FEE_ESTIMATE_NANO),
    };
  }

  /** Stake (at least the root's minimum in total), withdraw earnings, or request the close. */
  async proxyAct(action: 'stake' | 'withdraw' | 'close', amountNano: bigint | null, signer: TransactionSigner): Promise<{ hash: string }> {
    const { chain, proxyContract } = this.opts;
    const d = await readProxyData(chain, proxyContract);
    if (!d) throw new CocoonError('no_proxy_contract', 'the proxy contract is not deployed');
    if (!signer.address.equals(d.owner)) throw new CocoonError('wrong_wallet', `the signing wallet ${signer.address.toString()} does not own the proxy contract (owner ${d.owner.toString()})`);
    const before = { stake: d.stake, balance: d.balance, state: d.state };
    let message: WalletMessage;
    if (action === 'stake') {
      if (!amountNano || amountNano <= 0n) throw new CocoonError('bad_amount', 'the stake amount must be positive');
      const { params } = await readRootData(chain.config, d.root);
      if (d.stake + amountNano < params.minProxyStake) throw new CocoonError('stake_too_low', `the proxy's stake must reach the root's minimum of ${fromNano(params.minProxyStake)} TON (now ${fromNano(d.stake)} TON)`);
      message = { to: proxyContract, valueNano: amountNano + MIN_OP_VALUE, body: Body.proxyIncreaseStake(randomQueryId(), amountNano, signer.address), stateInit: null, bounce: true };
    } else if (action === 'withdraw') {
      if (d.balance === 0n) throw new CocoonError('nothing_to_withdraw', 'the proxy contract holds no earnings to withdraw');
      message = { to: proxyContract, valueNano: MIN_OP_VALUE, body: Body.proxyWithdraw(randomQueryId(), signer.address), stateInit: null, bounce: true };
    } else {
      if (d.state !== 0) throw new CocoonError('already_closing', 'the proxy contract is already closing or closed');
      message = { to: proxyContract, valueNano: MIN_OP_VALUE, body: Body.proxyClose(signer.address), stateInit: null, bounce: true };
    }
    const balance = (await chain.getAccount(signer.address)).balance;
    if (balance < message.valueNano + WALLET_FEE_ESTIMATE_NANO) throw new CocoonError('wallet_balance_low', `the wallet holds ${fromNano(balance)} TON, not enough for ${fromNano(message.valueNano)} TON plus fees`);
    const { hash } = await signer.send([message]);
    for (let i = 0; i < 100; i++) {
      const after = await readProxyData(chain, proxyContract);
      const done = action === 'stake' ? after!.stake > before.stake : action === 'withdraw' ? after!.balance < before.balance : after!.state !== before.state;
      if (done) return { hash };
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new CocoonError('action_refused', `the proxy contract did not apply the ${action}; the attached value came back minus fees`);
  }
}

/**
 * On-chain settlement for the node roles: the proxy signs cumulative counters for its clients'
 * and workers' contracts, and anyone submits them through a wallet. Counters are cumulative
 * weighted tokens computed with pricing.ts, so what the chain charges is `computeCost(totals)`.
 */
import { beginCell, toNano, type Address, type Cell } from '@ton/core';
import type { KeyPair } from '@ton/crypto';
import { weightedTokens, type PricingParams, type TokenCounts } from '../payments/pricing.ts';
import { CocoonError } from '../errors.ts';
import type { Chain, ChainWallet } from './chain.ts';
import { compileAll } from '../../../contracts/compile.ts';
import { readPayload, signPayload, storeSignedMessage, type SignedMessage } from '../../../contracts/wrappers/signing.ts';
import { Client, clientConfigFor, type ClientState } from '../../../contracts/wrappers/Client.ts';
import { Worker, type WorkerState } from '../../../contracts/wrappers/Worker.ts';
import { Proxy } from '../../../contracts/wrappers/Proxy.ts';
import { ContractError, Op } from '../../../contracts/wrappers/protocol.ts';

function contractErrorName(code: number): string {
  const name = Object.entries(ContractError).find(([, v]) => v === code)?.[0];
  return name ? `${name} (exit code ${code})` : `exit code ${code}`;
}

/** Attached to a submitted charge or payout; what the hops do not burn comes back via mode 64. */
export const SETTLEMENT_VALUE = toNano('0.03');

export function cumulativeWeightedTokens(totals: TokenCounts, pricing: PricingParams): bigint {
  for (const [k, v] of Object.entries(totals)) {
    if (!Number.isSafeInteger(v) || v < 0) throw new CocoonError('bad_token_count', `token count ${k} must be a non-negative integer, got ${v}`);
  }
  return BigInt(weightedTokens(totals, pricing.multipliers));
}

export function signCharge(clientContract: Address, totals: TokenCounts, pricing: PricingParams, proxyKey: KeyPair): SignedMessage {
  return signPayload({ tag: 'charge', target: clientContract, cumulativeTokens: cumulativeWeightedTokens(totals, pricing) }, proxyKey.secretKey);
}

export function signClientClose(clientContract: Address, totals: TokenCounts, pricing: PricingParams, proxyKey: KeyPair): SignedMessage {
  return signPayload({ tag: 'closeClient', target: clientContract, cumulativeTokens: cumulativeWeightedTokens(totals, pricing) }, proxyKey.secretKey);
}

export function signPayout(workerContract: Address, totals: TokenCounts, pricing: PricingParams, proxyKey: KeyPair): SignedMessage {
  return signPayload({ tag: 'payout', target: workerContract, cumulativeTokens: cumulativeWeightedTokens(totals, pricing) }, proxyKey.secretKey);
}

/** The client contract of `owner` at `proxy` (deployed or not): its address depends only on these. */
export async function clientContractFor(chain: Chain, proxy: Address, owner: Address): Promise<Client> {
  const opened = chain.open(Proxy.createFromAddress(proxy));
  const [state, params] = await Promise.all([opened.getState(), opened.getParams()]);
  const codes = await compileAll();
  return Client.createFromConfig(clientConfigFor(proxy, owner, state.publicKey, params), codes.client);
}

export async function workerContractFor(chain: Chain, proxy: Address, owner: Address): Promise<Worker> {
  const opened = chain.open(Proxy.createFromAddress(proxy));
  const [state, params] = await Promise.all([opened.getState(), opened.getParams()]);
  const codes = await compileAll();
  return Worker.createFromConfig({ proxy, owner, proxyPublicKey: state.publicKey, workerFeePerToken: params.workerFeePerToken }, codes.worker);
}

async function submit<S>(
  chain: Chain, wallet: ChainWallet, to: Address, body: Cell, readCounter: () => Promise<S>, counterOf: (s: S) => bigint, target: bigint,
): Promise<S> {
  const before = await chain.getAccount(to);
  await wallet.sendAndWait([{ to, value: SETTLEMENT_VALUE, body }]);
  const tx = await chain.waitForTransaction(to, {
    afterLt: before.lastTransaction?.lt ?? 0n,
    predicate: (t) => t.inMessage?.info.src?.toString() === wallet.address.toString(),
  });
  const d = tx.description;
  const exitCode = d.type === 'generic' && d.computePhase.type === 'vm' ? d.computePhase.exitCode : undefined;
  const ok = d.type === 'generic' && !d.aborted && d.computePhase.type === 'vm' && d.computePhase.success;
  const state = await readCounter();
  if (!ok || counterOf(state) !== target) {
    const reason = exitCode !== undefined ? contractErrorName(exitCode) : 'not executed';
    throw new CocoonError('settlement_rejected', `the contract at ${to.toString()} refused the signed counter ${target}: ${reason} (it holds ${counterOf(state)})`, {
      hint: 'a same-or-older counter, a wrong key, or a closed contract; read its state with the wrapper',
    });
  }
  return state;
}

/** Submits a proxy-signed charge to a client contract and waits until it is applied. */
export async function submitCharge(chain: Chain, wallet: ChainWallet, client: Address, signed: SignedMessage): Promise<ClientState> {
  const body = beginCell().storeUint(Op.clientCharge, 32).store(storeSignedMessage(signed)).endCell();
  const opened = chain.open(Client.createFromAddress(client));
  return submit(chain, wallet, client, body, () => opened.getState(), (s) => s.chargedTokens, readPayload(signed.payload).cumulativeTokens);
}

/** Submits a proxy-signed payout to a worker contract and waits until its counter moved. */
export async function submitPayout(chain: Chain, wallet: ChainWallet, worker: Address, signed: SignedMessage): Promise<WorkerState> {
  const body = beginCell().storeUint(Op.workerPayout, 32).store(storeSignedMessage(signed)).endCell();
  const opened = chain.open(Worker.createFromAddress(worker));
  return submit(chain, wallet, worker, body, () => opened.getState(), (s) => s.paidTokens, readPayload(signed.payload).cumulativeTokens);
}

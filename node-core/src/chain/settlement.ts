/**
 * On-chain settlement, for the proxy's ledger and the parties it pays. Counters are cumulative
 * adjusted tokens (pricing.ts `chainTokens`): a client pays `tokens × pricePerToken`, a worker is
 * paid `tokens × workerFeePerToken`. The proxy signs with its key (contracts/wrappers/signing.ts,
 * the reference's sign_and_wrap_message layout); anyone submits through a wallet.
 */
import { toNano, type Address, type Cell } from '@ton/core';
import type { KeyPair } from '@ton/crypto';
import { CocoonError } from '../errors.ts';
import type { Chain, ChainWallet } from './chain.ts';
import { compileAll } from '../../../contracts/compile.ts';
import { signTokenMessage, verifyTokenMessage } from '../../../contracts/wrappers/signing.ts';
import { Client, type ClientData } from '../../../contracts/wrappers/Client.ts';
import { Worker, type WorkerData } from '../../../contracts/wrappers/Worker.ts';
import { Proxy, clientContractOf, workerContractOf } from '../../../contracts/wrappers/Proxy.ts';
import { ContractError, parseSignedTokenMessage, repackSigned } from '../../../contracts/wrappers/protocol.ts';

function contractErrorName(code: number): string {
  const name = Object.entries(ContractError).find(([, v]) => v === code)?.[0];
  return name ? `${name} (exit code ${code})` : `exit code ${code}`;
}

/** Attached to a submitted charge or payout; the unspent part returns to the submitter. */
export const SETTLEMENT_VALUE = toNano('0.15');

/** Proxy side: a signed cumulative charge for a client contract (wrapped body, BOC-ready). */
export function signCharge(clientContract: Address, tokens: bigint, proxyKey: KeyPair, sendExcessesTo: Address | null = null): Cell {
  return signTokenMessage({ op: 'extClientChargeSigned', tokens, target: clientContract, secretKey: proxyKey.secretKey, sendExcessesTo });
}

/** Proxy side: the final counter that closes a client contract and refunds the rest. */
export function signClientRefund(clientContract: Address, tokens: bigint, proxyKey: KeyPair, sendExcessesTo: Address | null = null): Cell {
  return signTokenMessage({ op: 'extClientGrantRefundSigned', tokens, target: clientContract, secretKey: proxyKey.secretKey, sendExcessesTo });
}

/** Proxy side: a signed cumulative payout for a worker contract. */
export function signPayout(workerContract: Address, tokens: bigint, proxyKey: KeyPair, sendExcessesTo: Address | null = null): Cell {
  return signTokenMessage({ op: 'extWorkerPayoutRequestSigned', tokens, target: workerContract, secretKey: proxyKey.secretKey, sendExcessesTo });
}

/** Client / worker side: checks a signed message received from the proxy; returns its counter. */
export function checkCharge(body: Cell, clientContract: Address, proxyPublicKey: Buffer): bigint {
  return verifyTokenMessage(body, { op: 'extClientChargeSigned', target: clientContract, proxyPublicKey }).tokens;
}
export function checkPayout(body: Cell, workerContract: Address, proxyPublicKey: Buffer): bigint {
  return verifyTokenMessage(body, { op: 'extWorkerPayoutRequestSigned', target: workerContract, proxyPublicKey }).tokens;
}

/** The client contract of `owner` at `proxy` (deployed or not), derived from the proxy's data. */
export async function clientContractFor(chain: Chain, proxy: Address, owner: Address): Promise<Client> {
  const d = await chain.open(Proxy.createFromAddress(proxy)).getData();
  const clientCode = d.codes.client ?? (await compileAll()).client;
  return clientContractOf({ owner, proxy, proxyPublicKey: d.publicKey, params: d.params, clientCode });
}

export async function workerContractFor(chain: Chain, proxy: Address, owner: Address): Promise<Worker> {
  const d = await chain.open(Proxy.createFromAddress(proxy)).getData();
  const workerCode = d.codes.worker ?? (await compileAll()).worker;
  return workerContractOf({ owner, proxy, proxyPublicKey: d.publicKey, params: d.params, workerCode });
}

async function submit<S>(chain: Chain, wallet: ChainWallet, to: Address, body: Cell, read: () => Promise<S>, done: (s: S) => boolean, what: string): Promise<S> {
  const before = await chain.getAccount(to);
  await wallet.sendAndWait([{ to, value: SETTLEMENT_VALUE, body }]);
  const tx = await chain.waitForTransaction(to, {
    afterLt: before.lastTransaction?.lt ?? 0n,
    predicate: (t) => t.inMessage?.info.src?.toString() === wallet.address.toString(),
  });
  const d = tx.description;
  const exitCode = d.type === 'generic' && d.computePhase.type === 'vm' ? d.computePhase.exitCode : undefined;
  const ok = d.type === 'generic' && !d.aborted && d.computePhase.type === 'vm' && d.computePhase.success;
  if (!ok) {
    throw new CocoonError('settlement_rejected', `the contract at ${to.toString()} refused ${what}: ${exitCode !== undefined ? contractErrorName(exitCode) : 'not executed'}`, {
      hint: 'a same-or-older counter, a wrong key or target, not enough balance, or a closed contract',
    });
  }
  for (let i = 0; i < 100; i++) {
    const s = await read();
    if (done(s)) return s;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new CocoonError('settlement_unconfirmed', `${what} was accepted by ${to.toString()} but its effect did not show in time`);
}

/**
 * Submits a signed charge (as received from the proxy; re-wrapped so the excess returns to this
 * wallet) and waits until the client contract applied it. A charge the balance cannot fully
 * cover moves the counter only as far as the balance pays.
 */
export async function submitCharge(chain: Chain, wallet: ChainWallet, signed: Cell): Promise<ClientData> {
  const m = parseSignedTokenMessage(signed);
  const client = chain.open(Client.createFromAddress(m.target));
  const before = (await client.getData()).tokensUsed;
  return submit(chain, wallet, m.target, repackSigned(signed, wallet.address), () => client.getData(), (s) => s.tokensUsed > before, `the signed charge ${m.tokens}`);
}

/** Submits a signed payout and waits until the worker contract's paid counter reached it. */
export async function submitPayout(chain: Chain, wallet: ChainWallet, signed: Cell): Promise<WorkerData> {
  const m = parseSignedTokenMessage(signed);
  const worker = chain.open(Worker.createFromAddress(m.target));
  return submit(chain, wallet, m.target, repackSigned(signed, wallet.address), () => worker.getData(),
    (s) => s.tokens >= m.tokens || (s.pendingTokens === 0n && s.tokens < m.tokens && false), `the signed payout ${m.tokens}`);
}

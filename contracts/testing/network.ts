/**
 * A complete Cocoon deployment inside a fresh @ton/sandbox: root, one proxy, one client and one
 * worker contract with their owners, deployed the way the reference node software does it
 * (addresses from the codes the root holds). Used by the contract tests and `cocoon contracts gas`.
 */
import { Blockchain, type SandboxContract, type TreasuryContract, type SendMessageResult } from '@ton/sandbox';
import { toNano, type Address, type Cell, type Transaction } from '@ton/core';
import { keyPairFromSeed, type KeyPair } from '@ton/crypto';
import { createHash } from 'node:crypto';
import { compileAll, type ContractCodes } from '../compile.ts';
import { Root, DEFAULT_ROOT_PARAMS, type RootParams } from '../wrappers/Root.ts';
import { Proxy, clientContractOf, workerContractOf } from '../wrappers/Proxy.ts';
import type { Client } from '../wrappers/Client.ts';
import type { Worker } from '../wrappers/Worker.ts';
import { signTokenMessage } from '../wrappers/signing.ts';
import type { TokenSignedOp } from '../wrappers/protocol.ts';

export interface SandboxNetwork {
  blockchain: Blockchain;
  codes: ContractCodes;
  params: RootParams;
  rootOwner: SandboxContract<TreasuryContract>;
  proxyOwner: SandboxContract<TreasuryContract>;
  clientOwner: SandboxContract<TreasuryContract>;
  workerOwner: SandboxContract<TreasuryContract>;
  /** The proxy node's wallet: submits signed messages, receives excesses. */
  proxyWallet: SandboxContract<TreasuryContract>;
  proxyKey: KeyPair;
  root: SandboxContract<Root>;
  proxy: SandboxContract<Proxy>;
  client: SandboxContract<Client>;
  worker: SandboxContract<Worker>;
  deployments: Record<'root' | 'proxy' | 'client' | 'worker', SendMessageResult>;
  /** Proxy-signed token message for a contract, wrapped with the proxy wallet as excess address. */
  sign(op: TokenSignedOp, target: Address, tokens: bigint, key?: KeyPair): Cell;
}

export function deterministicKeyPair(label: string): KeyPair {
  return keyPairFromSeed(createHash('sha256').update(label).digest());
}

export const OP_VALUE = toNano('0.2');
export const DEPLOY_VALUE = toNano('0.8');

export async function deployNetwork(opts: { params?: Partial<RootParams>; proxyStake?: bigint; clientTopUp?: bigint; blockchain?: Blockchain } = {}): Promise<SandboxNetwork> {
  const codes = await compileAll();
  const params: RootParams = { ...DEFAULT_ROOT_PARAMS, uniqueId: 4242, ...opts.params };
  const blockchain = opts.blockchain ?? (await Blockchain.create());
  const rootOwner = await blockchain.treasury('root-owner');
  const proxyOwner = await blockchain.treasury('proxy-owner');
  const clientOwner = await blockchain.treasury('client-owner');
  const workerOwner = await blockchain.treasury('worker-owner');
  const proxyWallet = await blockchain.treasury('proxy-wallet');
  const proxyKey = deterministicKeyPair('cocoon test proxy key');

  const root = blockchain.openContract(Root.createFromConfig({ owner: rootOwner.address, params, codes }, codes.root));
  const rootDeploy = await root.sendDeploy(rootOwner.getSender(), DEPLOY_VALUE);

  const proxy = blockchain.openContract(Proxy.createFromConfig({
    owner: proxyOwner.address, publicKey: proxyKey.publicKey, root: root.address, params, workerCode: codes.worker, clientCode: codes.client,
  }, codes.proxy));
  const proxyDeploy = await proxy.sendDeploy(proxyOwner.getSender(), DEPLOY_VALUE);
  const stake = opts.proxyStake ?? params.minProxyStake;
  if (stake > 0n) await proxy.sendIncreaseStake(proxyOwner.getSender(), { value: stake + OP_VALUE, amount: stake });

  const party = { proxy: proxy.address, proxyPublicKey: proxyKey.publicKey, params };
  const client = blockchain.openContract(clientContractOf({ ...party, owner: clientOwner.address, clientCode: codes.client }));
  const clientDeploy = await client.sendDeploy(clientOwner.getSender(), DEPLOY_VALUE);
  const topUp = opts.clientTopUp ?? params.minClientStake;
  if (topUp > 0n) await client.sendTopUp(clientOwner.getSender(), { value: topUp + OP_VALUE, amount: topUp });

  const worker = blockchain.openContract(workerContractOf({ ...party, owner: workerOwner.address, workerCode: codes.worker }));
  const workerDeploy = await worker.sendDeploy(workerOwner.getSender(), DEPLOY_VALUE);

  return {
    blockchain, codes, params, rootOwner, proxyOwner, clientOwner, workerOwner, proxyWallet, proxyKey, root, proxy, client, worker,
    deployments: { root: rootDeploy, proxy: proxyDeploy, client: clientDeploy, worker: workerDeploy },
    sign: (op, target, tokens, key = proxyKey) => signTokenMessage({ op, tokens, target, secretKey: key.secretKey, sendExcessesTo: proxyWallet.address }),
  };
}

/** Sum of every fee paid by the transactions of one operation (all hops), nanoTON. */
export function totalFees(result: { transactions: Transaction[] }): bigint {
  return result.transactions.reduce((sum, tx) => sum + tx.totalFees.coins, 0n);
}

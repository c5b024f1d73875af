/**
 * A complete Cocoon deployment inside a fresh @ton/sandbox: root, one proxy, one client and one
 * worker contract with their owners. Used by the contract tests and by `cocoon contracts gas`.
 */
import { Blockchain, type SandboxContract, type TreasuryContract, type SendMessageResult } from '@ton/sandbox';
import { toNano, type Address, type Transaction } from '@ton/core';
import { keyPairFromSeed, type KeyPair } from '@ton/crypto';
import { createHash } from 'node:crypto';
import { compileAll, type ContractCodes } from '../compile.ts';
import { Root, DEFAULT_ROOT_PARAMS, type RootParams } from '../wrappers/Root.ts';
import { Proxy } from '../wrappers/Proxy.ts';
import { Client, clientConfigFor } from '../wrappers/Client.ts';
import { Worker } from '../wrappers/Worker.ts';
import { signPayload, type SignedMessage, type SignedTagName } from '../wrappers/signing.ts';

export interface SandboxNetwork {
  blockchain: Blockchain;
  codes: ContractCodes;
  params: RootParams;
  rootOwner: SandboxContract<TreasuryContract>;
  proxyOwner: SandboxContract<TreasuryContract>;
  clientOwner: SandboxContract<TreasuryContract>;
  workerOwner: SandboxContract<TreasuryContract>;
  proxyKey: KeyPair;
  root: SandboxContract<Root>;
  proxy: SandboxContract<Proxy>;
  client: SandboxContract<Client>;
  worker: SandboxContract<Worker>;
  /** Deploy results, for gas accounting. */
  deployments: Record<'root' | 'proxy' | 'client' | 'worker', SendMessageResult>;
  sign(tag: SignedTagName, target: Address, cumulativeTokens: bigint, key?: KeyPair): SignedMessage;
}

export function deterministicKeyPair(label: string): KeyPair {
  return keyPairFromSeed(createHash('sha256').update(label).digest());
}

export const CLIENT_STAKE = toNano('15');
export const PROXY_STAKE = toNano('15');

export async function deployNetwork(opts: { params?: RootParams; proxyStake?: bigint; clientStake?: bigint } = {}): Promise<SandboxNetwork> {
  const codes = await compileAll();
  const params = opts.params ?? DEFAULT_ROOT_PARAMS;
  const blockchain = await Blockchain.create();
  const rootOwner = await blockchain.treasury('root-owner');
  const proxyOwner = await blockchain.treasury('proxy-owner');
  const clientOwner = await blockchain.treasury('client-owner');
  const workerOwner = await blockchain.treasury('worker-owner');
  const proxyKey = deterministicKeyPair('cocoon test proxy key');

  const root = blockchain.openContract(Root.createFromConfig({ owner: rootOwner.address, params }, codes.root));
  const rootDeploy = await root.sendDeploy(rootOwner.getSender(), toNano('0.5'));

  const proxy = blockchain.openContract(Proxy.createFromConfig({
    owner: proxyOwner.address, publicKey: proxyKey.publicKey, root: root.address, params,
    clientCode: codes.client, workerCode: codes.worker,
  }, codes.proxy));
  const proxyDeploy = await proxy.sendDeploy(proxyOwner.getSender(), opts.proxyStake ?? PROXY_STAKE + toNano('0.1'));

  const client = blockchain.openContract(Client.createFromConfig(
    clientConfigFor(proxy.address, clientOwner.address, proxyKey.publicKey, params), codes.client));
  const clientDeploy = await client.sendDeploy(clientOwner.getSender(), opts.clientStake ?? CLIENT_STAKE + toNano('0.1'));

  const worker = blockchain.openContract(Worker.createFromConfig({
    proxy: proxy.address, owner: workerOwner.address, proxyPublicKey: proxyKey.publicKey, workerFeePerToken: params.workerFeePerToken,
  }, codes.worker));
  const workerDeploy = await worker.sendDeploy(workerOwner.getSender(), toNano('0.05'));

  return {
    blockchain, codes, params, rootOwner, proxyOwner, clientOwner, workerOwner, proxyKey, root, proxy, client, worker,
    deployments: { root: rootDeploy, proxy: proxyDeploy, client: clientDeploy, worker: workerDeploy },
    sign: (tag, target, cumulativeTokens, key = proxyKey) => signPayload({ tag, target, cumulativeTokens }, key.secretKey),
  };
}

/** Sum of every fee paid by the transactions of one operation (all hops), nanoTON. */
export function totalFees(result: { transactions: Transaction[] }): bigint {
  return result.transactions.reduce((sum, tx) => sum + tx.totalFees.coins, 0n);
}

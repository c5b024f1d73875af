/**
 * Test fixture on the embedded local chain: a proxy contract keyed by the dev `proxy` wallet, a
 * client contract with a stake and a balance, a worker contract, and a proxy ledger whose counters
 * are signed with the proxy key — what a running proxy would have after serving some answers.
 */
import { Address, beginCell, toNano } from '@ton/core';
import { mnemonicToPrivateKey, type KeyPair } from '@ton/crypto';
import type { LocalChain } from '../../chain/local/local-chain.ts';
import { Chain, type ChainWallet } from '../../chain/chain.ts';
import { clientContractFor, workerContractFor } from '../../chain/settlement.ts';
import { deployProxy } from '../../chain/deploy.ts';
import { DEPLOY_VALUE } from '../../chain/deploy.ts';
import { Body } from '../../../../contracts/wrappers/protocol.ts';
import { pricingOf } from '../../../../contracts/wrappers/Root.ts';
import { readRootData } from '../../chain/contract-state.ts';
import type { Client } from '../../../../contracts/wrappers/Client.ts';
import type { Worker } from '../../../../contracts/wrappers/Worker.ts';
import type { PricingParams } from '../pricing.ts';
import type { ProxyLedger } from '../proxy-ledger.ts';
import { ProxyPaymentSigner, signLatest } from '../signed-payments.ts';

export interface LocalContracts {
  chain: Chain;
  proxyWallet: ChainWallet;
  proxyKey: KeyPair;
  proxy: Address;
  client: Client;
  worker: Worker;
  pricing: PricingParams;
}

export async function deployLocalContracts(local: LocalChain): Promise<LocalContracts> {
  const chain = new Chain({ network: 'local', endpoint: local.endpoint });
  const [proxyW, clientW, workerW] = await Promise.all([1, 2, 3].map((i) => chain.wallet(local.wallets[i]!.mnemonic)));
  const proxyKey = await mnemonicToPrivateKey(local.wallets[1]!.mnemonic);
  const root = Address.parse(local.rootAddress);
  const { address: proxy } = await deployProxy(chain, proxyW!, { root, publicKey: proxyKey.publicKey });
  const pricing = pricingOf((await readRootData(chain.config, root)).params);
  const client = await clientContractFor(chain, proxy, clientW!.address);
  // As the reference opens a client: deploy with an empty body, then top up (the root's minimum stake stays locked).
  await clientW!.sendAndWait([
    { to: client.address, value: DEPLOY_VALUE, init: client.init, body: beginCell().endCell() },
    { to: client.address, value: toNano('18.2'), body: Body.clientTopUp(1n, toNano('18'), clientW!.address) },
  ]);
  const worker = await workerContractFor(chain, proxy, workerW!.address);
  await workerW!.sendAndWait([{ to: worker.address, value: DEPLOY_VALUE, init: worker.init, body: beginCell().endCell() }]);
  return { chain, proxyWallet: proxyW!, proxyKey, proxy, client, worker, pricing };
}

/** Signs the ledger's current counter for a contract with the proxy key and keeps it in the ledger. */
export function signLedgerCounter(ledger: ProxyLedger, key: KeyPair, party: 'client' | 'worker', contract: Address): void {
  signLatest(ledger, new ProxyPaymentSigner(key), party, contract.toString());
}

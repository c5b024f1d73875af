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
import { deployProxy } from '../../../../contracts/deploy.ts';
import { Op } from '../../../../contracts/wrappers/protocol.ts';
import { pricingOf, Root } from '../../../../contracts/wrappers/Root.ts';
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
  const pricing = pricingOf(await chain.open(Root.createFromAddress(root)).getParams());
  const client = await clientContractFor(chain, proxy, clientW!.address);
  await clientW!.sendAndWait([{ to: client.address, value: toNano('16'), init: client.init, body: beginCell().storeUint(Op.clientIncreaseStake, 32).endCell() }]);
  await clientW!.sendAndWait([{ to: client.address, value: toNano('2'), body: beginCell().storeUint(Op.clientTopUp, 32).endCell() }]);
  const worker = await workerContractFor(chain, proxy, workerW!.address);
  await workerW!.sendAndWait([{ to: worker.address, value: toNano('0.05'), init: worker.init }]);
  return { chain, proxyWallet: proxyW!, proxyKey, proxy, client, worker, pricing };
}

/** Signs the ledger's current counter for a contract with the proxy key and keeps it in the ledger. */
export function signLedgerCounter(ledger: ProxyLedger, key: KeyPair, party: 'client' | 'worker', contract: Address): void {
  signLatest(ledger, new ProxyPaymentSigner(key), party, contract.toString());
}

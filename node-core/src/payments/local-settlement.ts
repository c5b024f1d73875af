/**
 * Settlement for the local network on the embedded chain (`cocoon up`, the app, tests): the
 * development wallets play the proxy operator, the client owner and the worker owner. Everything
 * is the production code path — ledger, signed messages, contracts, scheduler — with development
 * choices made loudly here: the proxy contract and its key are kept beside the chain state, the
 * client contract is opened with the root's minimum stake, and the thresholds are low
 * (LOCAL_DEV_SETTLEMENT_POLICY) so a few requests settle within seconds. Local chain only.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Address, beginCell } from '@ton/core';
import { Chain } from '../chain/chain.ts';
import { readRootData, readWorkerData } from '../chain/contract-state.ts';
import { clientContractFor, workerContractFor } from '../chain/settlement.ts';
import { DEPLOY_VALUE } from '../chain/deploy.ts';
import { pricingOf } from '../../../contracts/wrappers/Root.ts';
import { CocoonError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { ClientAccount, localProxyContract } from './client-account.ts';
import { LedgerProxySettlement } from './proxy-settlement.ts';
import { StoreClientSettlement, StoreWorkerSettlement } from './party-settlement.ts';
import { DEFAULT_SETTLEMENT_POLICY, LOCAL_DEV_SETTLEMENT_POLICY, type SettlementPolicy } from './settlement-scheduler.ts';
import { PAYMENT_FILES } from './payment-files.ts';

export interface LocalSettlementOptions {
  endpoint: string;
  rootAddress: string;
  chainDataDir: string;
  /** Where the roles' stores go: <dataDir>/local-proxy, local-client, local-worker-N. */
  dataDir: string;
  workers: number;
  /** Open the client contract with the minimum stake when it is not open (default true; the app opens it itself). */
  openClientContract?: boolean;
  policy?: SettlementPolicy;
  /** How long the proxy waits for a client's register transaction (default 300 s, as the reference). */
  registrationTimeoutMs?: number;
  log: Logger;
}

export interface LocalSettlement {
  proxy: LedgerProxySettlement;
  client: StoreClientSettlement;
  workers: StoreWorkerSettlement[];
  contracts: { proxy: string; client: string; worker: string };
  dirs: { proxy: string; client: string; workers: string[] };
  stop(opts?: { flush?: boolean }): Promise<void>;
}

export async function startLocalSettlement(o: LocalSettlementOptions): Promise<LocalSettlement> {
  const log = o.log;
  const chain = new Chain({ network: 'local', endpoint: o.endpoint, rootAddress: o.rootAddress });
  if (chain.config.network !== 'local') throw new CocoonError('not_local', 'local settlement runs on the embedded chain only');
  const stored = JSON.parse(readFileSync(join(o.chainDataDir, 'wallets.json'), 'utf8')) as Array<{ name: string; mnemonic: string[] }>;
  const wallet = (name: string) => {
    const w = stored.find((x) => x.name === name);
    if (!w) throw new CocoonError('dev_wallet_missing', `the local chain has no "${name}" development wallet`);
    return chain.wallet(w.mnemonic);
  };
  const [proxyW, clientW, workerW] = await Promise.all([wallet('proxy'), wallet('client'), wallet('worker')]);
  const root = Address.parse(o.rootAddress);
  const { address: proxyContract, key: proxyKey } = await localProxyContract(chain, o.chainDataDir, root, proxyW);
  const { params } = await readRootData(chain.config, root);
  const pricing = pricingOf(params);

  const client = await clientContractFor(chain, proxyContract, clientW.address);
  if (o.openClientContract ?? true) {
    const account = await ClientAccount.openLocal({ endpoint: o.endpoint, rootAddress: o.rootAddress, chainDataDir: o.chainDataDir });
    const st = await account.state();
    if (!st.deployed) {
      log.warn({ contract: client.address.toString(), stakeNano: params.minClientStake.toString() }, 'DEVELOPMENT: opening the dev client contract with the minimum stake');
      await account.stake(params.minClientStake);
    }
  }
  const worker = await workerContractFor(chain, proxyContract, workerW.address);
  if (!(await readWorkerData(chain, worker.address))) {
    await workerW.sendAndWait([{ to: worker.address, value: DEPLOY_VALUE, init: worker.init, body: beginCell().endCell() }]);
    for (let i = 0; i < 50 && !(await readWorkerData(chain, worker.address)); i++) await new Promise((r) => setTimeout(r, 100));
  }

  const dir = (name: string) => {
    const d = join(o.dataDir, name);
    mkdirSync(d, { recursive: true });
    return d;
  };
  const dirs = { proxy: dir('local-proxy'), client: dir('local-client'), workers: Array.from({ length: o.workers }, (_, i) => dir(`local-worker-${i}`)) };
  const policy = o.policy ?? LOCAL_DEV_SETTLEMENT_POLICY;
  // The proxy submits charges and payouts (it is owed the charges; payouts draw on what they funded).
  // Clients and workers hold their signed messages and submit by the default rules: a client at
  // half its stake, a worker when its payout is worth the fee or a day old.
  const proxy = await LedgerProxySettlement.open({ chain, wallet: proxyW, proxyContract, proxyKey, dataDir: dirs.proxy, policy, log: log.child({ role: 'proxy-settlement' }),
    ...(o.registrationTimeoutMs !== undefined && { registrationTimeoutMs: o.registrationTimeoutMs, lateRegistrationWaitMs: Math.min(o.registrationTimeoutMs, 20_000) }) });
  const binding = (own: Address) => [{ proxyContract: proxyContract.toString(), ownContract: own.toString(), proxyPublicKey: proxyKey.publicKey }];
  const clientS = StoreClientSettlement.open({
    ownerAddress: clientW.address.toString(), isTest: params.isTest, path: join(dirs.client, PAYMENT_FILES.client), pricing,
    proxies: binding(client.address), chain, wallet: clientW, policy: DEFAULT_SETTLEMENT_POLICY, log: log.child({ role: 'client-settlement' }),
  });
  // Short authorization when the client contract already holds this client's secret hash (a restart).
  if (o.openClientContract !== false) await clientS.enableShortAuth().catch(() => false);
  const workers = dirs.workers.map((d, i) => StoreWorkerSettlement.open({
    ownerAddress: workerW.address.toString(), isTest: params.isTest, path: join(d, PAYMENT_FILES.worker), pricing,
    proxies: binding(worker.address), chain, wallet: workerW, policy: DEFAULT_SETTLEMENT_POLICY, log: log.child({ role: 'worker-settlement', worker: i }),
  }));
  return {
    proxy, client: clientS, workers,
    contracts: { proxy: proxyContract.toString(), client: client.address.toString(), worker: worker.address.toString() },
    dirs,
    async stop(opts = {}) {
      // The proxy settles what is outstanding; the parties only close their stores (their messages stay for later).
      await proxy.close({ flush: opts.flush ?? true }).catch((err) => log.warn({ err: String(err) }, 'proxy settlement stop failed'));
      await clientS.close({ flush: false }).catch(() => undefined);
      for (const w of workers) await w.close({ flush: false }).catch(() => undefined);
    },
  };
}

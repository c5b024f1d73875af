/**
 * Reading Cocoon contracts' state on any network (embedded chain, testnet, mainnet) by parsing
 * their data cells with the one set of parsers in contracts/wrappers/protocol.ts — the layouts the
 * reference node software reads, so the same code reads our contracts and the live network's.
 */
import { Cell, type Address } from '@ton/core';
import { CocoonError } from '../errors.ts';
import { Chain } from './chain.ts';
import type { ChainConfig } from './config.ts';
import {
  parseClientData, parseProxyData, parseRootData, parseWorkerData, type ClientData, type ProxyData, type RootData, type WorkerData,
} from '../../../contracts/wrappers/protocol.ts';

export type { ClientData, ProxyData, RootData, WorkerData };

/** The data cell of an active contract, or null when it is not deployed (yet / any more). */
export async function readContractData(chain: Chain, address: Address): Promise<Cell | null> {
  const account = await chain.getAccount(address);
  if (account.state !== 'active' || !account.data) return null;
  return account.data;
}

async function parsed<T>(chain: Chain, address: Address, what: string, parse: (c: Cell) => T): Promise<T | null> {
  const data = await readContractData(chain, address);
  if (!data) return null;
  try {
    return parse(data);
  } catch (err) {
    throw new CocoonError('bad_contract_state', `${address.toString()} is not a Cocoon ${what} contract: ${(err as Error).message}`);
  }
}

export async function readRootData(config: ChainConfig, root: Address): Promise<RootData> {
  const r = await parsed(new Chain(config), root, 'root', parseRootData);
  if (!r) throw new CocoonError('root_not_deployed', `no active root contract at ${root.toString()} on ${config.network}`);
  return r;
}

export const readProxyData = (chain: Chain, a: Address): Promise<ProxyData | null> => parsed(chain, a, 'proxy', parseProxyData);
export const readClientData = (chain: Chain, a: Address): Promise<ClientData | null> => parsed(chain, a, 'client', parseClientData);
export const readWorkerData = (chain: Chain, a: Address): Promise<WorkerData | null> => parsed(chain, a, 'worker', parseWorkerData);

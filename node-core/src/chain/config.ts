/**
 * Which TON network node-core talks to. Explicit configuration wins (environment variables);
 * with none, the local chain announced by `cocoon chain up` / `cocoon up` is used.
 *
 *   COCOON_NETWORK        mainnet | testnet | local
 *   COCOON_TON_ENDPOINT   TON HTTP API v2 JSON-RPC URL (defaults per network below)
 *   COCOON_TON_API_KEY    API key for that endpoint (optional)
 *   COCOON_ROOT_ADDRESS   address of the Cocoon root contract on that network
 */
import { Address } from '@ton/core';
import { CocoonError } from '../errors.ts';
import { localChainStateFile, readAnnouncement } from './state-file.ts';

export const NETWORKS = ['mainnet', 'testnet', 'local'] as const;
export type NetworkName = (typeof NETWORKS)[number];

export const DEFAULT_ENDPOINTS: Record<Exclude<NetworkName, 'local'>, string> = {
  mainnet: 'https://toncenter.com/api/v2/jsonRPC',
  testnet: 'https://testnet.toncenter.com/api/v2/jsonRPC',
};

/**
 * The live network's root contract, as the reference distribution publishes it: the setting is
 * `root_contract_address` in its worker.conf.example / cocoon-launch configs (its chain access
 * is a tonlib `ton_config`, e.g. https://cocoon.org/resources/mainnet.cocoon.global.config.json;
 * we reach the same chain through a TON HTTP API endpoint). No testnet root is published: testnet
 * needs COCOON_ROOT_ADDRESS.
 */
export const PUBLISHED_ROOT_CONTRACT_ADDRESS: Partial<Record<Exclude<NetworkName, 'local'>, string>> = {
  mainnet: 'EQCns7bYSp0igFvS1wpb5wsZjCKCV19MD5AVzI4EyxsnU73k',
};

export interface ChainConfig {
  network: NetworkName;
  endpoint: string;
  apiKey?: string;
  rootAddress?: string;
  timeoutMs?: number;
}

function checkEndpoint(url: string, source: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new CocoonError('bad_chain_config', `${source} is not a URL: "${url}"`, { hint: 'e.g. http://127.0.0.1:8081/jsonRPC' });
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new CocoonError('bad_chain_config', `${source} must be http(s), got ${u.protocol}`);
  }
  return url;
}

function checkAddress(a: string | undefined, source: string): string | undefined {
  if (a === undefined || a === '') return undefined;
  try {
    Address.parse(a);
  } catch {
    throw new CocoonError('bad_chain_config', `${source} is not a TON address: "${a}"`);
  }
  return a;
}

export function resolveChainConfig(env: NodeJS.ProcessEnv = process.env): ChainConfig {
  const network = env.COCOON_NETWORK;
  if (network !== undefined && network !== '' && !(NETWORKS as readonly string[]).includes(network)) {
    throw new CocoonError('bad_chain_config', `COCOON_NETWORK must be one of ${NETWORKS.join(', ')}, got "${network}"`);
  }
  const rootAddress = checkAddress(env.COCOON_ROOT_ADDRESS, 'COCOON_ROOT_ADDRESS');
  const apiKey = env.COCOON_TON_API_KEY || undefined;
  if (env.COCOON_TON_ENDPOINT) {
    const net = (network as NetworkName | undefined) || 'mainnet';
    return {
      network: net,
      endpoint: checkEndpoint(env.COCOON_TON_ENDPOINT, 'COCOON_TON_ENDPOINT'),
      apiKey, rootAddress: rootAddress ?? (net === 'local' ? undefined : PUBLISHED_ROOT_CONTRACT_ADDRESS[net]),
    };
  }
  if (network === 'mainnet' || network === 'testnet') {
    return { network, endpoint: DEFAULT_ENDPOINTS[network], apiKey, rootAddress: rootAddress ?? PUBLISHED_ROOT_CONTRACT_ADDRESS[network] };
  }
  const stateFile = localChainStateFile(env);
  const announced = readAnnouncement(stateFile);
  if (!announced) {
    throw new CocoonError('no_chain', 'no TON network configured and no local chain is running', {
      hint: `start one with \`cocoon chain up\` (it announces itself in ${stateFile}), or set COCOON_NETWORK / COCOON_TON_ENDPOINT / COCOON_ROOT_ADDRESS`,
    });
  }
  return { network: 'local', endpoint: announced.endpoint, rootAddress: rootAddress ?? announced.rootAddress };
}

import { Address } from '@ton/core';
import type { ChainConfig } from '../chain/config.ts';
import { readRootData, type RootData } from '../chain/contract-state.ts';
import { CocoonError, errorMessage } from '../errors.ts';
import type { Finding } from './findings.ts';

/**
 * The chain endpoint as a worker needs it: reachable, the network it claims, the root contract
 * readable there. Talks plain JSON-RPC first so HTTP statuses (an API key missing or rejected, a
 * rate limit, a wrong path) are told apart before the contract read.
 */

/** Mainnet's zero state (the reference distribution's mainnet global config, `zero_state.root_hash`). */
export const MAINNET_ZERO_STATE_ROOT_HASH = 'F6OpKZKqvqeFp6CQmFomXNMfMj2EnaUSOXN+Mh+wVWk=';

export interface ChainProbe {
  findings: Finding[];
  root: RootData | null;
}

const finding = (id: string, status: Finding['status'], detail: string, fix?: string): Finding => ({ section: 'chain', id, status, detail, ...(fix && { fix }) });

export async function probeChain(config: ChainConfig, timeoutMs = 8000): Promise<ChainProbe> {
  const findings: Finding[] = [];
  const where = `${config.endpoint} (${config.network})`;
  const endpointFix = config.network === 'local'
    ? 'start the local chain (`cocoon chain up` or `cocoon up`), or set network.endpoint to the URL it prints'
    : 'check network.endpoint / COCOON_TON_ENDPOINT (a TON HTTP API v2 URL ending in /jsonRPC, e.g. https://toncenter.com/api/v2/jsonRPC) and this host\'s internet access';
  let res: Response;
  try {
    res = await fetch(config.endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(config.apiKey && { 'x-api-key': config.apiKey }) },
      body: JSON.stringify({ id: 1, jsonrpc: '2.0', method: 'getMasterchainInfo', params: {} }),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const why = cause?.code ?? (err as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : errorMessage(err);
    findings.push(finding('chain-reachable', 'fail', `the chain endpoint ${where} is down or unreachable: ${cause?.code ?? why}`, endpointFix));
    return { findings, root: null };
  }
  const text = await res.text().catch(() => '');
  if (res.status === 401 || res.status === 403) {
    findings.push(config.apiKey
      ? finding('chain-api-key', 'fail', `${where} rejected the API key (HTTP ${res.status})`, 'the key in COCOON_TON_API_KEY is wrong or revoked: get a new one from the endpoint\'s provider (toncenter: @tonapibot) and set it')
      : finding('chain-api-key', 'fail', `${where} needs an API key (HTTP ${res.status})`, 'set COCOON_TON_API_KEY to a key from the endpoint\'s provider (toncenter: @tonapibot)'));
    return { findings, root: null };
  }
  if (res.status === 429) {
    findings.push(finding('chain-api-key', 'fail', `${where} is rate-limiting this host (HTTP 429)${config.apiKey ? '' : ' — no API key is set'}`, config.apiKey ? 'the key\'s rate limit is exhausted: use a higher plan or your own endpoint' : 'set COCOON_TON_API_KEY: without a key public endpoints allow about one request per second'));
    return { findings, root: null };
  }
  let body: { ok?: boolean; result?: { init?: { root_hash?: string } }; error?: string } | null = null;
  try {
    body = JSON.parse(text);
  } catch { /* below */ }
  if (!res.ok || !body?.ok) {
    findings.push(finding('chain-reachable', 'fail', `${where} answered HTTP ${res.status}${body?.error ? `: ${body.error}` : text ? `: ${text.slice(0, 120)}` : ''} — not a TON HTTP API v2 JSON-RPC endpoint`, endpointFix));
    return { findings, root: null };
  }
  findings.push(finding('chain-reachable', 'pass', `${where} answers`));

  const zero = body.result?.init?.root_hash;
  const isMainnet = zero === MAINNET_ZERO_STATE_ROOT_HASH;
  if (config.network === 'mainnet' && zero && !isMainnet) {
    findings.push(finding('chain-network', 'fail', `${config.endpoint} is not mainnet (its zero state is ${zero})`, 'the worker is configured for mainnet: use a mainnet endpoint (https://toncenter.com/api/v2/jsonRPC), or set network.name to the network this endpoint serves'));
  } else if (config.network !== 'mainnet' && isMainnet) {
    findings.push(finding('chain-network', 'fail', `${config.endpoint} serves mainnet, but the worker is configured for ${config.network}`, `use a ${config.network} endpoint, or set network.name to "mainnet"`));
  } else {
    findings.push(finding('chain-network', 'pass', `the endpoint serves ${config.network}${zero ? '' : ' (no zero state reported; not checked further)'}`));
  }

  if (!config.rootAddress) {
    findings.push(finding('chain-root', 'fail', `no root contract address for ${config.network}`, 'set network.rootContract (or COCOON_ROOT_ADDRESS) to the network\'s root contract'));
    return { findings, root: null };
  }
  try {
    const root = await readRootData(config, Address.parse(config.rootAddress));
    findings.push(finding('chain-root', 'pass', `root ${config.rootAddress} readable: version ${root.version}, ${root.proxies.length} proxies, ${root.workerHashes.length} worker images allowed`));
    return { findings, root };
  } catch (err) {
    const notThere = err instanceof CocoonError && err.code === 'root_not_deployed';
    findings.push(finding('chain-root', 'fail', notThere
      ? `there is no contract at ${config.rootAddress} on ${config.network}: a wrong root address, or the address of another network`
      : `the root ${config.rootAddress} is not readable as a Cocoon root: ${errorMessage(err)}`,
    config.network === 'mainnet' ? 'set network.rootContract to the published mainnet root (`cocoon root show --network mainnet` prints it)' : 'copy the root address from `cocoon root show` on the right network'));
    return { findings, root: null };
  }
}

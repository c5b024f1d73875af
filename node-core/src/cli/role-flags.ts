import { join } from 'node:path';
import {
  configfsTsmQuoteProvider, createCollateralCache, createLivePolicy, createPeerVerifier, createPolicy, createRaTlsIdentity,
  fakeQuoteProvider, INTEL_PCS_URL, type AttestationPolicyName, type LivePolicy, type NodeRole, type PeerVerifier, type RaTlsIdentity, type TcbStatus,
} from '../attestation/index.ts';
import type { PolicySpec } from '../attestation/policy.ts';
import { NETWORKS, resolveChainConfig, type ChainConfig, type NetworkName } from '../chain/config.ts';
import { cocoonHome } from '../cocoon-home.ts';
import { CocoonError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { DEV_IMAGE_HASH } from '../network/dev-images.ts';
import { rootAllowlistReader } from '../network/root-config.ts';

/**
 * Flags every role command shares: how it proves itself and whom it accepts.
 *
 * Production is the default: proxies and workers quote with the TDX module (`--quote tdx`) and
 * every role holds its peers to the `tdx` policy, with the root contract's allowlists (read live
 * when COCOON_ROOT_ADDRESS / the network is configured) or `--allow-image`, TCB status from
 * collateral (`--pccs`, Intel PCS by default; `--accept-tcb` to accept more than UpToDate).
 * Development (`--quote fake`, `--policy fake`) and tests (`--policy any`) must be asked for, are
 * logged loudly and are refused on testnet and mainnet. Clients run outside TDs and present a
 * plain certificate (`--quote none`, their default), as the reference's client does.
 */
export const attestationFlags = {
  quote: { type: 'string' },
  policy: { type: 'string' },
  'allow-image': { type: 'string', multiple: true },
  'accept-tcb': { type: 'string', multiple: true },
  pccs: { type: 'string' },
} as const;

export interface AttestationFlagValues {
  quote?: string | undefined;
  policy?: string | undefined;
  'allow-image'?: string[] | undefined;
  'accept-tcb'?: string[] | undefined;
  pccs?: string | undefined;
}

export function parseHostPort(flag: string, value: string | undefined): { host: string; port: number } {
  const m = value && /^([\w.-]+|\[[0-9a-f:]+\]):(\d{1,5})$/i.exec(value);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port < 1 || port > 65535) throw new CocoonError('bad_flag', `--${flag} must be HOST:PORT, got "${value ?? ''}"`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

const DEV_BANNER = 'DEVELOPMENT MODE — NOT CONFIDENTIAL';

export interface RoleAttestation {
  identity: RaTlsIdentity;
  /** The verifier for peers of `role` (the port they reached / the role we dial). */
  verifierFor(role: NodeRole): PeerVerifier;
  /** The live root-contract policy, when one runs. */
  live: LivePolicy | null;
  network: NetworkName;
  policy: AttestationPolicyName;
  development: boolean;
  stop(): void;
}

/** Everything a role needs for attestation, from its flags and the configured network. */
export async function roleAttestation(role: NodeRole, values: AttestationFlagValues, log: Logger, env: NodeJS.ProcessEnv = process.env): Promise<RoleAttestation> {
  // With explicit --allow-image, or in development, a role needs no chain for its allowlist; it
  // then runs on the network COCOON_NETWORK names (default local, where development is allowed).
  let chain: ChainConfig | null = null;
  try {
    chain = resolveChainConfig(env);
  } catch (err) {
    const development = values.policy === 'fake' || values.policy === 'any' || values['allow-image']?.length;
    if (!development || (env.COCOON_NETWORK && !(NETWORKS as readonly string[]).includes(env.COCOON_NETWORK))) throw err;
  }
  const network: NetworkName = chain?.network ?? ((env.COCOON_NETWORK as NetworkName | undefined) ?? 'local');
  const quoteKind = values.quote ?? (role === 'client' ? 'none' : 'tdx');
  if (!['tdx', 'fake', 'none'].includes(quoteKind)) throw new CocoonError('bad_flag', `--quote must be tdx, fake or none, got "${quoteKind}"`);
  if (quoteKind === 'none' && role !== 'client') throw new CocoonError('bad_flag', `a ${role} must be attested: --quote tdx (production) or --quote fake (development)`);
  const policyName = (values.policy ?? 'tdx') as AttestationPolicyName;
  if (!['tdx', 'fake', 'any'].includes(policyName)) throw new CocoonError('bad_flag', `--policy must be tdx, fake or any, got "${values.policy}"`);
  if (quoteKind === 'fake' && network !== 'local') throw new CocoonError('policy_refused', `development quotes (--quote fake) are refused on ${network}`, { hint: 'run inside a TDX guest with --quote tdx' });
  for (const h of values['allow-image'] ?? []) if (!/^[0-9a-f]{64}$/i.test(h)) throw new CocoonError('bad_flag', `--allow-image must be a 64-hex-digit image hash, got "${h}"`);
  const acceptTcb = values['accept-tcb'] as TcbStatus[] | undefined;

  const development = quoteKind === 'fake' || policyName !== 'tdx';
  if (policyName === 'any') log.warn({ banner: DEV_BANNER }, `--policy any accepts EVERY peer without attestation; it exists for tests only (${role})`);
  else if (development) log.warn({ banner: DEV_BANNER, quote: quoteKind, policy: policyName }, `${role} runs in development mode: development quotes prove nothing`);

  const collateral = policyName === 'tdx' ? createCollateralCache({ pccsUrl: values.pccs ?? INTEL_PCS_URL, dir: join(cocoonHome({ env }), 'collateral'), log }) : undefined;
  const spec: Omit<PolicySpec, 'allowedImageHashes'> = { name: policyName, network, ...(acceptTcb && { acceptTcb }), ...(collateral && { collateral }) };
  createPolicy(spec); // refuses fake/any on testnet/mainnet before anything starts

  const provider = quoteKind === 'tdx' ? configfsTsmQuoteProvider() : quoteKind === 'fake' ? fakeQuoteProvider() : null;
  const identity = await createRaTlsIdentity({ provider, role });

  let live: LivePolicy | null = null;
  let verifierFor: (r: NodeRole) => PeerVerifier;
  const flagged = values['allow-image'];
  if (!flagged?.length && chain?.rootAddress) {
    live = await createLivePolicy({ spec, read: rootAllowlistReader({ ...chain, rootAddress: chain.rootAddress }), log });
    verifierFor = (r) => live!.verifierFor(r);
  } else {
    // --allow-image lists the images of the peers this role verifies (proxies for clients and
    // workers, workers for proxies). Development defaults to the development image.
    const allowed = flagged?.length ? flagged : policyName === 'fake' ? [DEV_IMAGE_HASH] : undefined;
    if (policyName === 'tdx' && !allowed) log.warn({ role }, 'no root contract configured (COCOON_ROOT_ADDRESS) and no --allow-image: every attested peer will be refused');
    const verifiers = new Map<NodeRole, PeerVerifier>();
    verifierFor = (r) => {
      if (!verifiers.has(r)) verifiers.set(r, createPeerVerifier(createPolicy({ ...spec, ...(allowed && r !== 'client' && { allowedImageHashes: allowed }) }), { expectedRole: r }));
      return verifiers.get(r)!;
    };
  }
  return {
    identity, verifierFor, live, network, policy: policyName, development,
    stop: () => {
      live?.stop();
      (collateral as { close?: () => void } | undefined)?.close?.();
    },
  };
}

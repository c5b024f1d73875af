import {
  configfsTsmQuoteProvider, createPeerVerifier, createPolicy, createRaTlsIdentity, fakeQuoteProvider,
  type AttestationPolicyName, type PeerVerifier, type RaTlsIdentity,
} from '../attestation/index.ts';
import type { TdMeasurements } from '../attestation/report.ts';
import { CocoonError } from '../errors.ts';

/** Flags every role command shares: how it proves itself and whom it accepts. */
export const attestationFlags = {
  quote: { type: 'string' },
  policy: { type: 'string' },
  'allow-image': { type: 'string', multiple: true },
} as const;

export function parseHostPort(flag: string, value: string | undefined): { host: string; port: number } {
  const m = value && /^([\w.-]+|\[[0-9a-f:]+\]):(\d{1,5})$/i.exec(value);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port < 1 || port > 65535) throw new CocoonError('bad_flag', `--${flag} must be HOST:PORT, got "${value ?? ''}"`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

export async function roleIdentity(quote: string | undefined, role: string, devMeasurements: Partial<TdMeasurements>): Promise<RaTlsIdentity> {
  const kind = quote ?? 'fake';
  if (kind !== 'fake' && kind !== 'tdx') throw new CocoonError('bad_flag', `--quote must be fake or tdx, got "${kind}"`);
  const provider = kind === 'tdx' ? configfsTsmQuoteProvider() : fakeQuoteProvider({ measurements: devMeasurements });
  return createRaTlsIdentity({ provider, claims: { role }, commonName: `cocoon-${role}` });
}

export function roleVerifier(policy: string | undefined, allowImages: string[] | undefined, defaultAllowed: string | undefined): PeerVerifier {
  const name = (policy ?? 'fake') as AttestationPolicyName;
  if (!['tdx', 'fake', 'any'].includes(name)) throw new CocoonError('bad_flag', `--policy must be tdx, fake or any, got "${policy}"`);
  for (const h of allowImages ?? []) if (!/^[0-9a-f]{64}$/i.test(h)) throw new CocoonError('bad_flag', `--allow-image must be a 64-hex-digit image hash, got "${h}"`);
  const allowed = allowImages?.length ? allowImages : defaultAllowed && name === 'fake' ? [defaultAllowed] : undefined;
  return createPeerVerifier(createPolicy({ name, ...(allowed && { allowedImageHashes: allowed }) }));
}

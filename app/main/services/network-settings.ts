import { Address } from '@ton/core';
import { z } from 'zod';
import { CocoonError } from '../../../node-core/src/errors.ts';

/**
 * Which TON network the app runs against, as the Settings screen saves it. Local is the embedded
 * chain (nothing to configure); testnet and mainnet need a TON HTTP API v2 endpoint (https), an
 * optional API key, and the Cocoon root contract's address on that network. A change applies on
 * the next start: the chain layer, the wallet session and the CSP are set up once per run.
 */
export const NETWORKS = ['local', 'testnet', 'mainnet'] as const;
export type NetworkName = (typeof NETWORKS)[number];

export const networkSettingsSchema = z.object({
  name: z.enum(NETWORKS),
  endpoint: z.string().max(2_000).nullable().default(null),
  apiKey: z.string().max(200).nullable().default(null),
  rootAddress: z.string().max(100).nullable().default(null),
  /**
   * Testnet/mainnet: the public https URL of the app's TON Connect manifest, which phone wallets
   * fetch (they cannot reach this machine's loopback). Without one, only wallets on this machine
   * can connect.
   */
  tonConnectManifestUrl: z.string().max(2_000).nullable().optional(),
});
export type NetworkSettings = z.infer<typeof networkSettingsSchema>;

export const LOCAL_NETWORK_SETTINGS: NetworkSettings = { name: 'local', endpoint: null, apiKey: null, rootAddress: null, tonConnectManifestUrl: null };

/** Field → what is wrong with it, in words the Settings screen shows beside the field; empty when valid. */
export function networkSettingsErrors(s: NetworkSettings): Record<string, string> {
  const errors: Record<string, string> = {};
  if (s.name === 'local') return errors;
  if (!s.endpoint) {
    errors.endpoint = `a TON HTTP API endpoint is required for ${s.name}, such as https://${s.name === 'testnet' ? 'testnet.' : ''}toncenter.com/api/v2/jsonRPC`;
  } else {
    let u: URL | null = null;
    try { u = new URL(s.endpoint); } catch { /* reported below */ }
    if (!u) errors.endpoint = 'the endpoint is not a URL';
    else if (u.protocol !== 'https:') errors.endpoint = `the endpoint must use https on ${s.name} (API keys and transactions travel over it)`;
    else if (u.username || u.password) errors.endpoint = 'put the API key in its own field, not in the URL';
  }
  if (s.tonConnectManifestUrl) {
    let m: URL | null = null;
    try { m = new URL(s.tonConnectManifestUrl); } catch { /* reported below */ }
    if (!m || m.protocol !== 'https:' || m.username || m.password) errors.tonConnectManifestUrl = 'the TON Connect manifest URL must be a public https URL (wallets fetch it), such as https://example.org/tonconnect-manifest.json';
  }
  if (s.apiKey !== null && s.apiKey !== '' && !/^[\w-]{8,200}$/.test(s.apiKey)) errors.apiKey = 'the API key has letters, digits, - and _ only (8 or more)';
  if (!s.rootAddress) {
    errors.rootAddress = `the Cocoon root contract address on ${s.name} is required`;
  } else {
    try {
      const parsed = Address.parseFriendly(s.rootAddress);
      if (s.name === 'mainnet' && parsed.isTestOnly) errors.rootAddress = 'this is a testnet-only address; use the mainnet root contract address';
    } catch {
      try {
        Address.parseRaw(s.rootAddress);
      } catch {
        errors.rootAddress = 'not a TON address (user-friendly base64 or raw 0:hex)';
      }
    }
  }
  return errors;
}

/** Parses and checks; throws an Error naming the first bad field. */
export function checkNetworkSettings(input: unknown): NetworkSettings {
  const parsed = networkSettingsSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new CocoonError('bad_network_settings', `network.${issue.path.join('.')}: ${issue.message}`);
  }
  const s = parsed.data.name === 'local' ? { ...LOCAL_NETWORK_SETTINGS } : { ...parsed.data, apiKey: parsed.data.apiKey || null, tonConnectManifestUrl: parsed.data.tonConnectManifestUrl || null };
  const errors = networkSettingsErrors(s);
  const first = Object.entries(errors)[0];
  if (first) throw new CocoonError('bad_network_settings', `network.${first[0]}: ${first[1]}`);
  return s;
}

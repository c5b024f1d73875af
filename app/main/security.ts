import type { NetworkName } from './services/network-settings.ts';
import { walletIconOrigins } from './services/wallets-list.ts';

/**
 * The Content-Security-Policy of the Electron window and web mode, as a function of the chosen
 * network: only our own scripts and styles, the WebSocket back to the page's own loopback origin
 * (web mode), images from data: URLs (QR codes, the development wallet's icon) and — on testnet and
 * mainnet only — the https origins of the wallet icons in the app's own wallet list.
 *
 * TON Connect (bridges, wallet list, manifest) and the TON API run in the main process, never in
 * the page, so no bridge or API origin is admitted to `connect-src` on any network.
 */
export function contentSecurityPolicy(network: NetworkName): string {
  const icons = network === 'local' ? [] : walletIconOrigins(network);
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    ["img-src 'self' data:", ...icons].join(' '),
    "connect-src 'self' ws://127.0.0.1:* ws://localhost:*",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** The local network's policy (the strictest); index.html carries it as its meta tag. */
export const CONTENT_SECURITY_POLICY = contentSecurityPolicy('local');

/** A policy for a <meta http-equiv> tag: frame-ancestors is header-only (browsers ignore it there). */
export function metaPolicy(policy: string): string {
  return policy.split('; ').filter((d) => !d.startsWith('frame-ancestors')).join('; ');
}

export const META_CONTENT_SECURITY_POLICY = metaPolicy(CONTENT_SECURITY_POLICY);

/**
 * index.html as served: its meta policy replaced by the running network's, since a page enforces
 * both its header and its meta policy and the stricter built-in one would block the wallet icons.
 */
export function withMetaPolicy(html: string, policy: string): string {
  return html.replace(/(<meta http-equiv="Content-Security-Policy" content=")[^"]*(")/, `$1${metaPolicy(policy)}$2`);
}

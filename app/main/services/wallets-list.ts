import type { NetworkName } from './network-settings.ts';

/**
 * The TON Connect wallet list the app serves to its own SDK (`walletsListSource`): the SDK's
 * default list is fetched from the internet at run time, which would let a third party change
 * which bridges the app talks to. Entries follow the public wallets-list format (app_name, name,
 * image, about_url, universal_url, bridge, platforms).
 *
 * On the local network the list is only the development wallet (a TEST DOUBLE at the wallet
 * boundary, see node-core/src/wallet) on the app's own loopback bridge.
 */
export interface WalletListEntry {
  app_name: string;
  name: string;
  image: string;
  about_url: string;
  universal_url: string;
  bridge: Array<{ type: 'sse'; url: string }>;
  platforms: string[];
}

const PUBLIC_WALLETS: WalletListEntry[] = [
  { app_name: 'tonkeeper', name: 'Tonkeeper', image: 'https://tonkeeper.com/assets/tonconnect-icon.png', about_url: 'https://tonkeeper.com', universal_url: 'https://app.tonkeeper.com/ton-connect', bridge: [{ type: 'sse', url: 'https://bridge.tonapi.io/bridge' }], platforms: ['ios', 'android', 'macos', 'windows', 'linux'] },
  { app_name: 'mytonwallet', name: 'MyTonWallet', image: 'https://static.mytonwallet.io/icon-256.png', about_url: 'https://mytonwallet.io', universal_url: 'https://connect.mytonwallet.org', bridge: [{ type: 'sse', url: 'https://tonconnectbridge.mytonwallet.org/bridge' }], platforms: ['ios', 'android', 'macos', 'windows', 'linux'] },
  { app_name: 'tonhub', name: 'Tonhub', image: 'https://tonhub.com/tonconnect_logo.png', about_url: 'https://tonhub.com', universal_url: 'https://tonhub.com/ton-connect', bridge: [{ type: 'sse', url: 'https://connect.tonhubapi.com/tonconnect' }], platforms: ['ios', 'android'] },
];

/** A plain square as the development wallet's icon: a data: URL, so the local CSP admits nothing remote. */
const DEV_WALLET_ICON = 'data:image/svg+xml;base64,' + Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><rect width="64" height="64" rx="12" fill="#5a6"/><text x="32" y="42" font-size="28" text-anchor="middle" fill="#fff">D</text></svg>').toString('base64');

export const DEV_WALLET_APP_NAME = 'cocoon-dev-wallet';

export function walletsList(network: NetworkName, localBridgeUrl?: string): WalletListEntry[] {
  if (network !== 'local') return PUBLIC_WALLETS;
  if (!localBridgeUrl) return [];
  return [{
    app_name: DEV_WALLET_APP_NAME, name: 'Cocoon development wallet (local test double)', image: DEV_WALLET_ICON, about_url: 'http://127.0.0.1/',
    universal_url: 'tc://', bridge: [{ type: 'sse', url: localBridgeUrl }], platforms: ['linux', 'macos', 'windows'],
  }];
}

/** The https origins of the listed wallets' icons (what the page's CSP admits for images). */
export function walletIconOrigins(network: NetworkName): string[] {
  return [...new Set(walletsList(network).map((w) => new URL(w.image)).filter((u) => u.protocol === 'https:').map((u) => u.origin))].sort();
}

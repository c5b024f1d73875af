import { useEffect, useState } from 'react';

/**
 * TON Connect login for testnet/mainnet: a QR code for a phone wallet and a deep link for a
 * desktop one. The manifest must be served over https from the app's public site (wallets fetch
 * it); the wallet list comes from the SDK's registry, so this needs network access.
 */
const MANIFEST_URL = 'https://raw.githubusercontent.com/TelegramMessenger/cocoon/main/tonconnect-manifest.json';

export default function TonConnectLogin({ network }: { network: 'testnet' | 'mainnet' | 'local' }) {
  const [link, setLink] = useState<string | null>(null);
  const [qr, setQr] = useState<string | null>(null);
  const [address, setAddress] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let cancelled = false;
    let unsubscribe = () => {};
    (async () => {
      const [{ default: TonConnect, isWalletInfoRemote }, QRCode] = await Promise.all([import('@tonconnect/sdk'), import('qrcode')]);
      const connector = new TonConnect({ manifestUrl: MANIFEST_URL });
      unsubscribe = connector.onStatusChange((w) => setAddress(w?.account.address ?? null), (e) => setError(e.message));
      const wallets = await connector.getWallets();
      const remote = wallets.find(isWalletInfoRemote);
      if (!remote) throw new Error('no TON Connect wallet with a bridge is known');
      const url = connector.connect({ universalLink: remote.universalLink, bridgeUrl: remote.bridgeUrl });
      const dataUrl = await QRCode.toDataURL(url, { margin: 1, width: 220 });
      if (!cancelled) { setLink(url); setQr(dataUrl); }
    })().catch((e: Error) => { if (!cancelled) setError(`TON Connect is unavailable: ${e.message}. Check the network connection.`); });
    return () => { cancelled = true; unsubscribe(); };
  }, []);
  if (address) return <p>Connected ({network}): <span className="mono">{address}</span></p>;
  if (error) return <div className="banner bad" role="alert">Wallet not connected. {error}</div>;
  if (!qr || !link) return <p className="muted">Wallet not connected. Preparing TON Connect…</p>;
  return (
    <div className="tonconnect">
      <p>Wallet not connected. Scan with your TON wallet ({network}):</p>
      <img src={qr} alt="TON Connect QR code" width={220} height={220} />
      <p><a href={link} target="_blank" rel="noreferrer">Open the wallet app</a></p>
    </div>
  );
}

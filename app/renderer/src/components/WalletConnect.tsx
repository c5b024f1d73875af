import { useEffect, useState } from 'react';
import type { WalletSessionState } from '../../../shared/api-contract.ts';
import { api } from '../api.ts';
import { useApp } from '../store.ts';

/**
 * TON Connect as main runs it: the app's wallet list, then the QR code and universal link of the
 * connection request, the connected (ton_proof-verified) address, and disconnect. The page holds
 * no session key; it only shows main's state and asks it to connect or disconnect.
 */
export function WalletConnect() {
  const [session, setSession] = useState<WalletSessionState | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let alive = true;
    api.request('wallet.session').then((s) => { if (alive) setSession(s); }, (e: Error) => setError(e.message));
    const off = api.on('wallet.session', (s) => {
      setSession(s);
      // The connected address changes what the wallet panel shows (balance, client contract).
      void api.request('wallet.get').then((w) => useApp.setState({ wallet: w }), () => undefined);
    });
    return () => { alive = false; off(); };
  }, []);
  const act = async (p: Promise<WalletSessionState>) => {
    setError(null);
    try { setSession(await p); } catch (e) { setError((e as Error).message); }
  };
  if (!session) return error ? <div className="error small">{error}</div> : <p className="muted">Loading TON Connect…</p>;
  return (
    <div className="tonconnect" data-testid="tonconnect" data-state={session.state}>
      {session.state === 'connected' && (
        <p>
          Connected ({session.network}): <span className="mono" data-testid="tc-address">{session.address}</span>
          {session.walletName && <span className="muted small"> via {session.walletName}</span>}{' '}
          <button onClick={() => void act(api.request('wallet.disconnect'))} data-testid="tc-disconnect">Disconnect</button>
        </p>
      )}
      {session.state !== 'connected' && (
        <>
          <p>Connect a wallet ({session.network}){session.network === 'local' ? ' — or use the local development wallet without connecting' : ''}:</p>
          <ul className="wallet-list">
            {session.wallets.map((w) => (
              <li key={w.appName}>
                <button onClick={() => void act(api.request('wallet.connect', { appName: w.appName }))} data-testid={`tc-wallet-${w.appName}`}>
                  <img src={w.image} alt="" width={20} height={20} /> {w.name}
                </button>
              </li>
            ))}
            {session.wallets.length === 0 && <li className="muted small">No wallet is listed for this network.</li>}
          </ul>
        </>
      )}
      {session.state === 'connecting' && session.universalLink && (
        <div data-testid="tc-request">
          <p>Scan with {session.walletName ?? 'your wallet'}, or open the link in it:</p>
          {session.qrDataUrl && <img src={session.qrDataUrl} alt="TON Connect QR code" width={220} height={220} data-testid="tc-qr" />}
          <p><a href={session.universalLink} target="_blank" rel="noreferrer" className="mono small" data-testid="tc-link">{session.universalLink.slice(0, 60)}…</a></p>
          <p className="muted small">Waiting for the wallet to approve the connection…</p>
        </div>
      )}
      {session.error && <div className="banner bad small" role="alert" data-testid="tc-error">{session.error}</div>}
      {error && <div className="error small" data-testid="tc-request-error">{error}</div>}
    </div>
  );
}

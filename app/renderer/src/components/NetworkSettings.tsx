import { useEffect, useState } from 'react';
import type { AppSettings } from '../../../shared/api-contract.ts';

type Save = (patch: { network: { name: AppSettings['network']; endpoint: string | null; apiKey: string | null; rootAddress: string | null; tonConnectManifestUrl?: string | null } }) => Promise<void>;

const DEFAULT_ENDPOINT: Record<'testnet' | 'mainnet', string> = {
  testnet: 'https://testnet.toncenter.com/api/v2/jsonRPC',
  mainnet: 'https://toncenter.com/api/v2/jsonRPC',
};

/**
 * The TON network: local (the embedded chain), testnet or mainnet with endpoint, API key and the
 * Cocoon root contract. Main checks the fields; a change applies when the app restarts (the chain
 * layer, the wallet session and the page's CSP are fixed for a run).
 */
export function NetworkSettings({ settings, save, error }: { settings: AppSettings; save: Save; error: string | null }) {
  const saved = settings.savedNetwork;
  const [name, setName] = useState<AppSettings['network']>(saved?.name ?? settings.network);
  const [endpoint, setEndpoint] = useState(saved?.endpoint ?? '');
  const [apiKey, setApiKey] = useState('');
  const [root, setRoot] = useState(saved?.rootAddress ?? '');
  const [manifest, setManifest] = useState(saved?.tonConnectManifestUrl ?? '');
  useEffect(() => {
    if (!saved) return;
    setName(saved.name);
    setEndpoint(saved.endpoint ?? '');
    setRoot(saved.rootAddress ?? '');
    setManifest(saved.tonConnectManifestUrl ?? '');
  }, [saved?.name, saved?.endpoint, saved?.rootAddress, saved?.tonConnectManifestUrl]);
  const pick = (n: AppSettings['network']) => {
    setName(n);
    if (n !== 'local' && !endpoint) setEndpoint(DEFAULT_ENDPOINT[n]);
  };
  const pendingRestart = saved && saved.name !== settings.network;
  return (
    <section className="panel" data-testid="network-settings">
      <h2>Network</h2>
      <p className="small">Running now: <b data-testid="settings-network">{settings.network}</b>{settings.network === 'local' ? ' — the embedded local chain on this machine (development chain, no real TON)' : ''}</p>
      <div className="actions">
        {(['local', 'testnet', 'mainnet'] as const).map((n) => (
          <label key={n}><input type="radio" name="network" checked={name === n} onChange={() => pick(n)} data-testid={`network-${n}`} /> {n}</label>
        ))}
      </div>
      {name !== 'local' && (
        <dl className="kv">
          <dt>TON API endpoint</dt><dd><input className="wide-input mono" value={endpoint} onChange={(e) => setEndpoint(e.target.value)} data-testid="network-endpoint" /></dd>
          <dt>API key</dt><dd><input className="wide-input mono" type="password" placeholder={saved?.apiKeySet ? '(saved; type to replace)' : 'optional'} value={apiKey} onChange={(e) => setApiKey(e.target.value)} data-testid="network-api-key" /></dd>
          <dt>Root contract</dt><dd><input className="wide-input mono" value={root} onChange={(e) => setRoot(e.target.value)} data-testid="network-root" /></dd>
          <dt>TON Connect manifest</dt><dd><input className="wide-input mono" placeholder="https://… (public; phone wallets fetch it)" value={manifest} onChange={(e) => setManifest(e.target.value)} data-testid="network-manifest" />
            <div className="small muted">Host a copy of the app's manifest at a public https address so phone wallets can connect; without one only wallets on this machine can.</div></dd>
        </dl>
      )}
      {name === 'mainnet' && <p className="notice small">Mainnet moves real TON: the app asks for confirmation before the first transaction.</p>}
      <div className="actions">
        <button data-testid="save-network" onClick={() => void save({ network: name === 'local' ? { name, endpoint: null, apiKey: null, rootAddress: null } : { name, endpoint: endpoint.trim() || null, apiKey: apiKey.trim() || null, rootAddress: root.trim() || null, tonConnectManifestUrl: manifest.trim() || null } })}>Save network</button>
      </div>
      {pendingRestart && <p className="notice small" data-testid="network-restart">Saved: the app switches to {saved!.name} when it is restarted.</p>}
      {error && <div className="error small" data-testid="network-error">{error}</div>}
    </section>
  );
}

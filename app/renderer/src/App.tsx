import { useEffect, useState } from 'react';
import { attestationVerdict, AttestationPanel } from './components/AttestationPanel.tsx';
import { Chat } from './components/Chat.tsx';
import { ConnectionBar } from './components/ConnectionBar.tsx';
import { CostViewer } from './components/CostViewer.tsx';
import { Settings } from './components/Settings.tsx';
import { WalletPanel } from './components/WalletPanel.tsx';
import { OwnerMode } from './components/owner/OwnerMode.tsx';
import { useApp } from './store.ts';

type Mode = 'developer' | 'owner' | 'settings';

export function App() {
  const { status, statusError, wallet, load, link } = useApp();
  const [mode, setMode] = useState<Mode>('developer');
  useEffect(() => { void load(); }, [load]);

  // Chat is only allowed to a connected proxy whose attestation verified (development quotes are
  // allowed on the local network, and the panel says they are not confidential).
  const verdict = attestationVerdict(status);
  const disabledReason = link.state === 'refused' ? link.reason
    : link.state === 'reconnecting' && link.attempt > 0 ? 'The app is unreachable; reconnecting…'
    : statusError ? `The app is unreachable: ${statusError}`
    : !status ? 'Connecting…'
    : status.proxy.state !== 'connected' ? `No proxy reachable (${status.proxy.state}${status.proxy.error ? `: ${status.proxy.error}` : ''}).`
    : verdict === 'failed' || verdict === 'none' ? `Attestation failed: ${status.attestation?.error ?? 'no attestation'}. Chat is disabled.`
    : null;

  return (
    <div className="app" data-ready={status ? 'true' : 'false'} data-link={link.state} data-testid="app">
      <header>
        <h1>Cocoon Desktop</h1>
        <nav>
          <button className={mode === 'developer' ? 'active' : ''} data-testid="tab-developer" onClick={() => setMode('developer')}>Developer</button>
          <button className={mode === 'owner' ? 'active' : ''} data-testid="tab-owner" onClick={() => setMode('owner')}>GPU owner</button>
          <button className={mode === 'settings' ? 'active' : ''} onClick={() => setMode('settings')} data-testid="tab-settings">Settings</button>
        </nav>
        <ConnectionBar status={status} error={statusError} link={link} />
      </header>
      {link.state !== 'connected' && (link.state === 'refused' || link.attempt > 0) && (
        <div className="link-banner" data-testid="link-banner">{link.state === 'refused' ? link.reason : link.reason}</div>
      )}
      {mode === 'developer' && (
        <main>
          <Chat disabledReason={disabledReason} />
          <div className="side">
            <AttestationPanel status={status} />
            <CostViewer />
            <WalletPanel wallet={wallet} />
          </div>
        </main>
      )}
      {mode === 'owner' && <OwnerMode />}
      {mode === 'settings' && <main className="owner"><Settings /></main>}
    </div>
  );
}

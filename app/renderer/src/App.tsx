import { useEffect, useState } from 'react';
import { AttestationPanel } from './components/AttestationPanel.tsx';
import { Chat } from './components/Chat.tsx';
import { ConnectionBar } from './components/ConnectionBar.tsx';
import { CostViewer } from './components/CostViewer.tsx';
import { WalletPanel } from './components/WalletPanel.tsx';
import { OwnerMode } from './components/owner/OwnerMode.tsx';
import { useApp } from './store.ts';

export function App() {
  const { status, statusError, wallet, load } = useApp();
  const [mode, setMode] = useState<'developer' | 'owner'>('developer');
  useEffect(() => { void load(); }, [load]);

  // Chat is only allowed to a proxy whose attestation verified.
  const disabledReason = statusError
    ? `The app is unreachable: ${statusError}`
    : !status ? 'Connecting…'
    : status.proxy.state !== 'connected' ? `No proxy reachable (${status.proxy.state}${status.proxy.error ? `: ${status.proxy.error}` : ''}).`
    : !status.attestation?.valid ? `Attestation failed: ${status.attestation?.error ?? 'no attestation'}. Chat is disabled.`
    : null;

  return (
    <div className="app" data-ready={status ? 'true' : 'false'} data-testid="app">
      <header>
        <h1>Cocoon Desktop</h1>
        <nav>
          <button className={mode === 'developer' ? 'active' : ''} onClick={() => setMode('developer')}>Developer</button>
          <button className={mode === 'owner' ? 'active' : ''} data-testid="tab-owner" onClick={() => setMode('owner')}>GPU owner</button>
        </nav>
        <ConnectionBar status={status} error={statusError} />
      </header>
      {mode === 'developer' ? (
        <main>
          <Chat disabledReason={disabledReason} />
          <div className="side">
            <AttestationPanel status={status} />
            <CostViewer />
            <WalletPanel wallet={wallet} />
          </div>
        </main>
      ) : (
        <OwnerMode />
      )}
    </div>
  );
}

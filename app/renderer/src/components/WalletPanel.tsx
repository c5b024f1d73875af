import { lazy, Suspense } from 'react';
import type { WalletInfo } from '../../../shared/api-contract.ts';

// The TON Connect SDK and the QR encoder load only on testnet/mainnet, never in local mode.
const TonConnectLogin = lazy(() => import('./TonConnectLogin.tsx'));

export function WalletPanel({ wallet }: { wallet: WalletInfo | null }) {
  return (
    <section className="panel" data-testid="wallet-panel">
      <h2>Wallet</h2>
      {!wallet && <p className="muted">Loading…</p>}
      {wallet && (
        <>
          {wallet.mode === 'development' ? (
            <>
              <p>Local network: the embedded chain's development wallet for the client (it holds no real TON). Requests are not settled on chain from it yet.</p>
              {wallet.address ? (
                <dl className="kv">
                  <dt>Address</dt><dd className="mono" data-testid="dev-wallet-address">{wallet.address}</dd>
                  <dt>Balance</dt><dd data-testid="dev-wallet-balance">{wallet.balanceTon === null ? 'unknown' : `${wallet.balanceTon} TON`}</dd>
                </dl>
              ) : (
                <p className="muted">The embedded local chain is not running, so there is no development wallet to show.</p>
              )}
            </>
          ) : (
            <Suspense fallback={<p className="muted">Loading TON Connect…</p>}>
              <TonConnectLogin network={wallet.network} />
            </Suspense>
          )}
          <div className="actions">
            <button disabled title={wallet.contractActionsDisabledReason ?? ''}>Top up</button>
            <button disabled title={wallet.contractActionsDisabledReason ?? ''}>Withdraw</button>
          </div>
          {wallet.contractActionsDisabledReason && <p className="muted small" data-testid="wallet-disabled">Disabled: {wallet.contractActionsDisabledReason}.</p>}
        </>
      )}
    </section>
  );
}

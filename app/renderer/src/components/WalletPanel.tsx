import type { WalletInfo } from '../../../shared/api-contract.ts';

export function WalletPanel({ wallet }: { wallet: WalletInfo | null }) {
  return (
    <section className="panel" data-testid="wallet-panel">
      <h2>Wallet</h2>
      {!wallet && <p className="muted">Loading…</p>}
      {wallet && (
        <>
          <p>
            {wallet.mode === 'development'
              ? 'Local network: a built-in development wallet pays for requests.'
              : 'Connect a TON wallet (TON Connect) to fund your client contract.'}
          </p>
          <div className="actions">
            <button disabled title={wallet.contractActionsDisabledReason ?? ''}>Top up</button>
            <button disabled title={wallet.contractActionsDisabledReason ?? ''}>Withdraw</button>
          </div>
          {wallet.contractActionsDisabledReason && <p className="muted small" data-testid="wallet-disabled">{wallet.contractActionsDisabledReason}</p>}
        </>
      )}
    </section>
  );
}

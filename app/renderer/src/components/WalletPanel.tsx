import { lazy, Suspense, useState } from 'react';
import type { ClientAccountInfo, WalletInfo } from '../../../shared/api-contract.ts';
import { api } from '../api.ts';
import { useApp } from '../store.ts';

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
          {wallet.clientAccount && <ClientAccountView account={wallet.clientAccount} />}
          {wallet.contractActionsDisabledReason && <p className="muted small" data-testid="wallet-disabled">Disabled: {wallet.contractActionsDisabledReason}.</p>}
        </>
      )}
    </section>
  );
}

type AccountAction = 'account.stake' | 'account.topUp' | 'account.withdraw';

/** The developer's client contract at the proxy: what it holds, and the owner's actions on it. */
function ClientAccountView({ account }: { account: ClientAccountInfo }) {
  const [amount, setAmount] = useState(account.deployed ? '1' : account.minStakeTon);
  const [busy, setBusy] = useState<AccountAction | null>(null);
  const [error, setError] = useState<string | null>(null);
  const setWallet = (info: ClientAccountInfo) => {
    const w = useApp.getState().wallet;
    if (w) useApp.setState({ wallet: { ...w, clientAccount: info } });
  };
  const run = async (action: AccountAction) => {
    setBusy(action);
    setError(null);
    try {
      setWallet(await api.request(action, { amountTon: amount.trim() }));
      const fresh = await api.request('wallet.get');
      useApp.setState({ wallet: fresh });
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(null);
    }
  };
  return (
    <div className="account" data-testid="client-account">
      <h3>Client contract</h3>
      <dl className="kv">
        <dt>Contract</dt><dd className="mono small">{account.contract}</dd>
        <dt>State</dt><dd data-testid="account-state">{account.deployed ? 'open' : 'not opened yet'}</dd>
        <dt>Balance</dt><dd data-testid="account-balance">{account.balanceTon} TON</dd>
        <dt>Stake</dt><dd data-testid="account-stake">{account.stakeTon} TON (minimum {account.minStakeTon})</dd>
        <dt>Charged</dt><dd>{account.chargedTon} TON</dd>
      </dl>
      <div className="actions">
        <input aria-label="Amount in TON" value={amount} onChange={(e) => setAmount(e.target.value)} data-testid="account-amount" size={8} /> TON
        {account.deployed ? (
          <>
            <button disabled={busy !== null} onClick={() => void run('account.topUp')} data-testid="account-topup">{busy === 'account.topUp' ? 'Topping up…' : 'Top up'}</button>
            <button disabled={busy !== null} onClick={() => void run('account.stake')}>{busy === 'account.stake' ? 'Staking…' : 'Add stake'}</button>
            <button disabled={busy !== null} onClick={() => void run('account.withdraw')} data-testid="account-withdraw">{busy === 'account.withdraw' ? 'Withdrawing…' : 'Withdraw'}</button>
          </>
        ) : (
          <button disabled={busy !== null} onClick={() => void run('account.stake')} data-testid="account-open">{busy ? 'Opening…' : `Open with stake`}</button>
        )}
      </div>
      {error && <div className="error small" data-testid="account-error">{error}</div>}
    </div>
  );
}

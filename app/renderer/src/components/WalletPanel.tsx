import { useState } from 'react';
import type { AccountQuote, ChargesInfo, ClientAccountInfo, WalletInfo } from '../../../shared/api-contract.ts';
import { api } from '../api.ts';
import { useApp, useCharges } from '../store.ts';
import { WalletConnect } from './WalletConnect.tsx';

/** The network money is on, shown beside every amount (local TON is not real TON). */
export function NetworkBadge({ network }: { network: WalletInfo['network'] }) {
  return <span className={`network-badge ${network}`} data-testid="network-badge">{network === 'local' ? 'local chain (no real TON)' : network}</span>;
}

/** Charges between the proxy's count and the chain, from the client's own store (the cost viewer's figures). */
function pendingText(charges: ChargesInfo | null): string {
  if (!charges) return 'none tracked (no settlement on this network connection)';
  const signed = BigInt(charges.nanoTon.signed) - BigInt(charges.nanoTon.onChain);
  const counted = BigInt(charges.nanoTon.ledger) - BigInt(charges.nanoTon.signed);
  const ton = (n: bigint) => `${(Number(n > 0n ? n : 0n) / 1e9).toFixed(9).replace(/0+$/, '').replace(/\.$/, '')} TON`;
  return `${ton(signed)} signed, ${ton(counted)} counted, not yet on chain`;
}

export function WalletPanel({ wallet }: { wallet: WalletInfo | null }) {
  return (
    <section className="panel" data-testid="wallet-panel">
      <h2>Wallet {wallet && <NetworkBadge network={wallet.network} />}</h2>
      {!wallet && <p className="muted">Loading…</p>}
      {wallet && (
        <>
          <WalletConnect />
          {wallet.mode === 'development' ? (
            <>
              <p className="small">No wallet connected: actions are signed by the embedded chain's development wallet for the client (it holds no real TON).</p>
              {wallet.address ? (
                <dl className="kv">
                  <dt>Address</dt><dd className="mono" data-testid="dev-wallet-address">{wallet.address}</dd>
                  <dt>Balance</dt><dd data-testid="dev-wallet-balance">{wallet.balanceTon === null ? 'unknown' : `${wallet.balanceTon} TON`}</dd>
                </dl>
              ) : (
                <p className="muted">The embedded local chain is not running, so there is no development wallet to show.</p>
              )}
            </>
          ) : wallet.address && (
            <dl className="kv">
              <dt>Balance</dt><dd data-testid="wallet-balance">{wallet.balanceTon === null ? 'unknown' : `${wallet.balanceTon} TON`}</dd>
            </dl>
          )}
          {wallet.clientAccount && <ClientAccountView account={wallet.clientAccount} network={wallet.network} />}
          {wallet.contractActionsDisabledReason && <p className="muted small" data-testid="wallet-disabled">Disabled: {wallet.contractActionsDisabledReason}.</p>}
        </>
      )}
    </section>
  );
}

type AccountAction = 'stake' | 'topUp' | 'withdraw';
const LABEL: Record<AccountAction, string> = { stake: 'Stake', topUp: 'Top up', withdraw: 'Withdraw' };
/** Op names of the client contract's incoming messages, in words. */
const ACTION_WORDS: Record<string, string> = {
  deploy: 'opened', extClientTopUp: 'top-up', ownerClientIncreaseStake: 'stake raised', ownerClientWithdraw: 'withdraw',
  ownerClientRegister: 'connection registered', extClientChargeSigned: 'charge', ownerClientRequestRefund: 'close requested', excesses: 'excess returned',
};

interface Done { action: AccountAction; amountTon: string; hash: string; signer: string; balanceTon: string; stakeTon: string; at: string }

/**
 * The developer's client contract at the proxy: what it holds, and the owner's actions on it. Each
 * action is quoted first (amount, what the wallet attaches, estimated fee, who signs) and sent only
 * after Confirm; the wallet then approves or declines it.
 */
function ClientAccountView({ account, network }: { account: ClientAccountInfo; network: WalletInfo['network'] }) {
  const [amount, setAmount] = useState(account.deployed ? '1' : account.minStakeTon);
  const [quote, setQuote] = useState<AccountQuote | null>(null);
  const [mainnetOk, setMainnetOk] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const charges = useCharges(3_000);
  const [history, setHistory] = useState<Done[]>([]);
  const ask = async (action: AccountAction) => {
    setError(null);
    setQuote(null);
    try {
      setQuote(await api.request('account.quote', { action, amountTon: amount.trim() }));
    } catch (e) {
      setError((e as Error).message);
    }
  };
  const confirm = async () => {
    if (!quote) return;
    setBusy(true);
    setError(null);
    try {
      const info = await api.request(`account.${quote.action}`, { amountTon: quote.amountTon, ...(mainnetOk && { confirmMainnet: true }) });
      if (info.lastTransaction) setHistory((h) => [{ action: quote.action, amountTon: quote.amountTon, hash: info.lastTransaction!.hash, signer: info.lastTransaction!.signer, balanceTon: info.balanceTon, stakeTon: info.stakeTon, at: new Date().toLocaleTimeString() }, ...h]);
      setQuote(null);
      useApp.setState({ wallet: await api.request('wallet.get') });
    } catch (e) {
      setError((e as Error).message);
      setQuote(null);
    } finally {
      setBusy(false);
    }
  };
  const last = history[0];
  return (
    <div className="account" data-testid="client-account">
      <h3>Client contract</h3>
      <dl className="kv">
        <dt>Contract</dt><dd className="mono small">{account.contract}</dd>
        <dt>State</dt><dd data-testid="account-state">{account.deployed ? 'open' : 'not opened yet'}</dd>
        <dt>Balance</dt><dd data-testid="account-balance">{account.balanceTon} TON</dd>
        <dt>Stake</dt><dd data-testid="account-stake">{account.stakeTon} TON (minimum {account.minStakeTon})</dd>
        <dt>Charged so far</dt><dd data-testid="account-charged">{account.chargedTon} TON</dd>
        <dt>Pending charges</dt><dd data-testid="account-pending" title="signed by the proxy, not yet on chain; counted by the proxy, not yet signed">{pendingText(charges)}</dd>
      </dl>
      <div className="actions">
        <input aria-label="Amount in TON" value={amount} onChange={(e) => setAmount(e.target.value)} data-testid="account-amount" size={8} /> TON
        {account.deployed ? (
          <>
            <button disabled={busy} onClick={() => void ask('topUp')} data-testid="account-topup">Top up</button>
            <button disabled={busy} onClick={() => void ask('stake')} data-testid="account-add-stake">Add stake</button>
            <button disabled={busy} onClick={() => void ask('withdraw')} data-testid="account-withdraw">Withdraw</button>
          </>
        ) : (
          <button disabled={busy} onClick={() => void ask('stake')} data-testid="account-open">Open with stake</button>
        )}
      </div>
      {quote && (
        <div className="quote" data-testid="account-quote">
          <p><b>{LABEL[quote.action]} {quote.amountTon} TON</b> on <NetworkBadge network={network} /></p>
          <dl className="kv small">
            <dt>Wallet sends</dt><dd data-testid="quote-attached">{quote.attachedTon} TON</dd>
            <dt>Estimated fee</dt><dd data-testid="quote-fee">up to {quote.feeTon} TON (what is not spent comes back)</dd>
            <dt>Signed by</dt><dd data-testid="quote-signer">{quote.signer}</dd>
          </dl>
          {quote.needsMainnetConfirmation && (
            <label className="notice small"><input type="checkbox" checked={mainnetOk} onChange={(e) => setMainnetOk(e.target.checked)} data-testid="mainnet-confirm" /> This is mainnet: real TON moves. I understand.</label>
          )}
          <div className="actions">
            <button disabled={busy || (quote.needsMainnetConfirmation && !mainnetOk)} onClick={() => void confirm()} data-testid="quote-confirm">{busy ? 'Waiting for the wallet…' : 'Confirm and send to the wallet'}</button>
            <button disabled={busy} onClick={() => setQuote(null)}>Cancel</button>
          </div>
        </div>
      )}
      {error && <div className="error small" data-testid="account-error">{error}</div>}
      {last && <p className="small" data-testid="account-confirmed">Confirmed: {LABEL[last.action]} {last.amountTon} TON, transaction <span className="mono" data-testid="account-tx-hash">{last.hash.slice(0, 16)}…</span>; balance now {last.balanceTon} TON, stake {last.stakeTon} TON.</p>}
      {(account.history?.length ?? 0) > 0 && (
        <>
          <h4>On chain</h4>
          <table className="small" data-testid="account-chain-history">
            <thead><tr><th>Time</th><th>Message</th><th>In</th><th>Out</th><th>Transaction</th></tr></thead>
            <tbody>{account.history!.map((h) => (
              <tr key={h.hash} className={h.ok ? '' : 'bad'}><td>{h.at.slice(11, 19)}</td><td>{ACTION_WORDS[h.action] ?? h.action}</td><td>{h.valueTon}</td><td>{h.sentTon}</td><td className="mono">{h.hash.slice(0, 12)}…{h.ok ? '' : ' (failed)'}</td></tr>
            ))}</tbody>
          </table>
        </>
      )}
      {history.length > 0 && (
        <table className="small" data-testid="account-history">
          <caption>This session</caption>
          <thead><tr><th>Time</th><th>Action</th><th>TON</th><th>Transaction</th><th>Signed by</th></tr></thead>
          <tbody>{history.map((h) => <tr key={h.hash}><td>{h.at}</td><td>{LABEL[h.action]}</td><td>{h.amountTon}</td><td className="mono">{h.hash.slice(0, 12)}…</td><td>{h.signer}</td></tr>)}</tbody>
        </table>
      )}
    </div>
  );
}

import { useEffect, useRef, useState } from 'react';
import { Bar, BarChart, CartesianGrid, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import type { ProxyEconomics, WorkerEconomics } from '../../../../shared/api-contract.ts';
import { api } from '../../api.ts';
import { NetworkBadge } from '../WalletPanel.tsx';

type Range = 'hour' | 'day' | 'week';

/**
 * Owner economics as its own owner-mode step: a worker's earnings (tokens served, TON signed by
 * the proxy, TON paid on chain, pending), a chart over the last hour/day/week, the payout history
 * and "claim now"; below it the proxy operator's contract. Actions are signed by the connected
 * wallet (TON Connect) or, on the local network, by the matching development wallet.
 */
export function OwnerEconomicsStep() {
  return (
    <div className="economics" data-testid="owner-economics">
      <WorkerEarnings />
      <ProxyOperator />
    </div>
  );
}

function WorkerEarnings() {
  const [owner, setOwner] = useState('');
  const [range, setRange] = useState<Range>('day');
  const [data, setData] = useState<WorkerEconomics | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [claimed, setClaimed] = useState<string | null>(null);
  // The owner last shown: the refresh keeps to it while another address is being typed.
  const shown = useRef<string>('');
  const load = async (r = range, who = owner.trim()) => {
    shown.current = who;
    setError(null);
    try { setData(await api.request('economics.worker', { ownerAddress: who || null, range: r })); } catch (e) { setError((e as Error).message); }
  };
  // Earnings move as workers serve answers: refresh every few seconds (not while a claim waits
  // for the wallet, whose result replaces the view).
  const latest = useRef(load);
  latest.current = load;
  const claiming = useRef(false);
  claiming.current = busy;
  useEffect(() => {
    void latest.current();
    const t = setInterval(() => { if (!claiming.current) void latest.current(undefined, shown.current); }, 3_000);
    return () => clearInterval(t);
  }, []);
  const claim = async () => {
    setBusy(true);
    setError(null);
    try {
      const r = await api.request('economics.claim', { ownerAddress: owner.trim() || null });
      setData(r);
      setClaimed(`Claimed ${r.claimed.tokens} tokens, transaction ${r.claimed.hash.slice(0, 16)}… (signed by ${r.claimed.signer}).`);
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="worker-earnings" data-testid="worker-earnings">
      <h3>Worker earnings {data && <NetworkBadge network={data.network} />}</h3>
      <div className="actions">
        <input className="wide-input mono" placeholder="owner address (empty: the connected wallet)" value={owner} onChange={(e) => setOwner(e.target.value)} data-testid="earnings-owner" />
        <button onClick={() => void load()} data-testid="earnings-load">Show</button>
      </div>
      {data && (
        <>
          <dl className="kv">
            <dt>Owner</dt><dd className="mono small">{data.owner}</dd>
            <dt>Worker contract</dt><dd className="mono small" data-testid="earnings-contract">{data.workerContract}{data.deployed ? '' : ' (not deployed yet)'}</dd>
            <dt title="Price-adjusted tokens, as the network bills them: per kind, tokens × the worker's price coefficient × the kind's multiplier (cached tokens count at a fraction)">Tokens billed (price-adjusted)</dt><dd data-testid="earnings-tokens">{data.tokensServed ?? '—'}</dd>
            <dt>Signed by the proxy</dt><dd data-testid="earnings-signed">{data.signedTon === null ? '—' : `${data.signedTon} TON`}</dd>
            <dt>Paid on chain</dt><dd data-testid="earnings-paid">{data.paidTon} TON</dd>
            <dt>Pending</dt><dd data-testid="earnings-pending">{data.pendingTon === null ? '—' : `${data.pendingTon} TON`}</dd>
          </dl>
          <div className="actions">
            {(['hour', 'day', 'week'] as const).map((r) => (
              <button key={r} className={r === range ? 'active' : ''} onClick={() => { setRange(r); void load(r); }} data-testid={`earnings-range-${r}`}>{r}</button>
            ))}
            <button disabled={!data.claimable || busy} onClick={() => void claim()} data-testid="earnings-claim">{busy ? 'Waiting for the wallet…' : 'Claim now'}</button>
          </div>
          {data.claimable && data.claimAttachedTon && (
            <p className="small muted" data-testid="earnings-claim-cost">Claim now: your wallet attaches {data.claimAttachedTon} TON (estimated fee up to {data.claimFeeTon} TON; what is not spent comes back) and receives {data.pendingTon} TON.</p>
          )}
          {data.series.length > 0 && (
            <div style={{ height: 180 }} data-testid="earnings-chart">
              <ResponsiveContainer width="100%" height="100%">
                <BarChart data={data.series.map((b) => ({ ...b, label: range === 'week' ? b.at.slice(5, 10) : b.at.slice(11, 16) }))}>
                  <CartesianGrid strokeDasharray="3 3" />
                  <XAxis dataKey="label" fontSize={10} />
                  <YAxis fontSize={10} />
                  <Tooltip />
                  <Bar dataKey="tokens" fill="#5a6" isAnimationActive={false} />
                </BarChart>
              </ResponsiveContainer>
            </div>
          )}
          {data.payouts.length > 0 && (
            <table className="small" data-testid="earnings-payouts">
              <thead><tr><th>Signed</th><th>Tokens</th><th>TON</th><th>On chain</th><th>Transaction</th></tr></thead>
              <tbody>{data.payouts.map((p) => <tr key={p.signedAt + p.tokens}><td>{p.signedAt.slice(0, 16).replace('T', ' ')}</td><td>{p.tokens}</td><td>{p.amountTon}</td><td>{p.claimed ? 'yes' : 'no'}</td><td className="mono">{p.hash ? `${p.hash.slice(0, 12)}…` : '—'}</td></tr>)}</tbody>
            </table>
          )}
          {data.notes.map((n) => <p key={n} className="muted small" data-testid="earnings-note">{n}</p>)}
        </>
      )}
      {claimed && <p className="small" data-testid="earnings-claimed">{claimed}</p>}
      {error && <div className="error small" data-testid="earnings-error">{error}</div>}
    </div>
  );
}

function ProxyOperator() {
  const [data, setData] = useState<ProxyEconomics | null>(null);
  const [amount, setAmount] = useState('1');
  const [error, setError] = useState<string | null>(null);
  const [sent, setSent] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [now, setNow] = useState(() => Math.floor(Date.now() / 1000));
  const load = () => api.request('economics.proxy').then((d) => { setData(d); setError(null); }, (e: Error) => setError(e.message));
  useEffect(() => { void load(); }, []);
  useEffect(() => {
    if (!data?.unlockAt) return;
    const t = setInterval(() => setNow(Math.floor(Date.now() / 1000)), 1000);
    return () => clearInterval(t);
  }, [data?.unlockAt]);
  const act = async (action: 'stake' | 'withdraw' | 'close') => {
    if (action === 'close' && !window.confirm(`Request the close? Stake and funds unlock after ${data?.closeDelaySeconds ?? '?'} s.`)) return;
    setBusy(true);
    setError(null);
    try {
      const r = await api.request('economics.proxy.act', { action, ...(action === 'stake' && { amountTon: amount.trim() }) });
      setData(r);
      setSent(`${r.sent.action}: transaction ${r.sent.hash.slice(0, 16)}… (signed by ${r.sent.signer}).`);
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  const left = data?.unlockAt ? Math.max(0, data.unlockAt - now) : null;
  return (
    <div className="proxy-operator" data-testid="proxy-operator">
      <h3>Proxy operator {data && <NetworkBadge network={data.network} />}</h3>
      {data && (
        <>
          <dl className="kv">
            <dt>Contract</dt><dd className="mono small">{data.contract ?? '—'}</dd>
            <dt>State</dt><dd data-testid="proxy-state">{data.state ?? 'not deployed'}</dd>
            <dt>Stake</dt><dd data-testid="proxy-stake">{data.stakeTon} TON (root minimum {data.minStakeTon})</dd>
            <dt>Client funds</dt><dd>{data.clientFundsTon} TON</dd>
            <dt>Worker reserve</dt><dd>{data.workerReserveTon} TON</dd>
            <dt>Own earnings</dt><dd data-testid="proxy-earnings">{data.earningsTon} TON</dd>
            {left !== null && <><dt>Close completes in</dt><dd data-testid="proxy-countdown">{left} s</dd></>}
          </dl>
          {!data.disabledReason && data.actionAttachedTon && (
            <p className="small muted" data-testid="proxy-action-cost">Each action attaches {data.actionAttachedTon} TON (plus the stake amount when staking); estimated fee up to {data.actionFeeTon} TON, what is not spent comes back.</p>
          )}
          {data.disabledReason ? <p className="muted small">Disabled: {data.disabledReason}.</p> : (
            <div className="actions">
              <input aria-label="Stake in TON" value={amount} onChange={(e) => setAmount(e.target.value)} size={6} data-testid="proxy-amount" /> TON
              <button disabled={busy || data.state !== 'running'} onClick={() => void act('stake')} data-testid="proxy-stake-btn">Add stake</button>
              <button disabled={busy} onClick={() => void act('withdraw')} data-testid="proxy-withdraw">Withdraw earnings</button>
              <button disabled={busy || data.state !== 'running'} onClick={() => void act('close')} data-testid="proxy-close">Request close ({data.closeDelaySeconds} s delay)</button>
            </div>
          )}
        </>
      )}
      {sent && <p className="small" data-testid="proxy-sent">{sent}</p>}
      {error && <div className="error small" data-testid="proxy-error">{error}</div>}
    </div>
  );
}

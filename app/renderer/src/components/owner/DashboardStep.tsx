import { useEffect } from 'react';
import { useOwner } from '../../owner-store.ts';

/** Step 5: the running worker's counters, read from its stats endpoint every two seconds. */
export function DashboardStep() {
  const { dashboard: d, refreshDashboard } = useOwner();
  useEffect(() => {
    void refreshDashboard();
    const t = setInterval(() => void refreshDashboard(), 2000);
    return () => clearInterval(t);
  }, [refreshDashboard]);
  if (!d?.available) return <p className="muted" data-testid="dashboard-empty">{d?.reason ?? 'Loading…'}</p>;
  const rate = (n: number | null) => (n === null ? '—' : n.toFixed(1));
  return (
    <dl className="kv" data-testid="dashboard">
      <dt>State</dt><dd>{d.phase}</dd>
      <dt>Model</dt><dd>{d.model ?? '—'}</dd>
      <dt>Requests</dt><dd>{d.active} active · {d.completed} completed · {rate(d.requestsPerSecond)}/s</dd>
      <dt>Tokens/s</dt><dd>{rate(d.tokensPerSecond)}</dd>
      <dt>Errors</dt><dd>{d.failed} failed · {d.cancelled} cancelled</dd>
      <dt>Proxies</dt><dd>{d.proxies.map((p) => `${p.endpoint} ${p.connected ? 'connected' : `down${p.lastError ? ` (${p.lastError})` : ''}`}`).join(', ') || '—'}</dd>
      <dt>Earnings</dt><dd className="muted">arrive with the settlement work</dd>
    </dl>
  );
}

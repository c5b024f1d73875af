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
      <dt>Tokens/s</dt><dd data-testid="dashboard-tokens">{rate(d.tokensPerSecond)}{typeof d.tokens === 'number' ? ` · ${d.tokens} generated` : ''}</dd>
      <dt>Errors</dt><dd>{d.failed} failed · {d.cancelled} cancelled</dd>
      <dt>Proxies</dt><dd data-testid="dashboard-proxies">{d.proxies.map((p) => `${p.endpoint} ${p.connected ? 'connected' : p.refusal ? `refused this worker: ${p.refusal.code} — ${p.refusal.reason}` : `down${p.lastError ? ` (${p.lastError})` : ''}`}`).join(', ') || '—'}</dd>
      <dt>Earnings</dt><dd className="muted">arrive with the settlement work</dd>
    </dl>
  );
}

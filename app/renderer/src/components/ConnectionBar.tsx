import type { ClientStatus } from '../../../shared/api-contract.ts';
import type { LinkState } from '../api.ts';

export function ConnectionBar({ status, error, link }: { status: ClientStatus | null; error: string | null; link: LinkState }) {
  if (link.state === 'refused') return <div className="conn bad" data-testid="connection-state">App refused this page</div>;
  if (link.state === 'reconnecting' && link.attempt > 0) return <div className="conn bad" data-testid="connection-state">App unreachable — reconnecting…</div>;
  if (error) return <div className="conn bad" data-testid="connection-state">App unreachable: {error}</div>;
  if (!status) return <div className="conn" data-testid="connection-state">Connecting…</div>;
  const p = status.proxy;
  const cls = p.state === 'connected' ? 'ok' : p.state === 'connecting' ? '' : 'bad';
  const workers = status.models.reduce((n, m) => n + m.workers, 0);
  return (
    <div className={`conn ${cls}`} data-testid="connection-state">
      <span className="badge">{status.network}</span>
      <span className="proxy" title={p.error ?? ''}>proxy {p.endpoint}: <b>{p.state}</b>{p.error ? ` — ${p.error}` : ''}</span>
      <span>{workers} worker{workers === 1 ? '' : 's'} for {status.models.length} model{status.models.length === 1 ? '' : 's'}</span>
      <span className="muted">{status.pricing.pricePerToken} nanoTON/token</span>
    </div>
  );
}

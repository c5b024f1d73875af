import type { ClientStatus } from '../../../shared/api-contract.ts';

export function ConnectionBar({ status, error }: { status: ClientStatus | null; error: string | null }) {
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

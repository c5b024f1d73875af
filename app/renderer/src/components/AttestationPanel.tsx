import type { ClientStatus } from '../../../shared/api-contract.ts';

/** The proxy's attestation as the client verified it in the TLS handshake: verdict and evidence. */
export function AttestationPanel({ status }: { status: ClientStatus | null }) {
  const a = status?.attestation;
  if (!status) return <section className="panel"><h2>Attestation</h2><p className="muted">Loading…</p></section>;
  if (!a) return <section className="panel"><h2>Attestation</h2><p className="muted">No proxy handshake yet ({status.proxy.state}).</p></section>;
  const rows: Array<[string, string]> = [
    ['Policy', a.policy],
    ['Quote', a.quoteKind === 'fake' ? 'development (fake) quote' : a.quoteKind === 'tdx' ? 'Intel TDX DCAP quote' : 'none'],
    ['Image hash', a.imageHash ?? '—'],
    ['Allowed by root', a.imageAllowed === null ? 'no allowlist' : a.imageAllowed ? 'yes' : 'NO'],
    ['MRTD', a.measurements?.mrTd ?? '—'],
    ['RTMR0', a.measurements?.rtmr0 ?? '—'],
    ['RTMR1', a.measurements?.rtmr1 ?? '—'],
    ['RTMR2', a.measurements?.rtmr2 ?? '—'],
    ['RTMR3', a.measurements?.rtmr3 ?? '—'],
    ['Certificate', a.certificate ? `${a.certificate.notBefore.slice(0, 19)} → ${a.certificate.notAfter.slice(0, 19)}` : '—'],
    ['TCB status', a.tcbStatus],
  ];
  return (
    <section className={`panel attestation ${a.valid ? 'ok' : 'bad'}`} data-testid="attestation-panel">
      <h2>Attestation</h2>
      <p className="verdict" data-testid="attestation-verdict">
        {a.valid ? '✔ Proxy attested' : `✖ Attestation failed: ${a.error ?? 'unknown reason'}`}
      </p>
      <dl>
        {rows.map(([k, v]) => (
          <div key={k} className="row">
            <dt>{k}</dt>
            <dd className="mono" data-testid={`attestation-${k.toLowerCase().replace(/\s+/g, '-')}`}>{v}</dd>
          </div>
        ))}
      </dl>
    </section>
  );
}

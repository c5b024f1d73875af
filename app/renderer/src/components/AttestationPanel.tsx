import type { ClientStatus } from '../../../shared/api-contract.ts';
import { CopyButton } from './Markdown.tsx';

/** What the panel's colour means; the same rule decides whether chat is allowed. */
export type AttestationVerdict = 'attested' | 'development' | 'failed' | 'disconnected' | 'none';

export function attestationVerdict(status: ClientStatus | null): AttestationVerdict {
  const a = status?.attestation;
  if (!status || !a) return 'none';
  if (!a.valid) return 'failed';
  if (status.proxy.state !== 'connected') return 'disconnected';
  return a.quoteKind === 'tdx' ? 'attested' : 'development';
}

const EXPLAIN: Record<string, string> = {
  Policy: 'The rule the client held the proxy to in the TLS handshake: tdx (real Intel TDX quotes), fake (development quotes), any (tests only).',
  Quote: 'The evidence the proxy presented: an Intel TDX DCAP quote signed by the CPU, or a development quote anyone can make.',
  'Image hash': 'SHA-256 over the TD measurements (MRTD, MRCONFIGID, MROWNER, MROWNERCONFIG, RTMR0–3): which guest image the proxy runs.',
  'Allowed by root': 'Whether the root contract on chain lists this image hash as an allowed proxy image.',
  MRTD: 'Measurement of the TD firmware and initial memory, taken by the TDX module.',
  RTMR0: 'Runtime measurement register 0: firmware configuration (TD HOB, ACPI tables).',
  RTMR1: 'Runtime measurement register 1: the kernel.',
  RTMR2: 'Runtime measurement register 2: kernel command line and initrd.',
  RTMR3: 'Runtime measurement register 3: the guest\'s own configuration.',
  Certificate: 'Validity of the proxy\'s short-lived RA-TLS certificate that carries the quote.',
  'TCB status': 'Intel\'s verdict on the platform\'s firmware and microcode (UpToDate, OutOfDate, Revoked…), from collateral.',
};

const VERDICT_TEXT: Record<AttestationVerdict, string> = {
  attested: '✔ Proxy attested (Intel TDX)',
  development: '▲ Development quote — not confidential',
  failed: '✖ Attestation failed',
  disconnected: '● Disconnected — not verified now',
  none: 'No proxy handshake yet',
};

/** The proxy's attestation as the client verified it in the TLS handshake: verdict and evidence. */
export function AttestationPanel({ status }: { status: ClientStatus | null }) {
  const a = status?.attestation;
  if (!status) return <section className="panel"><h2>Attestation</h2><p className="muted">Loading…</p></section>;
  const verdict = attestationVerdict(status);
  if (!a) return <section className="panel attestation none" data-testid="attestation-panel" data-verdict="none"><h2>Attestation</h2><p className="muted" data-testid="attestation-verdict">No proxy handshake yet ({status.proxy.state}).</p></section>;
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
  const detail = verdict === 'failed' ? `: ${a.error ?? 'unknown reason'}`
    : verdict === 'development' ? '. The proxy runs without TDX evidence; prompts are not protected from its host. Fine for local development only.'
    : verdict === 'disconnected' ? `. The proxy is ${status.proxy.state}${status.proxy.error ? ` (${status.proxy.error})` : ''}; below is what was verified at the last handshake.`
    : '';
  return (
    <section className={`panel attestation ${verdict}`} data-testid="attestation-panel" data-verdict={verdict}>
      <h2>Attestation</h2>
      <p className="verdict" data-testid="attestation-verdict">{VERDICT_TEXT[verdict]}{detail}</p>
      <dl>
        {rows.map(([k, v]) => (
          <div key={k} className="row">
            <dt title={EXPLAIN[k]}>{k} <span className="help" aria-label={EXPLAIN[k]}>?</span></dt>
            <dd className="mono">
              <span data-testid={`attestation-${k.toLowerCase().replace(/\s+/g, '-')}`}>{v}</span>
              {/^[0-9a-f]{32,}$/i.test(v) && <CopyButton value={v} />}
            </dd>
          </div>
        ))}
      </dl>
    </section>
  );
}

import { useState } from 'react';
import type { RequestResults } from '../../../../shared/api-contract.ts';
import { api } from '../../api.ts';

const MARK = { pass: '✔', warn: '!', fail: '✖', skip: '–' } as const;
const SECTION = { host: 'Host', image: 'Image', chain: 'Chain', proxy: 'Proxies' } as const;

/**
 * "Why can't my host join?": the same report as `cocoon why` — host checks, the image's hash
 * against the root's allowlist, the chain endpoint, each proxy dialed as a worker (with the reason
 * a proxy gives when it refuses) — every finding with what to do.
 */
export function WhyPanel() {
  const [report, setReport] = useState<RequestResults['owner.why'] | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const run = async () => {
    setBusy(true);
    setError(null);
    try {
      setReport(await api.request('owner.why'));
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section className="panel step" data-testid="why-panel">
      <h2>Why can't my host join?</h2>
      <div className="actions">
        <button data-testid="why-run" onClick={() => void run()} disabled={busy}>{busy ? 'Checking…' : report ? 'Check again' : 'Diagnose'}</button>
        {report && <span className="small" data-testid="why-verdict" data-ready={String(report.ready)}>{report.ready ? '✔ nothing blocks this worker' : `✖ blocked — first: ${report.firstFix ?? 'see below'}`}</span>}
      </div>
      {error && <p className="error">{error}</p>}
      {report && (
        <ul className="checks">
          {report.findings.map((f, i) => (
            <li key={`${f.id}-${f.subject ?? ''}-${i}`} className={`check ${f.status}`} data-testid={`why-${f.id}${f.subject ? `-${f.subject}` : ''}`} data-status={f.status}>
              <div className="check-line">
                <span className="mark">{MARK[f.status]}</span>
                <span className="muted small">{SECTION[f.section]}</span>
                <b className="mono">{f.id}</b>
                {f.subject && <span className="mono muted">{f.subject}</span>}
                <span className="detail">{f.detail}</span>
              </div>
              {f.fix && f.status !== 'pass' && <pre className="mono small fix">{f.fix}</pre>}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

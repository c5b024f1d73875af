import type { CheckResult } from '../../../../shared/api-contract.ts';
import { useOwner } from '../../owner-store.ts';

const MARK = { pass: '✔', warn: '!', fail: '✖', skip: '–' } as const;

/** Step 1: the doctor's checks; every failing or warning check shows its fix and can open it in the terminal. */
export function HostCheckStep() {
  const { report, reportError, checking, runChecks, openInTerminal } = useOwner();
  return (
    <div data-testid="host-checks">
      <div className="actions">
        <button onClick={() => void runChecks()} disabled={checking}>{checking ? 'Checking…' : 'Check again'}</button>
        {report && <span className="muted small">host root {report.hostRoot} · {new Date(report.at).toLocaleTimeString()}</span>}
      </div>
      {reportError && <p className="error">{reportError}</p>}
      {report && (
        <ul className="checks">
          {report.checks.map((c) => <CheckRow key={`${c.id}@${c.subject ?? ''}`} check={c} onRun={openInTerminal} />)}
        </ul>
      )}
    </div>
  );
}

function CheckRow({ check: c, onRun }: { check: CheckResult; onRun(cmd: string): void }) {
  const fix = c.status === 'fail' || c.status === 'warn' ? c.fix : undefined;
  return (
    <li className={`check ${c.status}`} data-testid={`check-${c.id}${c.subject ? `-${c.subject}` : ''}`} data-status={c.status}>
      <div className="check-line">
        <span className="mark">{MARK[c.status]}</span>
        <b className="mono">{c.id}</b>
        {c.subject && <span className="mono muted">{c.subject}</span>}
        <span className="detail">{c.detail}</span>
      </div>
      {c.evidence.length > 0 && (
        <details className="evidence"><summary className="muted small">evidence</summary><pre className="mono">{c.evidence.join('\n')}</pre></details>
      )}
      {fix && (
        <div className="fix" data-testid="fix">
          <p>{fix.summary}</p>
          {fix.bios && <ul className="small">{fix.bios.map((b) => <li key={b}>BIOS: {b}</li>)}</ul>}
          {fix.commands && <pre className="mono" data-testid="fix-commands">{fix.commands.join('\n')}</pre>}
          <div className="actions">
            {fix.commands && <button data-testid="fix-open-terminal" onClick={() => onRun(fix.commands!.join(' && '))}>Open in terminal</button>}
            {fix.link && <a href={fix.link} target="_blank" rel="noreferrer" className="small">vendor guide ↗</a>}
          </div>
        </div>
      )}
    </li>
  );
}

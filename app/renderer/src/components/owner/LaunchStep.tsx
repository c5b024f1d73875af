import { useEffect, useRef } from 'react';
import { useOwner } from '../../owner-store.ts';

const PHASES = ['starting', 'booted', 'worker-connected', 'serving'] as const;

/** Step 4: start and stop the TD guest, its phase and its live serial console. */
export function LaunchStep() {
  const { td, tdError, console: text, configCheck, startTd, stopTd } = useOwner();
  const pre = useRef<HTMLPreElement>(null);
  useEffect(() => { if (pre.current) pre.current.scrollTop = pre.current.scrollHeight; }, [text]);
  const phase = td?.phase ?? 'stopped';
  const running = !['stopped', 'crashed', 'unavailable'].includes(phase);
  return (
    <div data-testid="launch-step">
      <p>
        Guest: <b data-testid="td-phase">{phase}</b>
        {td?.mode && <> · {td.mode === 'tdx' ? 'Intel TDX' : 'emulation (no TDX)'}</>}
        {td?.pid ? <> · pid {td.pid}</> : null}
        {td && td.restarts > 0 && <> · {td.restarts} restarts</>}
      </p>
      <ol className="phases small">{PHASES.map((p) => <li key={p} className={PHASES.indexOf(p) <= PHASES.indexOf(phase as (typeof PHASES)[number]) ? 'reached' : ''}>{p}</li>)}</ol>
      {td?.message && <p className="muted small">{td.message}</p>}
      {tdError && <p className="error">{tdError}</p>}
      <div className="actions">
        <button onClick={() => void startTd()} disabled={running || phase === 'unavailable' || !configCheck?.ok}>Launch</button>
        <button className="stop" onClick={() => void stopTd()} disabled={!running}>Stop</button>
        {!configCheck?.ok && phase !== 'unavailable' && <span className="muted small">check the configuration first (step 3)</span>}
      </div>
      <pre ref={pre} className="console mono" data-testid="td-console">{text || 'the guest console appears here'}</pre>
    </div>
  );
}

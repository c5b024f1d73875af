import { useOwner } from '../../owner-store.ts';

/** Step 2: each NVIDIA GPU, its CC mode and driver, and the plan to prepare (or restore) it, run by the owner with sudo. */
export function GpuStep() {
  const { gpus, plans, openInTerminal, loadGpus } = useOwner();
  if (gpus.length === 0) return <p className="muted">No NVIDIA GPU on this host.</p>;
  return (
    <div data-testid="gpu-step">
      {gpus.map((g) => {
        const plan = plans[g.bdf];
        return (
          <div key={g.bdf} className="gpu" data-testid={`gpu-${g.bdf}`}>
            <p><b className="mono">{g.bdf}</b> {g.model} · driver <b>{g.driver ?? 'none'}</b> · CC <b>{g.ccClass ? g.ccMode ?? 'unknown' : 'not capable'}</b> · IOMMU group {g.iommuGroup ?? 'none'}</p>
            {plan && (
              <div className="plan">
                {plan.notes.map((n) => <p key={n} className="muted small">{n}</p>)}
                {plan.problems.map((p) => <p key={p} className="error small">{p}</p>)}
                {plan.steps.length > 0 && (
                  <>
                    <p className="small muted">{plan.action === 'prepare' ? 'Preparing' : 'Restoring'} does, in order (all or nothing):</p>
                    <ol className="small">{plan.steps.map((s) => <li key={s.id}>{s.description} <code className="mono muted">{s.command}</code></li>)}</ol>
                    <div className="actions">
                      <button data-testid={`gpu-${plan.action}`} disabled={plan.problems.length > 0} onClick={() => openInTerminal(plan.commandLine)}>
                        {plan.action === 'prepare' ? 'Prepare in terminal' : 'Restore in terminal'}
                      </button>
                      <button onClick={() => void loadGpus()}>Refresh</button>
                    </div>
                  </>
                )}
              </div>
            )}
          </div>
        );
      })}
    </div>
  );
}

import { useEffect, type ReactNode } from 'react';
import { useOwner } from '../../owner-store.ts';
import { DashboardStep } from './DashboardStep.tsx';
import { GpuStep } from './GpuStep.tsx';
import { HostCheckStep } from './HostCheckStep.tsx';
import { LaunchStep } from './LaunchStep.tsx';
import { TerminalPanel } from './TerminalPanel.tsx';
import { WorkerConfigStep } from './WorkerConfigStep.tsx';
import { WhyPanel } from './WhyPanel.tsx';
import { OwnerEconomicsStep } from '../economics/OwnerEconomics.tsx';

type StepState = 'done' | 'action' | 'waiting' | 'blocked';

/** GPU owner mode: the guided path from a bare TDX host to a serving worker, one step after another. */
export function OwnerMode() {
  const o = useOwner();
  useEffect(() => { void o.runChecks(); }, []); // eslint-disable-line react-hooks/exhaustive-deps

  const fails = o.report?.checks.filter((c) => c.status === 'fail').length ?? 0;
  const ccGpus = o.gpus.filter((g) => g.ccClass);
  const readyGpu = ccGpus.find((g) => g.driver === 'vfio-pci' && g.ccMode === 'on');
  const phase = o.td?.phase ?? 'stopped';
  const steps: Array<{ key: string; title: string; state: StepState; next: string; body: ReactNode }> = [
    { key: 'host', title: 'Host check', body: <HostCheckStep />,
      state: !o.report ? 'waiting' : fails === 0 ? 'done' : 'action',
      next: !o.report ? 'checking the host…' : fails === 0 ? 'this host is ready' : `fix the ${fails} failing check${fails === 1 ? '' : 's'} below, then check again` },
    { key: 'gpu', title: 'GPU preparation', body: <GpuStep />,
      state: readyGpu ? 'done' : ccGpus.length ? 'action' : 'blocked',
      next: readyGpu ? `${readyGpu.bdf} is in CC mode on vfio-pci` : ccGpus.length ? 'prepare the GPU (runs with sudo in the terminal)' : 'no H100/H200/B200-class GPU on this host' },
    { key: 'config', title: 'Worker configuration', body: <WorkerConfigStep />,
      state: o.configCheck?.ok ? 'done' : 'action', next: o.configCheck?.ok ? 'configuration valid' : 'enter the TON address payouts go to, then Check' },
    { key: 'launch', title: 'Launch', body: <LaunchStep />,
      state: phase === 'serving' ? 'done' : phase === 'unavailable' ? 'blocked' : 'action',
      next: phase === 'unavailable' ? (o.td?.message ?? 'no launcher') : phase === 'serving' ? 'the worker serves' : phase === 'stopped' ? 'launch the TD guest' : `guest ${phase}` },
    { key: 'dashboard', title: 'Worker dashboard', body: <DashboardStep />,
      state: o.dashboard?.available ? 'done' : 'waiting', next: o.dashboard?.available ? 'live' : 'numbers appear once the worker serves' },
    { key: 'earnings', title: 'Earnings and staking', body: <OwnerEconomicsStep />, state: 'action', next: 'claim signed payouts; proxy operators stake and withdraw' },
  ];

  return (
    <main className={`owner ${o.terminalOpen ? 'with-terminal' : ''}`} data-testid="owner-mode">
      <div className="owner-steps">
        {steps.map((s, i) => (
          <section key={s.key} className={`panel step ${s.state}`} data-testid={`step-${s.key}`} data-state={s.state}>
            <h2><span className="step-no">{i + 1}</span> {s.title} <span className={`step-state ${s.state}`}>{s.state}</span></h2>
            <p className="next small">Next: {s.next}</p>
            {s.body}
          </section>
        ))}
        <WhyPanel />
      </div>
      <div className="owner-terminal-bar">
        {o.terminalOpen ? <TerminalPanel /> : <button data-testid="open-terminal" onClick={() => o.setTerminalOpen(true)}>Open terminal</button>}
      </div>
    </main>
  );
}

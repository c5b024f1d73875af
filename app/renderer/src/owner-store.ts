import { create } from 'zustand';
import type { DoctorReport, GpuPlan, PciGpu, RequestResults, TdStatus, WorkerConfigCheck, WorkerConfigInput, WorkerDashboard } from '../../shared/api-contract.ts';
import { api } from './api.ts';

/** Owner mode's state: the doctor's report, GPUs and plans, the worker config, the TD guest, the terminal queue. */
const CONSOLE_LIMIT = 200_000;

interface OwnerState {
  report: (DoctorReport & { hostRoot: string; at: string }) | null;
  reportError: string | null;
  checking: boolean;
  gpus: Array<PciGpu & { ccMode: string | null }>;
  plans: Record<string, GpuPlan & { commandLine: string }>;
  config: WorkerConfigInput;
  configCheck: WorkerConfigCheck | null;
  td: TdStatus | null;
  tdError: string | null;
  console: string;
  dashboard: WorkerDashboard | null;
  /** A command waiting to be typed into the terminal (the owner presses Enter). */
  terminalRequest: { command: string; seq: number } | null;
  terminalOpen: boolean;
  runChecks(): Promise<void>;
  loadGpus(): Promise<void>;
  plan(action: 'prepare' | 'restore', bdf: string): Promise<void>;
  setConfig(patch: Partial<WorkerConfigInput>): void;
  checkConfig(): Promise<void>;
  startTd(): Promise<void>;
  stopTd(): Promise<void>;
  refreshDashboard(): Promise<void>;
  openInTerminal(command: string): void;
  setTerminalOpen(open: boolean): void;
}

export const useOwner = create<OwnerState>((set, get) => {
  api.on('owner.td.state', (td) => set({ td }));
  api.on('owner.td.console', ({ data }) => set({ console: (get().console + data).slice(-CONSOLE_LIMIT) }));
  const fail = (key: 'reportError' | 'tdError') => (e: Error) => set({ [key]: e.message } as Partial<OwnerState>);

  return {
    report: null, reportError: null, checking: false, gpus: [], plans: {},
    config: { ownerAddress: '', gpu: null, model: 'Qwen/Qwen3-0.6B' }, configCheck: null,
    td: null, tdError: null, console: '', dashboard: null, terminalRequest: null, terminalOpen: false,

    async runChecks() {
      set({ checking: true, reportError: null });
      try {
        const [report, td] = await Promise.all([api.request('owner.doctor'), api.request('owner.td.status')]);
        set({ report, td });
        await get().loadGpus();
      } catch (e) {
        fail('reportError')(e as Error);
      } finally {
        set({ checking: false });
      }
    },
    async loadGpus() {
      const gpus: RequestResults['owner.gpus'] = await api.request('owner.gpus');
      const config = get().config;
      const prepared = gpus.find((g) => g.ccClass && g.driver === 'vfio-pci') ?? gpus.find((g) => g.ccClass);
      set({ gpus, config: config.gpu === null && prepared ? { ...config, gpu: prepared.bdf } : config });
      for (const g of gpus.filter((x) => x.ccClass)) await get().plan(g.driver === 'vfio-pci' && g.ccMode === 'on' ? 'restore' : 'prepare', g.bdf);
    },
    async plan(action, bdf) {
      const plan = await api.request('owner.gpu.plan', { action, bdf });
      set({ plans: { ...get().plans, [bdf]: plan } });
    },
    setConfig(patch) {
      set({ config: { ...get().config, ...patch }, configCheck: null });
    },
    async checkConfig() {
      try {
        set({ configCheck: await api.request('owner.config.check', get().config) });
      } catch (e) {
        set({ configCheck: { ok: false, errors: { form: (e as Error).message }, ownerAddress: null, network: null } });
      }
    },
    async startTd() {
      set({ tdError: null, console: '' });
      try {
        set({ td: await api.request('owner.td.start', get().config) });
      } catch (e) {
        fail('tdError')(e as Error);
      }
    },
    async stopTd() {
      try {
        set({ td: await api.request('owner.td.stop') });
      } catch (e) {
        fail('tdError')(e as Error);
      }
    },
    async refreshDashboard() {
      try {
        set({ dashboard: await api.request('owner.worker.stats') });
      } catch {
        /* the dashboard keeps its last reading */
      }
    },
    openInTerminal(command) {
      set({ terminalOpen: true, terminalRequest: { command, seq: (get().terminalRequest?.seq ?? 0) + 1 } });
    },
    setTerminalOpen(open) {
      set({ terminalOpen: open });
    },
  };
});

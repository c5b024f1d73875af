import { ccQueryCommand, GPU_ADMIN_TOOLS_INSTALL, readCcMode, type CcMode } from './gpu-checks.ts';
import { GPU_ADMIN_TOOLS, type HostAccess } from './host-access.ts';
import { iommuGroupPeers, normalizeBdf, readGpu, type PciGpu } from './pci.ts';

/**
 * Preparing a GPU for passthrough, and undoing it: CC mode on (gpu-admin-tools), unbind from its
 * driver, `driver_override` = vfio-pci, `drivers_probe`, verify. Everything is planned and every
 * precondition checked before the first change; a step that fails rolls back the ones before it,
 * so a GPU is never left half-prepared. What prepare changed is recorded in a state file that
 * restore reads.
 */
export type StepStatus = 'planned' | 'done' | 'failed' | 'rolled-back';

export interface GpuStep {
  id: 'cc-mode' | 'vfio-module' | 'unbind' | 'driver-override' | 'probe' | 'verify' | 'state';
  description: string;
  /** The same change as a shell command, for the person reading a dry run. */
  command: string;
  status: StepStatus;
}

export interface GpuPlan {
  action: 'prepare' | 'restore';
  bdf: string;
  gpu: PciGpu | null;
  /** Preconditions that failed: nothing is applied while any is here. */
  problems: string[];
  notes: string[];
  steps: GpuStep[];
}

interface Step extends GpuStep {
  apply(): Promise<void>;
  undo?(): Promise<void>;
}

export interface PrepState {
  bdf: string;
  previousDriver: string | null;
  previousCcMode: CcMode | null;
  preparedAt: string;
}

export const stateFile = (bdf: string) => `/var/lib/cocoon/gpu/${bdf}.json`;
const dev = (bdf: string) => `/sys/bus/pci/devices/${bdf}`;
const ROOT_NEEDED = 'changing the GPU needs root: run it with sudo (sudo cocoon gpu …), or pass --dry-run to see the steps';

async function adminTool(host: HostAccess, bdf: string, mode: 'on' | 'off'): Promise<void> {
  const res = await host.run(GPU_ADMIN_TOOLS, [`--gpu-bdf=${bdf}`, `--set-cc-mode=${mode}`, '--reset-after-cc-mode-switch']);
  if (res === null) throw new Error(`${GPU_ADMIN_TOOLS} is not installed`);
  if (res.code !== 0) throw new Error(`${GPU_ADMIN_TOOLS} --set-cc-mode=${mode} exited ${res.code}: ${(res.stderr || res.stdout).trim().split('\n').pop()}`);
}

function driverOf(host: HostAccess, bdf: string): string | null {
  return readGpu(host, bdf)?.driver ?? null;
}

function sysfsStep(host: HostAccess, id: GpuStep['id'], description: string, path: string, value: string, undo?: () => Promise<void>): Step {
  return {
    id, description, status: 'planned',
    command: `echo ${value.trim() === '' ? "''" : value.trim()} | sudo tee ${path}`,
    apply: async () => host.write(path, value),
    ...(undo && { undo }),
  };
}

function resolveGpu(host: HostAccess, input: string, problems: string[]): { bdf: string; gpu: PciGpu | null } {
  const bdf = normalizeBdf(input);
  if (!bdf) {
    problems.push(`"${input}" is not a PCI address: use the form 0000:41:00.0 (see cocoon gpu list)`);
    return { bdf: input, gpu: null };
  }
  const gpu = readGpu(host, bdf);
  if (!gpu) problems.push(host.exists(dev(bdf)) ? `${bdf} is not an NVIDIA device` : `no PCI device ${bdf} on this host (see cocoon gpu list)`);
  return { bdf, gpu };
}

export async function planPrepare(host: HostAccess, input: string): Promise<{ plan: GpuPlan; steps: Step[] }> {
  const problems: string[] = [];
  const notes: string[] = [];
  const steps: Step[] = [];
  const { bdf, gpu } = resolveGpu(host, input, problems);
  if (gpu) {
    if (!gpu.ccClass) problems.push(`${bdf} is an ${gpu.model}, which has no confidential computing: workers need an H100, H200 or B200`);
    if (gpu.iommuGroup === null) problems.push(`${bdf} has no IOMMU group: turn the IOMMU on first (cocoon doctor, check iommu)`);
    else {
      const dirty = iommuGroupPeers(host, gpu.iommuGroup, bdf).filter((p) => !p.bridge && p.driver !== null && p.driver !== 'vfio-pci');
      if (dirty.length) problems.push(`IOMMU group ${gpu.iommuGroup} also holds ${dirty.map((p) => `${p.bdf} (on ${p.driver})`).join(', ')}: the whole group goes to the guest; bind those to vfio-pci first or move the GPU to a slot with its own group`);
    }
    const cc = gpu.ccClass ? await readCcMode(host, gpu) : { mode: null, toolMissing: false, evidence: [] };
    if (gpu.ccClass && cc.mode === 'on') notes.push('CC mode is already on');
    else if (gpu.ccClass && cc.mode !== null) {
      steps.push({ id: 'cc-mode', description: `switch CC mode ${cc.mode} → on with gpu-admin-tools (the GPU resets)`, status: 'planned',
        command: `sudo python3 ${GPU_ADMIN_TOOLS} --gpu-bdf=${bdf} --set-cc-mode=on --reset-after-cc-mode-switch`,
        apply: () => adminTool(host, bdf, 'on'), undo: () => adminTool(host, bdf, 'off') });
    } else if (gpu.ccClass) {
      problems.push(cc.toolMissing
        ? `the CC mode of ${bdf} cannot be read or set: NVIDIA gpu-admin-tools is not installed. Get it: ${GPU_ADMIN_TOOLS_INSTALL.join(' && ')}`
        : `the CC mode of ${bdf} could not be read (${cc.evidence.join('; ')}); try: ${ccQueryCommand(bdf)}`);
    }
    if (!host.exists('/sys/bus/pci/drivers/vfio-pci')) {
      steps.push({ id: 'vfio-module', description: 'load the vfio-pci driver', command: 'sudo modprobe vfio-pci', status: 'planned',
        apply: async () => {
          const res = await host.run('modprobe', ['vfio-pci']);
          if (!res || res.code !== 0 || !host.exists('/sys/bus/pci/drivers/vfio-pci')) throw new Error(`modprobe vfio-pci failed${res ? `: ${res.stderr.trim()}` : ': modprobe not found'}`);
        } });
    }
    const previous = gpu.driver;
    if (previous === 'vfio-pci') notes.push(`${bdf} is already bound to vfio-pci`);
    else {
      if (previous) {
        steps.push(sysfsStep(host, 'unbind', `unbind ${bdf} from ${previous}`, `/sys/bus/pci/drivers/${previous}/unbind`, bdf,
          async () => { if (!driverOf(host, bdf)) host.write(`/sys/bus/pci/drivers/${previous}/bind`, bdf); }));
      }
      steps.push(sysfsStep(host, 'driver-override', `set driver_override of ${bdf} to vfio-pci`, `${dev(bdf)}/driver_override`, 'vfio-pci',
        async () => host.write(`${dev(bdf)}/driver_override`, '\n')));
      steps.push(sysfsStep(host, 'probe', `probe ${bdf} so vfio-pci takes it`, '/sys/bus/pci/drivers_probe', bdf,
        async () => { if (driverOf(host, bdf) === 'vfio-pci') host.write('/sys/bus/pci/drivers/vfio-pci/unbind', bdf); }));
      steps.push({ id: 'verify', description: `check that ${bdf} is bound to vfio-pci`, command: `readlink ${dev(bdf)}/driver`, status: 'planned',
        apply: async () => {
          const now = driverOf(host, bdf);
          if (now !== 'vfio-pci') throw new Error(`${bdf} is bound to ${now ?? 'no driver'} after the probe, not vfio-pci`);
        } });
    }
    if (steps.length) {
      const state: PrepState = { bdf, previousDriver: previous === 'vfio-pci' ? null : previous, previousCcMode: cc.mode, preparedAt: new Date().toISOString() };
      steps.push({ id: 'state', description: `record what changed in ${stateFile(bdf)} (restore reads it)`, command: `(cocoon writes ${stateFile(bdf)})`, status: 'planned',
        apply: async () => host.writeFile(stateFile(bdf), JSON.stringify(state, null, 2) + '\n'), undo: async () => host.removeFile(stateFile(bdf)) });
    }
  }
  return { plan: { action: 'prepare', bdf, gpu, problems, notes, steps: steps.map(publicStep) }, steps };
}

export async function planRestore(host: HostAccess, input: string): Promise<{ plan: GpuPlan; steps: Step[] }> {
  const problems: string[] = [];
  const notes: string[] = [];
  const steps: Step[] = [];
  const { bdf, gpu } = resolveGpu(host, input, problems);
  if (gpu) {
    const raw = host.readText(stateFile(bdf));
    let state: PrepState | null = null;
    try {
      state = raw ? (JSON.parse(raw) as PrepState) : null;
    } catch {
      problems.push(`${stateFile(bdf)} is not valid JSON; fix or remove it`);
    }
    if (!raw) notes.push(`no record of a prepare (${stateFile(bdf)}): the GPU goes back to the nvidia driver and its CC mode stays as it is`);
    const target = state ? state.previousDriver : 'nvidia';
    if (gpu.driver === 'vfio-pci') {
      steps.push(sysfsStep(host, 'unbind', `unbind ${bdf} from vfio-pci`, '/sys/bus/pci/drivers/vfio-pci/unbind', bdf,
        async () => { if (!driverOf(host, bdf)) host.write('/sys/bus/pci/drivers_probe', bdf); }));
    }
    if (gpu.driverOverride) {
      steps.push(sysfsStep(host, 'driver-override', `clear driver_override of ${bdf}`, `${dev(bdf)}/driver_override`, '\n',
        async () => host.write(`${dev(bdf)}/driver_override`, gpu.driverOverride!)));
    }
    if (gpu.driver === 'vfio-pci' || gpu.driver === null) {
      steps.push(sysfsStep(host, 'probe', `probe ${bdf} so ${target ?? 'its own driver'} takes it`, '/sys/bus/pci/drivers_probe', bdf));
      if (target) {
        steps.push({ id: 'verify', description: `check that ${bdf} is bound to ${target}`, command: `readlink ${dev(bdf)}/driver`, status: 'planned',
          apply: async () => {
            const now = driverOf(host, bdf);
            if (now !== target) throw new Error(`${bdf} is bound to ${now ?? 'no driver'} after the probe, not ${target} (is the ${target} module loaded?)`);
          } });
      }
    }
    if (state && state.previousCcMode === 'off') {
      steps.push({ id: 'cc-mode', description: 'switch CC mode back off with gpu-admin-tools (the GPU resets)', status: 'planned',
        command: `sudo python3 ${GPU_ADMIN_TOOLS} --gpu-bdf=${bdf} --set-cc-mode=off --reset-after-cc-mode-switch`,
        apply: () => adminTool(host, bdf, 'off'), undo: () => adminTool(host, bdf, 'on') });
      if ((await host.run(GPU_ADMIN_TOOLS, [`--gpu-bdf=${bdf}`, '--query-cc-mode'])) === null) {
        problems.push(`CC mode was off before prepare, and switching it back needs NVIDIA gpu-admin-tools, which is not installed. Get it: ${GPU_ADMIN_TOOLS_INSTALL.join(' && ')}`);
      }
    }
    if (raw) {
      steps.push({ id: 'state', description: `remove ${stateFile(bdf)}`, command: `sudo rm ${stateFile(bdf)}`, status: 'planned',
        apply: async () => host.removeFile(stateFile(bdf)), undo: async () => host.writeFile(stateFile(bdf), raw) });
    }
    if (steps.length === 0) notes.push(`${bdf} is on ${gpu.driver} with no override: nothing to restore`);
  }
  return { plan: { action: 'restore', bdf, gpu, problems, notes, steps: steps.map(publicStep) }, steps };
}

function publicStep(s: Step): GpuStep {
  return { id: s.id, description: s.description, command: s.command, status: s.status };
}

export class GpuPrepError extends Error {
  constructor(message: string, readonly plan: GpuPlan) {
    super(message);
  }
}

/**
 * Applies a plan: refuses while any precondition failed or without root, runs the steps in
 * order, and on a failed step undoes the done ones in reverse before reporting.
 */
export async function applyPlan(host: HostAccess, planned: { plan: GpuPlan; steps: Step[] }): Promise<GpuPlan> {
  const { plan, steps } = planned;
  const report = (): GpuPlan => ({ ...plan, steps: steps.map(publicStep) });
  if (plan.problems.length) throw new GpuPrepError(`nothing was changed: ${plan.problems.join('; ')}`, report());
  if (!host.canChange()) throw new GpuPrepError(`nothing was changed: ${ROOT_NEEDED}`, report());
  const done: Step[] = [];
  for (const step of steps) {
    try {
      await step.apply();
      step.status = 'done';
      done.push(step);
    } catch (err) {
      step.status = 'failed';
      const undoErrors: string[] = [];
      for (const prev of done.reverse()) {
        try {
          await prev.undo?.();
          prev.status = 'rolled-back';
        } catch (undoErr) {
          undoErrors.push(`${prev.id}: ${(undoErr as Error).message}`);
        }
      }
      throw new GpuPrepError(`step "${step.id}" failed: ${(err as Error).message}; ${undoErrors.length ? `rolling back failed too (${undoErrors.join('; ')}): check the GPU by hand with cocoon doctor` : 'every earlier step was rolled back'}`, report());
    }
  }
  return report();
}

import { LINKS, type CheckResult } from './check.ts';
import { GPU_ADMIN_TOOLS, type HostAccess } from './host-access.ts';
import { iommuGroupPeers, listNvidiaGpus, type PciGpu } from './pci.ts';

/** Per-GPU checks: model class, confidential-computing mode, vfio-pci binding and IOMMU group. */

export type CcMode = 'on' | 'off' | 'devtools';

export interface CcReading {
  mode: CcMode | null;
  /** Where the answer came from, or why there is none. */
  evidence: string[];
  /** No tool could answer (gpu-admin-tools missing and nvidia-smi unusable). */
  toolMissing: boolean;
}

export const GPU_ADMIN_TOOLS_INSTALL = [
  'sudo git clone https://github.com/NVIDIA/gpu-admin-tools /opt/gpu-admin-tools',
  'export COCOON_GPU_ADMIN_TOOLS=/opt/gpu-admin-tools',
];

export function ccQueryCommand(bdf: string): string {
  return `sudo python3 /opt/gpu-admin-tools/${GPU_ADMIN_TOOLS} --gpu-bdf=${bdf} --query-cc-mode`;
}

/**
 * The GPU's CC mode: from gpu-admin-tools (works whatever driver holds the GPU), else from
 * `nvidia-smi conf-compute -f` while the nvidia driver holds it ("CC status: ON|OFF").
 */
export async function readCcMode(host: HostAccess, gpu: PciGpu): Promise<CcReading> {
  const admin = await host.run(GPU_ADMIN_TOOLS, [`--gpu-bdf=${gpu.bdf}`, '--query-cc-mode']);
  if (admin !== null) {
    const out = `${admin.stdout}\n${admin.stderr}`;
    const m = /cc mode (?:is |= ?|: ?)?(on|off|devtools)\b/i.exec(out);
    const line = out.split('\n').find((l) => /cc mode/i.test(l))?.trim();
    if (admin.code === 0 && m) return { mode: m[1]!.toLowerCase() as CcMode, evidence: [`${GPU_ADMIN_TOOLS} --query-cc-mode: ${line}`], toolMissing: false };
    return { mode: null, evidence: [`${GPU_ADMIN_TOOLS} --query-cc-mode: exit ${admin.code}: ${out.trim().split('\n').pop() ?? ''}`], toolMissing: false };
  }
  const evidence = [`${GPU_ADMIN_TOOLS}: not installed`];
  if (gpu.driver === 'nvidia') {
    const smi = await host.run('nvidia-smi', ['conf-compute', '-f']);
    if (smi === null) return { mode: null, evidence: [...evidence, 'nvidia-smi: not installed'], toolMissing: true };
    const m = /CC status:\s*(ON|OFF|DEVTOOLS)/i.exec(smi.stdout);
    if (smi.code === 0 && m) return { mode: m[1]!.toLowerCase() as CcMode, evidence: [...evidence, `nvidia-smi conf-compute -f: ${m[0]}`], toolMissing: false };
    return { mode: null, evidence: [...evidence, `nvidia-smi conf-compute -f: exit ${smi.code}`], toolMissing: true };
  }
  return { mode: null, evidence: [...evidence, `nvidia-smi cannot see a GPU bound to ${gpu.driver ?? 'no driver'}`], toolMissing: true };
}

/** Product name, VBIOS and driver versions per GPU from `nvidia-smi -q` (only GPUs the nvidia driver holds). */
async function nvidiaSmiFacts(host: HostAccess): Promise<Map<string, string>> {
  const facts = new Map<string, string>();
  const res = await host.run('nvidia-smi', ['-q']);
  if (!res || res.code !== 0) return facts;
  const driver = /^Driver Version\s*:\s*(.+)$/m.exec(res.stdout)?.[1]?.trim();
  for (const section of res.stdout.split(/^(?=GPU [0-9A-Fa-f]{8}:)/m).slice(1)) {
    const id = /^GPU ([0-9A-Fa-f]{8}):([0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.\d)/.exec(section);
    if (!id) continue;
    const bdf = `${id[1]!.slice(4)}:${id[2]}`.toLowerCase();
    const field = (name: string) => new RegExp(`^\\s*${name}\\s*:\\s*(.+)$`, 'm').exec(section)?.[1]?.trim();
    facts.set(bdf, `nvidia-smi -q: ${field('Product Name') ?? '?'}, VBIOS ${field('VBIOS Version') ?? '?'}, driver ${driver ?? '?'}`);
  }
  return facts;
}

export async function checkGpus(host: HostAccess): Promise<CheckResult[]> {
  const gpus = listNvidiaGpus(host);
  if (gpus.length === 0) {
    const none = { status: 'skip' as const, detail: 'no NVIDIA GPU', evidence: [] };
    return [
      { id: 'gpu', title: 'NVIDIA H100/H200/B200-class GPU', status: 'fail', detail: 'no NVIDIA GPU found on the PCI bus', evidence: ['/sys/bus/pci/devices: no device with vendor 0x10de and a display class'],
        fix: { summary: 'Install an NVIDIA H100, H200 or B200 GPU (the classes with confidential computing); if one is installed, check that it is seated and enabled in the BIOS.', commands: ['lspci -nn -d 10de:'], link: LINKS.nvidiaCcGuide } },
      { id: 'gpu-cc', title: 'GPU confidential-computing mode', ...none },
      { id: 'gpu-vfio', title: 'GPU bound to vfio-pci, IOMMU group clean', ...none },
    ];
  }
  const smi = await nvidiaSmiFacts(host);
  const out: CheckResult[] = [];
  for (const gpu of gpus) out.push(gpuModel(gpu, smi.get(gpu.bdf)));
  for (const gpu of gpus) out.push(await gpuCc(host, gpu));
  for (const gpu of gpus) out.push(gpuVfio(host, gpu));
  return out;
}

function gpuModel(gpu: PciGpu, smi: string | undefined): CheckResult {
  const base = { id: 'gpu' as const, subject: gpu.bdf, title: `GPU ${gpu.bdf}` };
  const evidence = [`/sys/bus/pci/devices/${gpu.bdf}: 10de:${gpu.deviceId}, driver ${gpu.driver ?? 'none'}`, ...(smi ? [smi] : [])];
  if (gpu.ccClass) return { ...base, status: 'pass', detail: `${gpu.model} (10de:${gpu.deviceId}), H100/H200/B200 class`, evidence };
  return { ...base, status: 'fail', detail: `${gpu.model} (10de:${gpu.deviceId}) has no confidential computing: workers need an H100, H200 or B200`, evidence,
    fix: { summary: 'Use an NVIDIA H100, H200 or B200 GPU; other GPUs cannot run in confidential-computing mode.', link: LINKS.nvidiaCcGuide } };
}

async function gpuCc(host: HostAccess, gpu: PciGpu): Promise<CheckResult> {
  const base = { id: 'gpu-cc' as const, subject: gpu.bdf, title: `GPU ${gpu.bdf} confidential-computing mode` };
  if (!gpu.ccClass) return { ...base, status: 'skip', detail: `${gpu.model} is not CC-capable`, evidence: [] };
  const cc = await readCcMode(host, gpu);
  const prepare = { summary: 'Switch the GPU to CC mode (cocoon gpu prepare does it with gpu-admin-tools, together with the vfio-pci binding).', commands: [`sudo cocoon gpu prepare --gpu ${gpu.bdf}`], link: LINKS.gpuAdminTools };
  if (cc.mode === 'on') return { ...base, status: 'pass', detail: `${gpu.model}: CC capable, CC mode on`, evidence: cc.evidence };
  if (cc.mode === 'off' || cc.mode === 'devtools') return { ...base, status: 'fail', detail: `${gpu.model}: CC capable, CC mode ${cc.mode}`, evidence: cc.evidence, fix: prepare };
  if (cc.toolMissing) {
    return { ...base, status: 'fail', detail: `${gpu.model}: CC capable, CC mode unknown: NVIDIA gpu-admin-tools is not installed`, evidence: cc.evidence,
      fix: { summary: 'Install NVIDIA gpu-admin-tools (it reads and sets the CC mode whatever driver holds the GPU), then check again.', commands: [...GPU_ADMIN_TOOLS_INSTALL, ccQueryCommand(gpu.bdf)], link: LINKS.gpuAdminTools } };
  }
  return { ...base, status: 'fail', detail: `${gpu.model}: CC mode could not be read`, evidence: cc.evidence,
    fix: { summary: 'Run the query as root and read its message; an old VBIOS may need an update from NVIDIA support for CC.', commands: [ccQueryCommand(gpu.bdf)], link: LINKS.gpuAdminTools } };
}

function gpuVfio(host: HostAccess, gpu: PciGpu): CheckResult {
  const base = { id: 'gpu-vfio' as const, subject: gpu.bdf, title: `GPU ${gpu.bdf} bound to vfio-pci` };
  if (!gpu.ccClass) return { ...base, status: 'skip', detail: `${gpu.model} is not CC-capable`, evidence: [] };
  const evidence = [`/sys/bus/pci/devices/${gpu.bdf}/driver: ${gpu.driver ?? '(none)'}`, `driver_override: ${gpu.driverOverride ?? '(null)'}`, `iommu_group: ${gpu.iommuGroup ?? '(none)'}`];
  const prepare = { summary: 'Bind the GPU to vfio-pci for passthrough (CC mode first, then unbind from its driver, driver_override, probe).', commands: [`sudo cocoon gpu prepare --gpu ${gpu.bdf}`], link: LINKS.vfio };
  if (gpu.iommuGroup === null) return { ...base, status: 'fail', detail: 'the GPU has no IOMMU group: the IOMMU is off', evidence, fix: { summary: 'Turn the IOMMU on first (see the iommu check).', link: LINKS.vfio } };
  const peers = iommuGroupPeers(host, gpu.iommuGroup, gpu.bdf);
  evidence.push(`iommu group ${gpu.iommuGroup}: ${[gpu.bdf, ...peers.map((p) => `${p.bdf} (${p.bridge ? 'bridge' : p.driver ?? 'no driver'})`)].join(', ')}`);
  if (gpu.driver !== 'vfio-pci') return { ...base, status: 'fail', detail: `bound to ${gpu.driver ?? 'no driver'}, not vfio-pci`, evidence, fix: prepare };
  const dirty = peers.filter((p) => !p.bridge && p.driver !== null && p.driver !== 'vfio-pci');
  if (dirty.length) {
    return { ...base, status: 'fail', detail: `IOMMU group ${gpu.iommuGroup} also holds ${dirty.map((p) => `${p.bdf} on ${p.driver}`).join(', ')}`, evidence,
      fix: { summary: 'Every device in the GPU\'s IOMMU group must go to the guest or stay unbound: bind them to vfio-pci too, or move the GPU to a slot with its own group (ACS).', commands: dirty.map((p) => `echo vfio-pci | sudo tee /sys/bus/pci/devices/${p.bdf}/driver_override && echo ${p.bdf} | sudo tee /sys/bus/pci/devices/${p.bdf}/driver/unbind && echo ${p.bdf} | sudo tee /sys/bus/pci/drivers_probe`), link: LINKS.vfio } };
  }
  const devNode = `/dev/vfio/${gpu.iommuGroup}`;
  evidence.push(`${devNode}: ${host.exists(devNode) ? 'present' : 'missing'}`);
  if (!host.exists(devNode)) return { ...base, status: 'warn', detail: `bound to vfio-pci but ${devNode} is missing`, evidence, fix: { summary: 'Load the vfio modules so the group device appears.', commands: ['sudo modprobe vfio-pci', `ls -l ${devNode}`], link: LINKS.vfio } };
  return { ...base, status: 'pass', detail: `bound to vfio-pci, IOMMU group ${gpu.iommuGroup} clean`, evidence };
}

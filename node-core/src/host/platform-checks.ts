import { LINKS, type CheckResult } from './check.ts';
import type { HostAccess } from './host-access.ts';

/** Checks of the host platform: kernel, CPU/BIOS TDX, KVM, QEMU, TDX firmware, IOMMU, memory, disk. */

const MIN_KERNEL: [number, number] = [6, 16];
const MIN_QEMU: [number, number] = [10, 1];
const GiB = 1024 ** 3;
const GB = 1e9;
// The worker guest takes 100 GiB of memory (the reference launch); the host needs room besides.
const MEMORY_PASS = 128 * GiB;
const MEMORY_WARN = 64 * GiB;
// Guest images, the persistent disk and model weights.
const DISK_PASS = 200 * GB;
const DISK_WARN = 100 * GB;

/**
 * TDVF (TDX virtual firmware) carries a metadata table identified by this GUID (TDVF design
 * guide); an OVMF build without TDX support does not. Stored little-endian as in the image.
 */
const TDVF_METADATA_GUID = Buffer.from('f3f9eae98e16d544a8eb7f4d8738f6ae', 'hex');
export const TDX_FIRMWARE_CANDIDATES = [
  '/usr/share/ovmf/OVMF.tdx.fd',
  '/usr/share/ovmf/OVMF.inteltdx.fd',
  '/usr/share/edk2/ovmf/OVMF.inteltdx.fd',
  '/usr/share/qemu/OVMF.inteltdx.fd',
  '/usr/share/ovmf/OVMF.fd',
  '/usr/share/qemu/OVMF.fd',
];

const older = (v: [number, number], min: [number, number]) => v[0] < min[0] || (v[0] === min[0] && v[1] < min[1]);

export function checkKernel(host: HostAccess): CheckResult {
  const release = host.readText('/proc/sys/kernel/osrelease')?.trim();
  const base = { id: 'kernel' as const, title: 'Linux kernel 6.16 or newer' };
  const fix = {
    summary: 'Install a Linux 6.16+ kernel with TDX host support (KVM TDX landed in 6.16), then reboot into it.',
    commands: ['uname -r', 'sudo apt-get install -t "$(lsb_release -cs)-backports" linux-image-amd64', 'sudo reboot'],
    link: LINKS.canonicalTdx,
  };
  const m = release ? /^(\d+)\.(\d+)/.exec(release) : null;
  if (!release || !m) return { ...base, status: 'fail', detail: 'kernel release unknown: /proc/sys/kernel/osrelease is missing or unreadable', evidence: [], fix };
  const v: [number, number] = [Number(m[1]), Number(m[2])];
  const evidence = [`/proc/sys/kernel/osrelease: ${release}`];
  if (older(v, MIN_KERNEL)) return { ...base, status: 'fail', detail: `kernel ${release} is older than 6.16`, evidence, fix };
  return { ...base, status: 'pass', detail: `kernel ${release}`, evidence };
}

export function checkCpuTdx(host: HostAccess): CheckResult {
  const base = { id: 'cpu-tdx' as const, title: 'TDX-capable Intel CPU, TDX enabled in firmware' };
  const cpuinfo = host.readText('/proc/cpuinfo');
  const bios = {
    summary: 'Enable TDX in the BIOS/UEFI setup (all of the settings below), then boot a TDX-enabled kernel.',
    bios: [
      'Memory Encryption (TME): Enabled',
      'Total Memory Encryption Multi-Tenant (TME-MT): Enabled',
      'TME-MT memory integrity: Disabled',
      'Trust Domain Extension (TDX): Enabled',
      'TDX Secure Arbitration Mode Loader (SEAM Loader): Enabled',
      'TME-MT/TDX key split: non-zero (e.g. 1)',
    ],
    link: LINKS.intelTdxBios,
  };
  if (!cpuinfo) return { ...base, status: 'fail', detail: '/proc/cpuinfo is missing', evidence: [], fix: { ...bios, summary: 'Run the checks on the Linux host itself.' } };
  const first = cpuinfo.split(/\n\s*\n/)[0] ?? '';
  const field = (name: string) => new RegExp(`^${name}\\s*:\\s*(.*)$`, 'm').exec(first)?.[1]?.trim() ?? '';
  const flags = new Set(field('flags').split(/\s+/));
  const vendor = field('vendor_id');
  const model = field('model name');
  const evidence = [`/proc/cpuinfo: vendor_id ${vendor || '?'}, model name ${model || '?'}`, `cpu flags: ${['tdx_host_platform', 'tdx_guest', 'hypervisor', 'vmx'].map((f) => `${f}${flags.has(f) ? '+' : '-'}`).join(' ')}`];
  if (flags.has('tdx_guest')) {
    return { ...base, status: 'fail', detail: 'this machine is itself a TD guest (cpu flag tdx_guest); the worker host must be the bare-metal TDX host', evidence,
      fix: { summary: 'Run Cocoon on the bare-metal TDX host that launches the worker guest, not inside a TD.', link: LINKS.intelTdxHost } };
  }
  if (flags.has('hypervisor')) {
    return { ...base, status: 'fail', detail: 'this is a virtual machine (cpu flag hypervisor): TD guests cannot be launched from it', evidence,
      fix: { summary: 'Use a bare-metal server with a TDX-capable Intel Xeon (4th gen Sapphire Rapids or newer) and TDX enabled in its BIOS; cloud VMs cannot host TD guests.', link: LINKS.intelTdxBios } };
  }
  if (vendor !== 'GenuineIntel') {
    return { ...base, status: 'fail', detail: `CPU vendor ${vendor || 'unknown'} is not Intel: Intel TDX needs an Intel Xeon`, evidence,
      fix: { summary: 'Use a server with a TDX-capable Intel Xeon (4th gen Sapphire Rapids or newer).', link: LINKS.intelTdxBios } };
  }
  if (!flags.has('tdx_host_platform')) {
    return { ...base, status: 'fail', detail: `${model || 'the CPU'} does not report tdx_host_platform: TDX is off in the BIOS, unsupported by this CPU, or the kernel lacks TDX host support`, evidence, fix: bios };
  }
  return { ...base, status: 'pass', detail: `${model} with TDX enabled (tdx_host_platform)`, evidence };
}

export async function checkKvmTdx(host: HostAccess): Promise<CheckResult> {
  const base = { id: 'kvm-tdx' as const, title: 'KVM has TDX enabled' };
  const param = host.readText('/sys/module/kvm_intel/parameters/tdx')?.trim();
  const dmesg = await host.run('dmesg', []);
  const tdxLines = dmesg && dmesg.code === 0 ? dmesg.stdout.split('\n').filter((l) => /\btdx\b|virt\/tdx/i.test(l)).map((l) => l.trim()).slice(0, 8) : [];
  const evidence = [
    `/sys/module/kvm_intel/parameters/tdx: ${param ?? '(missing)'}`,
    ...(dmesg === null ? ['dmesg: not installed'] : dmesg.code !== 0 ? [`dmesg: exit ${dmesg.code} (reading the kernel log may need root)`] : tdxLines.length ? tdxLines.map((l) => `dmesg: ${l}`) : ['dmesg: no TDX lines']),
  ];
  const moduleFailed = tdxLines.some((l) => /virt\/tdx: .*(fail|error)/i.test(l));
  const enable = {
    summary: 'Load kvm_intel with TDX enabled (and keep it so across reboots).',
    commands: ['echo "options kvm_intel tdx=1" | sudo tee /etc/modprobe.d/kvm-intel-tdx.conf', 'sudo modprobe -r kvm_intel', 'sudo modprobe kvm_intel', 'cat /sys/module/kvm_intel/parameters/tdx'],
    link: LINKS.intelTdxHost,
  };
  if (param === 'Y' && !moduleFailed) return { ...base, status: 'pass', detail: 'kvm_intel loaded with tdx=Y', evidence };
  if (param === undefined && !host.exists('/sys/module/kvm_intel')) return { ...base, status: 'fail', detail: 'kvm_intel is not loaded', evidence, fix: enable };
  if (param === undefined) {
    return { ...base, status: 'fail', detail: 'kvm_intel has no tdx parameter: this kernel was built without KVM TDX support', evidence,
      fix: { summary: 'Boot a 6.16+ kernel built with CONFIG_KVM_INTEL_TDX=y.', link: LINKS.kernelTdx } };
  }
  return { ...base, status: 'fail', detail: moduleFailed ? 'the TDX module failed to initialize (see the kernel log lines)' : `kvm_intel loaded with tdx=${param}`, evidence, fix: enable };
}

export async function checkQemu(host: HostAccess): Promise<CheckResult> {
  const base = { id: 'qemu' as const, title: 'QEMU 10.1 or newer with TDX' };
  const fix = {
    summary: 'Install QEMU 10.1+ built with TDX support (distribution packages, the Canonical TDX PPA, or a source build), so that `qemu-system-x86_64 -object help` lists tdx-guest.',
    commands: ['sudo apt-get install qemu-system-x86', 'qemu-system-x86_64 --version', 'qemu-system-x86_64 -object help | grep tdx-guest'],
    link: LINKS.qemuTdx,
  };
  const version = await host.run('qemu-system-x86_64', ['--version']);
  if (version === null) return { ...base, status: 'fail', detail: 'qemu-system-x86_64 is not installed', evidence: ['qemu-system-x86_64: not found on PATH'], fix };
  const line = version.stdout.split('\n')[0]?.trim() ?? '';
  const m = /version (\d+)\.(\d+)(?:\.(\d+))?/.exec(line);
  const evidence = [`qemu-system-x86_64 --version: ${line || '(no output)'}`];
  if (!m) return { ...base, status: 'fail', detail: 'could not read the QEMU version', evidence, fix };
  const v = `${m[1]}.${m[2]}${m[3] ? `.${m[3]}` : ''}`;
  const objects = await host.run('qemu-system-x86_64', ['-object', 'help']);
  const hasTdx = /^\s*tdx-guest\s*$/m.test(objects?.stdout ?? '');
  evidence.push(`qemu-system-x86_64 -object help: ${hasTdx ? 'lists tdx-guest' : 'no tdx-guest'}`);
  if (older([Number(m[1]), Number(m[2])], MIN_QEMU)) return { ...base, status: 'fail', detail: `QEMU ${v} is older than 10.1`, evidence, fix };
  if (!hasTdx) return { ...base, status: 'fail', detail: `QEMU ${v} has no tdx-guest object (built without TDX)`, evidence, fix };
  return { ...base, status: 'pass', detail: `QEMU ${v} with tdx-guest`, evidence };
}

export function checkTdxFirmware(host: HostAccess): CheckResult {
  const base = { id: 'tdx-firmware' as const, title: 'TDX virtual firmware (TDVF/OVMF)' };
  const fix = {
    summary: 'Install an OVMF build with TDX support (TDVF): the distribution ovmf package on a TDX-enabled release, the Canonical TDX PPA, or the guest image bundle\'s OVMF.fd.',
    commands: ['sudo apt-get install ovmf', 'ls /usr/share/ovmf/'],
    link: LINKS.canonicalTdx,
  };
  const found = TDX_FIRMWARE_CANDIDATES.filter((p) => host.exists(p));
  const tdx = found.filter((p) => host.readBytes(p)?.includes(TDVF_METADATA_GUID));
  const evidence = found.length ? found.map((p) => `${p}: ${tdx.includes(p) ? 'TDVF metadata present' : 'no TDVF metadata (not a TDX build)'}`) : [`none of ${TDX_FIRMWARE_CANDIDATES.join(', ')}`];
  if (tdx.length) return { ...base, status: 'pass', detail: `TDX firmware ${tdx[0]}`, evidence };
  if (found.length) return { ...base, status: 'fail', detail: `OVMF found (${found.join(', ')}) but none is a TDX build`, evidence, fix };
  return { ...base, status: 'fail', detail: 'no OVMF/TDVF firmware found', evidence, fix };
}

export async function checkIommu(host: HostAccess): Promise<CheckResult> {
  const base = { id: 'iommu' as const, title: 'IOMMU (VT-d) on' };
  const groups = host.list('/sys/kernel/iommu_groups').filter((g) => /^\d+$/.test(g));
  const cmdline = host.readText('/proc/cmdline')?.trim() ?? '';
  const evidence = [`/sys/kernel/iommu_groups: ${groups.length} groups`, `/proc/cmdline: ${cmdline || '(missing)'}`];
  if (groups.length > 0) return { ...base, status: 'pass', detail: `IOMMU on, ${groups.length} groups`, evidence };
  return { ...base, status: 'fail', detail: 'no IOMMU groups: VT-d is off in the BIOS or the kernel was booted without the IOMMU', evidence, fix: {
    summary: 'Enable VT-d in the BIOS, and turn the IOMMU on in the kernel command line, then reboot.',
    bios: ['Intel VT for Directed I/O (VT-d): Enabled'],
    commands: ['sudo sed -i \'s/^GRUB_CMDLINE_LINUX="/GRUB_CMDLINE_LINUX="intel_iommu=on iommu=pt /\' /etc/default/grub', 'sudo update-grub', 'sudo reboot'],
    link: LINKS.vfio,
  } };
}

export async function checkMemory(host: HostAccess): Promise<CheckResult> {
  const base = { id: 'memory' as const, title: 'Memory for the worker guest' };
  const total = await host.memTotalBytes();
  const fix = { summary: 'The worker guest takes 100 GiB of memory and the host needs room besides: use a host with at least 128 GiB.' };
  if (total === null) return { ...base, status: 'warn', detail: 'total memory unknown', evidence: ['/proc/meminfo: no MemTotal'], fix };
  const gib = (total / GiB).toFixed(1);
  const evidence = [`memory total: ${total} bytes (${gib} GiB)`];
  if (total >= MEMORY_PASS) return { ...base, status: 'pass', detail: `${gib} GiB`, evidence };
  if (total >= MEMORY_WARN) return { ...base, status: 'warn', detail: `${gib} GiB: enough only for a smaller guest and model`, evidence, fix };
  return { ...base, status: 'fail', detail: `${gib} GiB is below 64 GiB`, evidence, fix };
}

export async function checkDisk(host: HostAccess, path: string): Promise<CheckResult> {
  const base = { id: 'disk' as const, title: 'Disk space for images, the persistent disk and model weights' };
  const space = await host.diskSpace(path);
  const fix = { summary: `Free space on the filesystem of ${path} (or point COCOON_HOME at a larger one): guest images, the persistent disk and model weights need 200 GB.`, commands: [`df -h ${path}`] };
  if (space === null) return { ...base, status: 'warn', detail: `free space of ${path} unknown`, evidence: [`df ${path}: no answer`], fix };
  const gb = (space.free / GB).toFixed(1);
  const evidence = [`${path}: ${space.free} bytes free of ${space.total}`];
  if (space.free >= DISK_PASS) return { ...base, status: 'pass', detail: `${gb} GB free on ${path}`, evidence };
  if (space.free >= DISK_WARN) return { ...base, status: 'warn', detail: `${gb} GB free on ${path}: enough only for a small model`, evidence, fix };
  return { ...base, status: 'fail', detail: `${gb} GB free on ${path} is below 100 GB`, evidence, fix };
}

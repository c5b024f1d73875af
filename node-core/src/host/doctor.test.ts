import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { CheckFix, CheckResult } from './check.ts';
import { runDoctor } from './doctor.ts';

/** The doctor on each recorded host tree in testdata/hosts: every status and every fix, exactly. */
const hostTree = (name: string) => fileURLToPath(new URL(`../../../testdata/hosts/${name}`, import.meta.url));
const key = (c: CheckResult) => (c.subject ? `${c.id}@${c.subject}` : c.id);
async function doctor(name: string) {
  const report = await runDoctor({ hostRoot: hostTree(name) });
  return { report, statuses: Object.fromEntries(report.checks.map((c) => [key(c), c.status])), fixes: Object.fromEntries(report.checks.filter((c) => c.fix).map((c) => [key(c), c.fix])) };
}

const FIX: Record<string, CheckFix> = {
  kernel: { summary: 'Install a Linux 6.16+ kernel with TDX host support (KVM TDX landed in 6.16), then reboot into it.', commands: ['uname -r', 'sudo apt-get install -t "$(lsb_release -cs)-backports" linux-image-amd64', 'sudo reboot'], link: 'https://github.com/canonical/tdx' },
  bios: {
    summary: 'Enable TDX in the BIOS/UEFI setup (all of the settings below), then boot a TDX-enabled kernel.',
    bios: ['Memory Encryption (TME): Enabled', 'Total Memory Encryption Multi-Tenant (TME-MT): Enabled', 'TME-MT memory integrity: Disabled', 'Trust Domain Extension (TDX): Enabled', 'TDX Secure Arbitration Mode Loader (SEAM Loader): Enabled', 'TME-MT/TDX key split: non-zero (e.g. 1)'],
    link: 'https://cc-enabling.trustedservices.intel.com/intel-tdx-enabling-guide/04/hardware_setup/',
  },
  vm: { summary: 'Use a bare-metal server with a TDX-capable Intel Xeon (4th gen Sapphire Rapids or newer) and TDX enabled in its BIOS; cloud VMs cannot host TD guests.', link: 'https://cc-enabling.trustedservices.intel.com/intel-tdx-enabling-guide/04/hardware_setup/' },
  kvmLoad: { summary: 'Load kvm_intel with TDX enabled (and keep it so across reboots).', commands: ['echo "options kvm_intel tdx=1" | sudo tee /etc/modprobe.d/kvm-intel-tdx.conf', 'sudo modprobe -r kvm_intel', 'sudo modprobe kvm_intel', 'cat /sys/module/kvm_intel/parameters/tdx'], link: 'https://cc-enabling.trustedservices.intel.com/intel-tdx-enabling-guide/05/host_os_setup/' },
  kvmKernel: { summary: 'Boot a 6.16+ kernel built with CONFIG_KVM_INTEL_TDX=y.', link: 'https://docs.kernel.org/arch/x86/tdx.html' },
  qemu: { summary: 'Install QEMU 10.1+ built with TDX support (distribution packages, the Canonical TDX PPA, or a source build), so that `qemu-system-x86_64 -object help` lists tdx-guest.', commands: ['sudo apt-get install qemu-system-x86', 'qemu-system-x86_64 --version', 'qemu-system-x86_64 -object help | grep tdx-guest'], link: 'https://www.qemu.org/docs/master/system/i386/tdx.html' },
  firmware: { summary: "Install an OVMF build with TDX support (TDVF): the distribution ovmf package on a TDX-enabled release, the Canonical TDX PPA, or the guest image bundle's OVMF.fd.", commands: ['sudo apt-get install ovmf', 'ls /usr/share/ovmf/'], link: 'https://github.com/canonical/tdx' },
  iommu: { summary: 'Enable VT-d in the BIOS, and turn the IOMMU on in the kernel command line, then reboot.', bios: ['Intel VT for Directed I/O (VT-d): Enabled'], commands: ['sudo sed -i \'s/^GRUB_CMDLINE_LINUX="/GRUB_CMDLINE_LINUX="intel_iommu=on iommu=pt /\' /etc/default/grub', 'sudo update-grub', 'sudo reboot'], link: 'https://docs.kernel.org/driver-api/vfio.html' },
  gpuModel: { summary: 'Use an NVIDIA H100, H200 or B200 GPU; other GPUs cannot run in confidential-computing mode.', link: 'https://docs.nvidia.com/cc-deployment-guide-tdx.pdf' },
  memory: { summary: 'The worker guest takes 100 GiB of memory and the host needs room besides: use a host with at least 128 GiB.' },
  disk: { summary: 'Free space on the filesystem of / (or point COCOON_HOME at a larger one): guest images, the persistent disk and model weights need 200 GB.', commands: ['df -h /'] },
};
const ccOn = (bdf: string): CheckFix => ({ summary: 'Switch the GPU to CC mode (cocoon gpu prepare does it with gpu-admin-tools, together with the vfio-pci binding).', commands: [`sudo cocoon gpu prepare --gpu ${bdf}`], link: 'https://github.com/NVIDIA/gpu-admin-tools' });
const vfio = (bdf: string): CheckFix => ({ summary: 'Bind the GPU to vfio-pci for passthrough (CC mode first, then unbind from its driver, driver_override, probe).', commands: [`sudo cocoon gpu prepare --gpu ${bdf}`], link: 'https://docs.kernel.org/driver-api/vfio.html' });

describe('cocoon doctor on recorded hosts', () => {
  it('a TDX host with an H100 in CC mode on vfio-pci passes everything', async () => {
    const { report, statuses, fixes } = await doctor('tdx-h100-ready');
    expect(statuses).toEqual({
      kernel: 'pass', 'cpu-tdx': 'pass', 'kvm-tdx': 'pass', qemu: 'pass', 'tdx-firmware': 'pass', iommu: 'pass',
      'gpu@0000:41:00.0': 'pass', 'gpu-cc@0000:41:00.0': 'pass', 'gpu-vfio@0000:41:00.0': 'pass', memory: 'pass', disk: 'pass',
    });
    expect(fixes).toEqual({});
    expect(report.ready).toBe(true);
    const byKey = Object.fromEntries(report.checks.map((c) => [key(c), c]));
    expect(byKey['gpu@0000:41:00.0']!.detail).toBe('NVIDIA H100 SXM5 80GB (10de:2330), H100/H200/B200 class');
    expect(byKey['kvm-tdx']!.evidence).toContain('dmesg: [   14.201356] virt/tdx: module initialized');
    expect(byKey.qemu!.detail).toBe('QEMU 10.1.0 with tdx-guest');
    expect(byKey['gpu-vfio@0000:41:00.0']!.evidence).toContain('/dev/vfio/45: present');
  });

  it('a plain desktop host fails every TDX check, names its GPU from pci.ids, and warns on memory and disk', async () => {
    const { report, statuses, fixes } = await doctor('plain-host');
    expect(statuses).toEqual({
      kernel: 'fail', 'cpu-tdx': 'fail', 'kvm-tdx': 'fail', qemu: 'fail', 'tdx-firmware': 'fail', iommu: 'fail',
      'gpu@0000:01:00.0': 'fail', 'gpu-cc@0000:01:00.0': 'skip', 'gpu-vfio@0000:01:00.0': 'skip', memory: 'warn', disk: 'warn',
    });
    expect(fixes).toEqual({
      kernel: FIX.kernel, 'cpu-tdx': FIX.bios, 'kvm-tdx': FIX.kvmKernel, qemu: FIX.qemu, 'tdx-firmware': FIX.firmware, iommu: FIX.iommu,
      'gpu@0000:01:00.0': FIX.gpuModel, memory: FIX.memory, disk: FIX.disk,
    });
    expect(report.ready).toBe(false);
    expect(report.checks.find((c) => c.id === 'gpu')!.detail).toBe('NVIDIA AD102 [GeForce RTX 4090] (10de:2684) has no confidential computing: workers need an H100, H200 or B200');
    expect(report.checks.find((c) => c.id === 'tdx-firmware')!.evidence).toEqual(['/usr/share/ovmf/OVMF.fd: no TDVF metadata (not a TDX build)']);
  });

  it('an H100 in a cloud VM with CC off: the VM and the CC mode are the findings', async () => {
    const { statuses, fixes, report } = await doctor('h100-vm-cc-off');
    expect(statuses).toEqual({
      kernel: 'fail', 'cpu-tdx': 'fail', 'kvm-tdx': 'fail', qemu: 'fail', 'tdx-firmware': 'fail', iommu: 'fail',
      'gpu@0000:00:05.0': 'pass', 'gpu-cc@0000:00:05.0': 'fail', 'gpu-vfio@0000:00:05.0': 'fail', memory: 'pass', disk: 'pass',
    });
    expect(fixes).toEqual({
      kernel: FIX.kernel, 'cpu-tdx': FIX.vm, 'kvm-tdx': FIX.kvmLoad, qemu: FIX.qemu, 'tdx-firmware': FIX.firmware, iommu: FIX.iommu,
      'gpu-cc@0000:00:05.0': ccOn('0000:00:05.0'), 'gpu-vfio@0000:00:05.0': { summary: 'Turn the IOMMU on first (see the iommu check).', link: 'https://docs.kernel.org/driver-api/vfio.html' },
    });
    const cc = report.checks.find((c) => c.id === 'gpu-cc')!;
    expect(cc.detail).toBe('NVIDIA H100 PCIe: CC capable, CC mode off');
    expect(cc.evidence).toEqual(['nvidia_gpu_tools.py: not installed', 'nvidia-smi conf-compute -f: CC status: OFF']);
    expect(report.checks.find((c) => c.id === 'qemu')!.evidence).toEqual(['qemu-system-x86_64: not found on PATH']);
  });

  it('a TDX host whose H100 is still on the nvidia driver with CC off: only gpu-cc and gpu-vfio fail, both fixed by gpu prepare', async () => {
    const { statuses, fixes, report } = await doctor('tdx-h100-nvidia-driver');
    expect(statuses).toEqual({
      kernel: 'pass', 'cpu-tdx': 'pass', 'kvm-tdx': 'pass', qemu: 'pass', 'tdx-firmware': 'pass', iommu: 'pass',
      'gpu@0000:41:00.0': 'pass', 'gpu-cc@0000:41:00.0': 'fail', 'gpu-vfio@0000:41:00.0': 'fail', memory: 'pass', disk: 'pass',
    });
    expect(fixes).toEqual({ 'gpu-cc@0000:41:00.0': ccOn('0000:41:00.0'), 'gpu-vfio@0000:41:00.0': vfio('0000:41:00.0') });
    expect(report.checks.find((c) => c.id === 'gpu')!.evidence).toContain('nvidia-smi -q: NVIDIA H100 80GB HBM3, VBIOS 96.00.99.00.01, driver 575.57.08');
    expect(report.checks.find((c) => c.id === 'gpu-vfio')!.detail).toBe('bound to nvidia, not vfio-pci');
  });

  it('on this machine (no TDX, no GPU) every check answers, and every non-pass carries a fix', async () => {
    const report = await runDoctor();
    expect(report.checks.map((c) => c.id)).toEqual(expect.arrayContaining(['kernel', 'cpu-tdx', 'kvm-tdx', 'qemu', 'tdx-firmware', 'iommu', 'gpu', 'gpu-cc', 'gpu-vfio', 'memory', 'disk']));
    for (const c of report.checks) if (c.status === 'fail' || c.status === 'warn') expect(c.fix, c.id).toBeDefined();
    expect(report.ready).toBe(report.checks.every((c) => c.status !== 'fail'));
  });
});

/** One finding of the host checks, shared by `cocoon doctor`, `cocoon gpu` and the app. */
export type CheckStatus = 'pass' | 'warn' | 'fail' | 'skip';

export const CHECK_IDS = ['kernel', 'cpu-tdx', 'kvm-tdx', 'qemu', 'tdx-firmware', 'iommu', 'gpu', 'gpu-cc', 'gpu-vfio', 'memory', 'disk'] as const;
export type CheckId = (typeof CHECK_IDS)[number];

export interface CheckFix {
  /** What to do, in one or two sentences. */
  summary: string;
  /** Exact shell commands, in order (run as shown; `sudo` where root is needed). */
  commands?: string[];
  /** Firmware (BIOS/UEFI) settings to change, when the fix is there. */
  bios?: string[];
  /** The vendor's guide. */
  link?: string;
}

export interface CheckResult {
  id: CheckId;
  /** What the check is about when a check runs per device (a GPU's PCI address). */
  subject?: string;
  title: string;
  status: CheckStatus;
  /** What was found, in one line. */
  detail: string;
  /** The facts behind the verdict: versions, PCI ids, file contents, tool output lines. */
  evidence: string[];
  /** For anything not `pass`. */
  fix?: CheckFix;
}

export interface DoctorReport {
  checks: CheckResult[];
  /** True when no check failed (warnings allowed). */
  ready: boolean;
}

export const LINKS = {
  intelTdxBios: 'https://cc-enabling.trustedservices.intel.com/intel-tdx-enabling-guide/04/hardware_setup/',
  intelTdxHost: 'https://cc-enabling.trustedservices.intel.com/intel-tdx-enabling-guide/05/host_os_setup/',
  canonicalTdx: 'https://github.com/canonical/tdx',
  kernelTdx: 'https://docs.kernel.org/arch/x86/tdx.html',
  qemuTdx: 'https://www.qemu.org/docs/master/system/i386/tdx.html',
  gpuAdminTools: 'https://github.com/NVIDIA/gpu-admin-tools',
  nvidiaCcGuide: 'https://docs.nvidia.com/cc-deployment-guide-tdx.pdf',
  vfio: 'https://docs.kernel.org/driver-api/vfio.html',
} as const;

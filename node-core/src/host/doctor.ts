import type { CheckResult, DoctorReport } from './check.ts';
import { checkGpus } from './gpu-checks.ts';
import { openHost, type HostAccess } from './host-access.ts';
import { checkCpuTdx, checkDisk, checkIommu, checkKernel, checkKvmTdx, checkMemory, checkQemu, checkTdxFirmware } from './platform-checks.ts';

/**
 * The check engine: every host check in a fixed order, one report. A check that throws becomes a
 * `fail` naming the error, so one broken fact never hides the others.
 */
export interface DoctorOptions {
  /** Where the host's files are read (default `/`, the live host). */
  hostRoot?: string;
  /** A prepared host access (tests); overrides hostRoot. */
  host?: HostAccess;
  /** Whose filesystem the disk check measures (default `/`). */
  diskPath?: string;
}

export async function runDoctor(opts: DoctorOptions = {}): Promise<DoctorReport> {
  const host = opts.host ?? openHost(opts.hostRoot ?? '/');
  const guarded = async (id: CheckResult['id'], title: string, fn: () => CheckResult | CheckResult[] | Promise<CheckResult | CheckResult[]>): Promise<CheckResult[]> => {
    try {
      const r = await fn();
      return Array.isArray(r) ? r : [r];
    } catch (err) {
      return [{ id, title, status: 'fail', detail: `the check itself failed: ${(err as Error).message}`, evidence: [], fix: { summary: 'Report this with the output of `cocoon doctor --json`.' } }];
    }
  };
  const groups = await Promise.all([
    guarded('kernel', 'Linux kernel', () => checkKernel(host)),
    guarded('cpu-tdx', 'TDX CPU', () => checkCpuTdx(host)),
    guarded('kvm-tdx', 'KVM TDX', () => checkKvmTdx(host)),
    guarded('qemu', 'QEMU', () => checkQemu(host)),
    guarded('tdx-firmware', 'TDX firmware', () => checkTdxFirmware(host)),
    guarded('iommu', 'IOMMU', () => checkIommu(host)),
    guarded('gpu', 'GPUs', () => checkGpus(host)),
    guarded('memory', 'Memory', () => checkMemory(host)),
    guarded('disk', 'Disk', () => checkDisk(host, opts.diskPath ?? '/')),
  ]);
  const checks = groups.flat();
  return { checks, ready: checks.every((c) => c.status !== 'fail') };
}

const MARK = { pass: 'ok  ', warn: 'warn', fail: 'FAIL', skip: 'skip' } as const;

/** The report as a person reads it: one line per check, then its fix. */
export function formatReport(report: DoctorReport): string {
  const lines: string[] = [];
  for (const c of report.checks) {
    lines.push(`[${MARK[c.status]}] ${c.id.padEnd(12)} ${c.subject ? `${c.subject}  ` : ''}${c.detail}`);
    if (c.status === 'pass' || c.status === 'skip' || !c.fix) continue;
    lines.push(`       fix: ${c.fix.summary}`);
    for (const b of c.fix.bios ?? []) lines.push(`         BIOS: ${b}`);
    for (const cmd of c.fix.commands ?? []) lines.push(`         $ ${cmd}`);
    if (c.fix.link) lines.push(`         see ${c.fix.link}`);
  }
  const fails = report.checks.filter((c) => c.status === 'fail').length;
  lines.push('', report.ready ? 'This host is ready to run a Cocoon worker.' : `Not ready: ${fails} check${fails === 1 ? '' : 's'} failed.`);
  return lines.join('\n') + '\n';
}

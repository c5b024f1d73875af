import { parseFlags, type CliCommand } from '../command.ts';
import { CocoonError } from '../../errors.ts';

const usage = 'cocoon doctor [--json] [--host-root DIR]';

export const command: CliCommand = {
  summary: 'check this host for running a worker: kernel, TDX, KVM, QEMU, firmware, IOMMU, GPU, CC mode, vfio, memory, disk',
  usage,
  async run(args) {
    const { values } = parseFlags(args, { json: { type: 'boolean' }, 'host-root': { type: 'string' } }, usage, false);
    const { runDoctor, formatReport } = await import('../../host/doctor.ts');
    let report;
    try {
      report = await runDoctor({ hostRoot: values['host-root'] ?? '/' });
    } catch (err) {
      throw new CocoonError('bad_flag', `--host-root: ${(err as Error).message}`, { hint: 'pass a directory holding a recorded host tree (proc/, sys/, tools/…)' });
    }
    process.stdout.write(values.json ? JSON.stringify(report) + '\n' : formatReport(report));
    return report.ready ? 0 : 1;
  },
};

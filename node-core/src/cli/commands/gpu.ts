import { parseFlags, type CliCommand } from '../command.ts';
import { CocoonError } from '../../errors.ts';
import type { GpuPlan } from '../../host/gpu-prep.ts';

const usage = 'cocoon gpu list | prepare --gpu BDF | restore --gpu BDF [--dry-run] [--json] [--host-root DIR]';

function formatPlan(plan: GpuPlan, dryRun: boolean): string {
  const lines = [`${plan.action} ${plan.bdf}${plan.gpu ? ` (${plan.gpu.model}, driver ${plan.gpu.driver ?? 'none'})` : ''}${dryRun ? ' — dry run, nothing changes' : ''}`];
  for (const n of plan.notes) lines.push(`  note: ${n}`);
  for (const p of plan.problems) lines.push(`  problem: ${p}`);
  plan.steps.forEach((s, i) => lines.push(`  ${i + 1}. [${s.status}] ${s.description}\n       $ ${s.command}`));
  if (plan.steps.length === 0 && plan.problems.length === 0) lines.push('  nothing to do');
  return lines.join('\n') + '\n';
}

export const command: CliCommand = {
  summary: 'list NVIDIA GPUs; prepare one for passthrough (CC mode on, vfio-pci) or restore it',
  usage,
  async run(args) {
    const { values, positionals } = parseFlags(args, {
      gpu: { type: 'string' }, 'dry-run': { type: 'boolean' }, json: { type: 'boolean' }, 'host-root': { type: 'string' },
    }, usage);
    const [sub, ...extra] = positionals;
    if (!sub || extra.length || !['list', 'prepare', 'restore'].includes(sub)) throw new CocoonError('bad_flag', `unknown gpu subcommand "${positionals.join(' ')}"`, { hint: `usage: ${usage}` });
    const { openHost } = await import('../../host/host-access.ts');
    let host;
    try {
      host = openHost(values['host-root'] ?? '/');
    } catch (err) {
      throw new CocoonError('bad_flag', `--host-root: ${(err as Error).message}`);
    }
    if (sub === 'list') {
      const { listNvidiaGpus } = await import('../../host/pci.ts');
      const { readCcMode } = await import('../../host/gpu-checks.ts');
      const gpus = await Promise.all(listNvidiaGpus(host).map(async (g) => ({ ...g, ccMode: g.ccClass ? (await readCcMode(host, g)).mode : null })));
      if (values.json) process.stdout.write(JSON.stringify({ gpus }) + '\n');
      else if (gpus.length === 0) process.stdout.write('no NVIDIA GPU found\n');
      else for (const g of gpus) process.stdout.write(`${g.bdf}  ${g.model} (10de:${g.deviceId})  driver ${g.driver ?? 'none'}  CC ${g.ccClass ? g.ccMode ?? 'unknown' : 'not capable'}  iommu group ${g.iommuGroup ?? 'none'}\n`);
      return 0;
    }
    if (!values.gpu) throw new CocoonError('bad_flag', `gpu ${sub} needs --gpu BDF (a PCI address such as 0000:41:00.0; see cocoon gpu list)`, { hint: `usage: ${usage}` });
    const { planPrepare, planRestore, applyPlan, GpuPrepError } = await import('../../host/gpu-prep.ts');
    const planned = sub === 'prepare' ? await planPrepare(host, values.gpu) : await planRestore(host, values.gpu);
    const dryRun = values['dry-run'] === true;
    const emit = (plan: GpuPlan, extraFields: Record<string, unknown> = {}) =>
      process.stdout.write(values.json ? JSON.stringify({ dryRun, ...plan, ...extraFields }) + '\n' : formatPlan(plan, dryRun));
    if (dryRun) {
      emit(planned.plan);
      return planned.plan.problems.length ? 1 : 0;
    }
    try {
      const done = await applyPlan(host, planned);
      emit(done, { ok: true });
      return 0;
    } catch (err) {
      if (!(err instanceof GpuPrepError)) throw err;
      if (values.json) emit(err.plan, { ok: false, error: err.message });
      else {
        process.stdout.write(formatPlan(err.plan, false));
        process.stderr.write(`cocoon gpu ${sub}: ${err.message}\n`);
      }
      return 1;
    }
  },
};

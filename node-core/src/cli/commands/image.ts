import { readFile } from 'node:fs/promises';
import { CocoonError, errorMessage } from '../../errors.ts';
import { intFlag, parseFlags, type CliCommand } from '../command.ts';
import { measureImage, parseMemorySize, REGISTER_NAMES } from '../../image/measure.ts';

const usage =
  'cocoon image measure --firmware F --kernel K --initrd I --cmdline C [--memory 64G] [--cpus 32] [--config WORKER_CONFIG] ' +
  '[--rtmr0 HEX] [--mrconfigid HEX] [--mrowner HEX] [--mrownerconfig HEX] [--page-add-order single-pass|two-pass] [--json]';

async function readInput(flag: string, path: string | undefined): Promise<Buffer> {
  if (!path) throw new CocoonError('bad_flag', `missing --${flag}`, { hint: `usage: ${usage}` });
  try {
    return await readFile(path);
  } catch (err) {
    throw new CocoonError('unreadable', `cannot read --${flag} ${path}: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`);
  }
}

function hex48(flag: string, value: string | undefined): Buffer | undefined {
  if (value === undefined) return undefined;
  const clean = value.replace(/^0x/i, '');
  if (!/^[0-9a-fA-F]{96}$/.test(clean)) throw new CocoonError('bad_flag', `--${flag} must be 96 hex digits (48 bytes), got ${value.length} characters`);
  return Buffer.from(clean, 'hex');
}

async function measure(args: string[]): Promise<number> {
  const { values } = parseFlags(
    args,
    {
      firmware: { type: 'string' }, kernel: { type: 'string' }, initrd: { type: 'string' }, cmdline: { type: 'string' },
      memory: { type: 'string' }, cpus: { type: 'string' }, config: { type: 'string' }, rtmr0: { type: 'string' },
      mrconfigid: { type: 'string' }, mrowner: { type: 'string' }, mrownerconfig: { type: 'string' },
      'page-add-order': { type: 'string' }, json: { type: 'boolean' },
    },
    usage,
    false,
  );
  if (values.cmdline === undefined) throw new CocoonError('bad_flag', 'missing --cmdline (the exact -append string QEMU gets)', { hint: `usage: ${usage}` });
  const order = values['page-add-order'] ?? 'single-pass';
  if (order !== 'single-pass' && order !== 'two-pass') throw new CocoonError('bad_flag', `--page-add-order must be single-pass or two-pass, got "${order}"`);
  const m = measureImage({
    firmware: await readInput('firmware', values.firmware),
    kernel: await readInput('kernel', values.kernel),
    initrd: await readInput('initrd', values.initrd),
    cmdline: values.cmdline,
    // The reference launcher gives workers 100G; any size ≥ 2.75 GiB (or exactly 2 GiB) measures the same kernel.
    memoryBytes: parseMemorySize(values.memory ?? '64G'),
    cpus: intFlag('cpus', values.cpus, 32, 1, 1024),
    workerConfig: values.config ? await readInput('config', values.config) : undefined,
    rtmr0: hex48('rtmr0', values.rtmr0),
    mrConfigId: hex48('mrconfigid', values.mrconfigid),
    mrOwner: hex48('mrowner', values.mrowner),
    mrOwnerConfig: hex48('mrownerconfig', values.mrownerconfig),
    pageAddOrder: order,
  });
  if (values.json) {
    process.stdout.write(JSON.stringify(m) + '\n');
    return 0;
  }
  const lines = REGISTER_NAMES.map((n) => {
    const r = m.registers[n];
    return `${n.padEnd(14)} ${r.value ?? '(unknown)'}  [${r.source}]`;
  });
  lines.push(`${'image hash'.padEnd(14)} ${m.imageHash ?? '(unknown: ' + m.missing.join(', ') + ' missing)'}`);
  if (m.missing.includes('rtmr0')) lines.push('', 'RTMR0 covers the ACPI tables QEMU generates for this machine; boot the image once on a TD host with the same QEMU, --memory and --cpus and pass its RTMR0 with --rtmr0.');
  if (m.missing.includes('rtmr3')) lines.push('RTMR3 depends on the worker configuration: pass it with --config.');
  lines.push('', 'assumptions:', ...m.assumptions.map((a) => `  - ${a}`));
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}

export const command: CliCommand = {
  summary: 'TD guest image: compute expected measurements and the image hash',
  usage,
  async run(args) {
    const [sub, ...rest] = args;
    if (sub === 'measure') return measure(rest);
    throw new CocoonError('bad_flag', sub ? `unknown image subcommand "${sub}"` : 'missing image subcommand', { hint: `usage: ${usage}` });
  },
};

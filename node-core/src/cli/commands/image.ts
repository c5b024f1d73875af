import { readFile } from 'node:fs/promises';
import { CocoonError, errorMessage } from '../../errors.ts';
import { intFlag, parseFlags, type CliCommand } from '../command.ts';
import { measureImage, parseMemorySize, REGISTER_NAMES } from '../../image/measure.ts';
import { checkImageAllowed, parseHash, type ImageKind } from '../../image/allowlist.ts';
import { acpiDigestsFromLog, compareWithReport, eventTypeName, parseEventLog } from '../../image/eventlog.ts';
import type { Rtmr0Input } from '../../image/rtmr0.ts';
import { join } from 'node:path';

const checkUsage = 'cocoon image check (--image-hash H | --firmware F --kernel K --initrd I --cmdline C [--rtmr0 HEX] [--config WORKER_CONFIG] ...) [--kind worker|proxy] [--network local|testnet|mainnet] [--json]';
const usage =
  'cocoon image measure --firmware F --kernel K --initrd I --cmdline C [--memory 64G] [--cpus 32] [--config WORKER_CONFIG] ' +
  '[--rtmr0 HEX | --acpi-dir DIR | --acpi-from-log EVENT_LOG] [--secure-boot absent|disabled] [--mrconfigid HEX] [--mrowner HEX] [--mrownerconfig HEX] [--page-add-order single-pass|two-pass] [--json]';

const eventlogUsage = 'cocoon image eventlog --log CCEL_OR_JSON [--quote QUOTE_FILE] [--json]   (replays RTMR0-3; with --quote exits 1 unless they match)';

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

const MEASURE_FLAGS = {
  firmware: { type: 'string' }, kernel: { type: 'string' }, initrd: { type: 'string' }, cmdline: { type: 'string' },
  memory: { type: 'string' }, cpus: { type: 'string' }, config: { type: 'string' }, rtmr0: { type: 'string' },
  mrconfigid: { type: 'string' }, mrowner: { type: 'string' }, mrownerconfig: { type: 'string' },
  'page-add-order': { type: 'string' }, json: { type: 'boolean' },
  'acpi-dir': { type: 'string' }, 'acpi-from-log': { type: 'string' }, 'secure-boot': { type: 'string' },
} as const;

type MeasureValues = { [K in keyof typeof MEASURE_FLAGS]?: (typeof MEASURE_FLAGS)[K]['type'] extends 'boolean' ? boolean : string };

async function measure(args: string[]): Promise<number> {
  const { values } = parseFlags(args, MEASURE_FLAGS, usage, false);
  const m = await measureFromFlags(values as MeasureValues);
  if (values.json) {
    process.stdout.write(JSON.stringify(m) + '\n');
    return 0;
  }
  const lines = REGISTER_NAMES.map((n) => {
    const r = m.registers[n];
    return `${n.padEnd(14)} ${r.value ?? '(unknown)'}  [${r.source}]`;
  });
  lines.push(`${'image hash'.padEnd(14)} ${m.imageHash ?? '(unknown: ' + m.missing.join(', ') + ' missing)'}`);
  if (m.events.rtmr0.length) lines.push('', 'RTMR0 events:', ...m.events.rtmr0.map((e) => `  [${e.source}] ${e.description}`));
  if (m.missing.includes('rtmr0')) lines.push('', 'RTMR0 covers the ACPI tables QEMU generates for this machine: give them with --acpi-dir (fw_cfg table-loader, rsdp, tables dumped from the QEMU used) or --acpi-from-log (the event log of one TD booted with the same QEMU, --memory, --cpus and devices), or pass that TD\'s RTMR0 with --rtmr0.');
  if (m.missing.includes('rtmr3')) lines.push('RTMR3 depends on the worker configuration: pass it with --config.');
  lines.push('', 'assumptions:', ...m.assumptions.map((a) => `  - ${a}`));
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}

async function measureFromFlags(values: MeasureValues) {
  if (values.cmdline === undefined) throw new CocoonError('bad_flag', 'missing --cmdline (the exact -append string QEMU gets)', { hint: `usage: ${usage}` });
  const order = values['page-add-order'] ?? 'single-pass';
  if (order !== 'single-pass' && order !== 'two-pass') throw new CocoonError('bad_flag', `--page-add-order must be single-pass or two-pass, got "${order}"`);
  const secureBoot = values['secure-boot'] ?? 'absent';
  if (secureBoot !== 'absent' && secureBoot !== 'disabled') throw new CocoonError('bad_flag', `--secure-boot must be absent or disabled, got "${secureBoot}"`);
  return measureImage({
    firmware: await readInput('firmware', values.firmware),
    kernel: await readInput('kernel', values.kernel),
    initrd: await readInput('initrd', values.initrd),
    cmdline: values.cmdline,
    // The reference launcher gives workers 100G; any size ≥ 2.75 GiB (or exactly 2 GiB) measures the same kernel.
    memoryBytes: parseMemorySize(values.memory ?? '64G'),
    cpus: intFlag('cpus', values.cpus, 32, 1, 1024),
    workerConfig: values.config ? await readInput('config', values.config) : undefined,
    rtmr0: hex48('rtmr0', values.rtmr0),
    acpi: await acpiFromFlags(values),
    secureBoot,
    mrConfigId: hex48('mrconfigid', values.mrconfigid),
    mrOwner: hex48('mrowner', values.mrowner),
    mrOwnerConfig: hex48('mrownerconfig', values.mrownerconfig),
    pageAddOrder: order,
  });
}

async function acpiFromFlags(values: MeasureValues): Promise<Rtmr0Input['acpi'] | undefined> {
  if (values['acpi-dir'] && values['acpi-from-log']) throw new CocoonError('bad_flag', 'give --acpi-dir or --acpi-from-log, not both');
  if (values['acpi-from-log']) return { digests: acpiDigestsFromLog(parseEventLog(await readInput('acpi-from-log', values['acpi-from-log']))) };
  const dir = values['acpi-dir'];
  if (!dir) return undefined;
  const file = (name: string) => readInput('acpi-dir', join(dir, name));
  return { loader: await file('table-loader'), rsdp: await file('rsdp'), tables: await file('tables') };
}

/** `image eventlog`: replay a TD's event log and compare with its quote. */
async function eventlog(args: string[]): Promise<number> {
  const { values } = parseFlags(args, { log: { type: 'string' }, quote: { type: 'string' }, json: { type: 'boolean' } }, eventlogUsage, false);
  const log = parseEventLog(await readInput('log', values.log));
  let comparison: Array<{ register: string; replayed: string; reported: string | null; match: boolean | null }>;
  if (values.quote) {
    const { parseTdxQuote } = await import('../../attestation/tdx-quote.ts');
    let quote;
    try {
      quote = parseTdxQuote(await readInput('quote', values.quote));
    } catch (err) {
      throw new CocoonError('bad_quote', `--quote ${values.quote}: ${errorMessage(err)}`, { hint: 'pass a raw TDX v4 quote (binary)' });
    }
    comparison = compareWithReport(log, quote.measurements);
  } else comparison = compareWithReport(log, { rtmr0: '', rtmr1: '', rtmr2: '', rtmr3: '' }).map(({ register, replayed }) => ({ register, replayed, reported: null, match: null }));
  const ok = comparison.every((c) => c.match !== false);
  if (values.json) {
    process.stdout.write(JSON.stringify({ registers: comparison, match: values.quote ? ok : null, events: log.map((e) => ({ ...e, typeName: eventTypeName(e.type) })) }) + '\n');
    return ok ? 0 : 1;
  }
  const lines = log.map((e) => `rtmr${e.rtmr} ${eventTypeName(e.type).padEnd(34)} ${e.digest}`);
  lines.push('');
  for (const c of comparison) {
    lines.push(c.match !== null ? `${c.register} ${c.match ? 'matches the quote' : `DIFFERS: log replays ${c.replayed}, quote has ${c.reported}`}` : `${c.register} ${c.replayed}`);
  }
  if (!ok) lines.push('', 'the log does not explain the quote: it is from another boot, or truncated');
  process.stdout.write(lines.join('\n') + '\n');
  return ok ? 0 : 1;
}

/** `image check`: is this image (a hash, or one measured from its files) on the configured root's allowlist? */
async function check(args: string[]): Promise<number> {
  const { values } = parseFlags(args, { ...MEASURE_FLAGS, 'image-hash': { type: 'string' }, kind: { type: 'string' }, network: { type: 'string' } }, checkUsage, false);
  const kind = (values.kind ?? 'worker') as ImageKind;
  if (kind !== 'worker' && kind !== 'proxy') throw new CocoonError('bad_flag', `--kind must be worker or proxy, got "${values.kind}"`);
  let imageHash: string;
  if (values['image-hash'] !== undefined) imageHash = parseHash(values['image-hash'], '--image-hash');
  else {
    if (values.firmware === undefined) throw new CocoonError('bad_flag', 'give --image-hash H, or the image files to measure (--firmware --kernel --initrd --cmdline)', { hint: `usage: ${checkUsage}` });
    const m = await measureFromFlags(values as MeasureValues);
    if (!m.imageHash) throw new CocoonError('image_not_measurable', `the image hash cannot be computed without ${m.missing.join(', ')}`, { hint: m.missing.includes('rtmr0') ? 'pass --rtmr0 read from a TD booted the same way (or --image-hash from `cocoon attest` of a running guest)' : 'pass --config WORKER_CONFIG' });
    imageHash = m.imageHash;
  }
  const { resolveChainConfig } = await import('../../chain/config.ts');
  const config = resolveChainConfig(values.network ? { ...process.env, COCOON_NETWORK: values.network } : process.env);
  const r = await checkImageAllowed(config, imageHash, kind);
  if (values.json) process.stdout.write(JSON.stringify(r) + '\n');
  else {
    process.stdout.write(r.allowed
      ? `allowed: ${kind} image ${imageHash} is on root ${r.rootAddress} (${r.network}, ${r.allowlistSize} ${kind} images allowed)\n`
      : `NOT allowed: ${kind} image ${imageHash} is not on root ${r.rootAddress} (${r.network}; ${r.allowlistSize} ${kind} images allowed)\n` +
        `  proxies will refuse this ${kind} (image_not_allowed). The root's owner adds it with:\n    cocoon root add-image --kind ${kind} --hash ${imageHash}${r.network === 'local' ? '' : ` --network ${r.network} --mnemonic-file OWNER_MNEMONIC`}\n`);
  }
  return r.allowed ? 0 : 1;
}

export const command: CliCommand = {
  summary: 'TD guest image: compute expected measurements and the image hash; check it against the root allowlist',
  usage: `${usage}\n       ${checkUsage}\n       ${eventlogUsage}`,
  async run(args) {
    const [sub, ...rest] = args;
    if (sub === 'measure') return measure(rest);
    if (sub === 'check') return check(rest);
    if (sub === 'eventlog') return eventlog(rest);
    throw new CocoonError('bad_flag', sub ? `unknown image subcommand "${sub}"` : 'missing image subcommand', { hint: `usage: ${usage}` });
  },
};

import { accessSync, constants } from 'node:fs';
import { CocoonError } from '../../errors.ts';
import { createLogger } from '../../log.ts';
import {
  buildQemuArgv, EXAMPLE_CONFIG, launchTdGuest, guestSpec, instancePaths, instanceStatus,
  loadWorkerConfig, stopInstance, streamConsoleLog, type Accel, type InstancePaths, type TdStatus,
} from '../../td/index.ts';
import { intFlag, parseFlags, type CliCommand } from '../command.ts';

const usage = `cocoon td launch --config FILE [--accel auto|kvm|tcg] [--dry-run] [--json]
       cocoon td status [--config FILE | --instance N] [--json]
       cocoon td stop   [--config FILE | --instance N] [--timeout-s N]
       cocoon td logs   [--config FILE | --instance N] [--follow] [--tail BYTES]
       cocoon td config --example | --check FILE`;

const selectFlags = { config: { type: 'string' }, instance: { type: 'string' } } as const;

function selectInstance(values: { config?: string; instance?: string }): InstancePaths {
  if (values.config) {
    const c = loadWorkerConfig(values.config);
    return instancePaths(c.instance, c.stateDir);
  }
  return instancePaths(intFlag('instance', values.instance, 0, 0, 99));
}

const shellQuote = (a: string) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", `'\\''`)}'`);

async function launch(args: string[]): Promise<number> {
  const { values } = parseFlags(args, { config: { type: 'string' }, accel: { type: 'string' }, 'dry-run': { type: 'boolean' }, json: { type: 'boolean' } }, usage, false);
  if (!values.config) throw new CocoonError('bad_flag', '--config FILE is required', { hint: 'cocoon td config --example > worker.jsonc' });
  const accelFlag = values.accel ?? 'auto';
  if (!['auto', 'kvm', 'tcg'].includes(accelFlag)) throw new CocoonError('bad_flag', `--accel must be auto, kvm or tcg, got "${accelFlag}"`);
  const config = loadWorkerConfig(values.config);
  const paths = instancePaths(config.instance, config.stateDir);
  const emulated = config.mode === 'emulation';

  if (values['dry-run']) {
    // Starts nothing: `auto` only looks at /dev/kvm here (the real launch also probes QEMU).
    let accel: Accel = accelFlag === 'kvm' ? 'kvm' : 'tcg';
    if (accelFlag === 'auto') {
      try {
        accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
        accel = 'kvm';
      } catch { /* tcg */ }
    }
    const argv = buildQemuArgv(config, { paths, accel, shares: guestSpec(config, emulated).shares });
    process.stdout.write(values.json ? JSON.stringify({ argv }) + '\n' : argv.map(shellQuote).join(' ') + '\n');
    return 0;
  }

  const { supervisor, accelReason } = await launchTdGuest({ config, accel: accelFlag as Accel | 'auto', log: createLogger('td') });
  if (emulated && !values.json) process.stderr.write(`td: emulation mode (no TDX, no GPU) on ${supervisor.status().accel.toUpperCase()}: ${accelReason}\n`);
  // One line per change of state or detail (stats updates alone are not printed).
  let last = '';
  const print = (s: TdStatus) => {
    const key = `${s.state}|${s.detail ?? ''}`;
    if (key === last) return;
    last = key;
    process.stdout.write(values.json ? JSON.stringify({ event: 'state', ...s }) + '\n' : `td: ${s.state}${s.detail ? ` — ${s.detail}` : ''}\n`);
  };
  print(supervisor.status());
  supervisor.onState(print);
  if (!values.json) supervisor.onConsole((line) => process.stdout.write(`guest| ${line}\n`));
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = async () => {
      if (stopping) return;
      stopping = true;
      const { clean } = await supervisor.stop();
      resolve(clean ? 0 : 1);
    };
    process.once('SIGINT', () => void stop());
    process.once('SIGTERM', () => void stop());
    const onFailed = (s: TdStatus) => { if (s.state === 'failed' && !stopping) { stopping = true; void supervisor.stop().then(() => resolve(1)); } };
    supervisor.onState(onFailed);
    onFailed(supervisor.status());
  });
}

async function status(args: string[]): Promise<number> {
  const { values } = parseFlags(args, { ...selectFlags, json: { type: 'boolean' } }, usage, false);
  const paths = selectInstance(values);
  const s = await instanceStatus(paths);
  if (!s) {
    process.stdout.write(values.json ? JSON.stringify({ state: 'never launched', stateDir: paths.dir }) + '\n' : `td: no guest launched with state dir ${paths.dir}\n`);
    return 0;
  }
  if (values.json) process.stdout.write(JSON.stringify({ ...s, stateDir: paths.dir }) + '\n');
  else {
    process.stdout.write(`instance ${s.instance}: ${s.state} since ${s.since} (${s.mode}, ${s.accel}${s.vm ? `, vm ${s.vm}` : ''}, restarts ${s.restarts})\n`);
    if (s.detail) process.stdout.write(`  ${s.detail}\n`);
    process.stdout.write(`  supervisor ${s.supervisorPid ?? '-'}  qemu ${s.qemuPid ?? '-'}  state dir ${paths.dir}\n`);
  }
  return 0;
}

async function stop(args: string[]): Promise<number> {
  const { values } = parseFlags(args, { ...selectFlags, 'timeout-s': { type: 'string' } }, usage, false);
  const paths = selectInstance(values);
  const r = await stopInstance(paths, intFlag('timeout-s', values['timeout-s'], 90, 1, 3600) * 1000);
  process.stdout.write(`td: ${r.how}\n`);
  return r.stopped ? 0 : 1;
}

async function logs(args: string[]): Promise<number> {
  const { values } = parseFlags(args, { ...selectFlags, follow: { type: 'boolean' }, tail: { type: 'string' } }, usage, false);
  const paths = selectInstance(values);
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort());
  process.once('SIGTERM', () => controller.abort());
  await streamConsoleLog(paths, (c) => process.stdout.write(c), {
    follow: values.follow ?? false, signal: controller.signal,
    ...(values.tail !== undefined && { tailBytes: intFlag('tail', values.tail, 0, 0, 1 << 30) }),
  });
  return 0;
}

async function config(args: string[]): Promise<number> {
  const { values } = parseFlags(args, { example: { type: 'boolean' }, check: { type: 'string' } }, usage, false);
  if (values.example) {
    process.stdout.write(EXAMPLE_CONFIG);
    return 0;
  }
  if (values.check) {
    const c = loadWorkerConfig(values.check);
    process.stdout.write(`td: ${values.check} is valid (instance ${c.instance}, ${c.mode})\n`);
    return 0;
  }
  throw new CocoonError('bad_flag', 'td config needs --example or --check FILE', { hint: `usage: ${usage}` });
}

const subcommands: Record<string, (args: string[]) => Promise<number>> = { launch, status, stop, logs, config };

export const command: CliCommand = {
  summary: 'owner: launch and supervise a worker TD guest (TDX, or emulation for development)',
  usage,
  async run(args) {
    const [sub, ...rest] = args;
    const fn = sub ? subcommands[sub] : undefined;
    if (!fn) throw new CocoonError('bad_flag', sub ? `unknown td subcommand "${sub}"` : 'td needs a subcommand', { hint: `usage: ${usage}` });
    return fn(rest);
  },
};

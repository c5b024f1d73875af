import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { CocoonError } from '../../../node-core/src/errors.ts';
import type { Logger } from '../../../node-core/src/log.ts';
import {
  DEV_GUEST_OUT, instanceLayout, launchTdGuest, parseWorkerConfig, stripJsonComments,
  type TdStatus as LauncherStatus, type TdSupervisor, type WorkerConfig,
} from '../../../node-core/src/td/index.ts';
import type { TdPhase, TdStatus, TdSupervisorApi, WorkerConfigInput } from '../../shared/api-contract.ts';

/**
 * Owner mode's TD guest launcher: `TdSupervisorApi` over node-core/src/td. The worker config is
 * the owner's step-3 answers (owner address, GPU, model) laid over a base:
 *   - a worker config file (`cocoon app --web --td-config FILE`, written from `cocoon td config
 *     --example`): what a real TDX host uses; or
 *   - without a file, on the app's local network only: the development guest
 *     (td-image/dev-guest) in emulation mode, its worker dialing the app's own proxy through QEMU
 *     user networking. Development quotes and host files shared into the guest: loudly labelled,
 *     and parseWorkerConfig refuses them outside the local network.
 * A GPU chosen in step 3 means TDX mode; emulation never takes a GPU.
 */
export interface TdAdapterOptions {
  /** A full worker config file (JSON with comments). */
  configFile?: string;
  /** The app's local network, for the development-guest default. */
  localNetwork?: { proxyWorkerPort: number; engineUrl: string | null; rootAddress: string | null; chainEndpoint: string | null };
  /** Where instance state lives (default `$COCOON_HOME/td/<instance>`). */
  stateDir?: string;
  /** Emulation's accelerator (default: KVM when it really works, else TCG). */
  accel?: 'auto' | 'kvm' | 'tcg';
  log?: Logger;
}

/** Any well-formed address; the guest's worker never pays it on the local network. */
const LOCAL_ROOT_PLACEHOLDER = '0:' + '0'.repeat(64);

const PHASE: Record<LauncherStatus['state'], TdPhase> = {
  stopped: 'stopped', starting: 'starting', booted: 'booted', 'worker connected': 'worker-connected', serving: 'serving',
  stopping: 'stopping', crashed: 'crashed', failed: 'crashed',
};

/** The raw config object an owner's answers produce, before validation (exported for tests). */
export function workerConfigFor(input: WorkerConfigInput, opts: TdAdapterOptions): { raw: Record<string, unknown>; baseDir: string } {
  let base: Record<string, unknown>;
  let baseDir = process.cwd();
  if (opts.configFile) {
    const file = resolve(opts.configFile);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new CocoonError('bad_config', `cannot read the TD config ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { hint: 'write one with `cocoon td config --example > worker.jsonc`' });
    }
    try {
      base = JSON.parse(stripJsonComments(text)) as Record<string, unknown>;
    } catch (err) {
      throw new CocoonError('bad_config', `the TD config ${file} is not valid JSON: ${(err as Error).message}`);
    }
    baseDir = dirname(file);
  } else if (opts.localNetwork) {
    base = devGuestBase(opts.localNetwork);
  } else {
    throw new CocoonError('no_td_config', 'no TD guest configuration: this app runs on a public network and was started without --td-config', {
      hint: 'write one with `cocoon td config --example > worker.jsonc`, edit it, and start the app with --td-config worker.jsonc',
    });
  }
  const raw: Record<string, unknown> = { ...base, ownerAddress: input.ownerAddress, model: input.model };
  if (input.gpu) {
    raw.gpu = input.gpu;
    raw.mode = 'tdx';
  } else if (raw.mode !== 'emulation') {
    throw new CocoonError('bad_config', 'TDX mode needs the GPU: choose it in step 3 (or use an emulation config for development)');
  } else {
    delete raw.gpu;
  }
  if (opts.stateDir) raw.stateDir = opts.stateDir;
  return { raw, baseDir };
}

function devGuestBase(net: NonNullable<TdAdapterOptions['localNetwork']>): Record<string, unknown> {
  const kernel = join(DEV_GUEST_OUT, 'vmlinuz');
  const initrd = join(DEV_GUEST_OUT, 'initrd.img');
  if (!existsSync(kernel) || !existsSync(initrd)) {
    throw new CocoonError('no_guest_image', `the development guest is not built (${DEV_GUEST_OUT} has no vmlinuz/initrd.img)`, { hint: 'run `bash td-image/dev-guest/build.sh` once, then launch again' });
  }
  const cmdlineFile = join(DEV_GUEST_OUT, 'cmdline');
  return {
    instance: 0, mode: 'emulation',
    image: { kernel, initrd, cmdline: existsSync(cmdlineFile) ? readFileSync(cmdlineFile, 'utf8').trim() : 'console=ttyS0' },
    cpus: 2, memoryMiB: 1024,
    network: {
      name: 'local', rootContract: net.rootAddress ?? LOCAL_ROOT_PLACEHOLDER, endpoint: net.chainEndpoint ?? 'http://127.0.0.1:1/jsonRPC',
      // QEMU user networking: the host's loopback is 10.0.2.2 from inside the guest.
      proxies: [`10.0.2.2:${net.proxyWorkerPort}`],
    },
    development: {
      quote: 'fake', policy: 'fake', shareHostNode: true,
      ...(net.engineUrl && { backend: net.engineUrl.replace(/\/\/(127\.0\.0\.1|localhost)(?=[:/])/, '//10.0.2.2') }),
    },
  };
}

export function createTdAdapter(opts: TdAdapterOptions): TdSupervisorApi & { close(): Promise<void> } {
  const consoleListeners = new Set<(chunk: string) => void>();
  const stateListeners = new Set<(s: TdStatus) => void>();
  let supervisor: TdSupervisor | null = null;
  let config: WorkerConfig | null = null;
  let detachers: Array<() => void> = [];
  let accelNote: string | null = null;
  let lastError: string | null = null;

  const toStatus = (s: LauncherStatus | null): TdStatus => {
    if (!s) return { phase: 'stopped', message: lastError, mode: null, pid: null, since: new Date(0).toISOString(), restarts: 0, statsUrl: null };
    const message = s.state === 'failed' ? `could not keep the guest running: ${s.detail ?? 'QEMU failed'}` : s.detail ?? (s.mode === 'emulation' ? accelNote : null);
    return { phase: PHASE[s.state], message: message ?? null, mode: s.mode, pid: s.qemuPid, since: s.since, restarts: s.restarts, statsUrl: null };
  };
  const emitState = () => {
    const s = toStatus(supervisor?.status() ?? null);
    for (const l of stateListeners) l(s);
  };

  return {
    async start(input) {
      const running = supervisor?.status().state;
      if (running && !['stopped', 'failed'].includes(running)) throw new CocoonError('td_running', `the guest is already ${running}; stop it first`);
      const { raw, baseDir } = workerConfigFor(input, opts);
      config = parseWorkerConfig(raw, baseDir);
      for (const d of detachers) d();
      lastError = null;
      try {
        const { supervisor: sup, accelReason } = await launchTdGuest({
          config, accel: opts.accel ?? 'auto', powerdownTimeoutMs: 20_000, ...(opts.log && { log: opts.log }),
        });
        supervisor = sup;
        accelNote = config.mode === 'emulation' ? `emulation (${sup.argv.includes('kvm') ? 'KVM' : 'TCG'}): ${accelReason}` : null;
      } catch (err) {
        lastError = (err as Error).message;
        throw err;
      }
      const sup = supervisor;
      detachers = [
        sup.onConsole((line) => { for (const l of consoleListeners) l(line + '\n'); }),
        sup.onState(() => emitState()),
      ];
      opts.log?.info({ instance: config.instance, mode: config.mode, httpPort: instanceLayout(config).httpPort }, 'td guest launched from owner mode');
      emitState();
      return toStatus(sup.status());
    },
    async stop() {
      if (supervisor) await supervisor.stop();
      return toStatus(supervisor?.status() ?? null);
    },
    status: () => toStatus(supervisor?.status() ?? null),
    workerStats: () => (supervisor?.status().workerStats as Record<string, unknown> | undefined) ?? null,
    onConsole(l) {
      consoleListeners.add(l);
      return () => consoleListeners.delete(l);
    },
    onState(l) {
      stateListeners.add(l);
      return () => stateListeners.delete(l);
    },
    async close() {
      const s = supervisor?.status().state;
      if (supervisor && s && !['stopped', 'failed'].includes(s)) await supervisor.stop();
      for (const d of detachers) d();
    },
  };
}

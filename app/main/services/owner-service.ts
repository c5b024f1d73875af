import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Address } from '@ton/core';
import { CocoonError, errorMessage } from '../../../node-core/src/errors.ts';
import { runDoctor } from '../../../node-core/src/host/doctor.ts';
import { readCcMode } from '../../../node-core/src/host/gpu-checks.ts';
import { planPrepare, planRestore } from '../../../node-core/src/host/gpu-prep.ts';
import { openHost, type HostAccess } from '../../../node-core/src/host/host-access.ts';
import { listNvidiaGpus, readGpu } from '../../../node-core/src/host/pci.ts';
import type { ChainConfig } from '../../../node-core/src/chain/config.ts';
import type { HandlersFor, RequestsIn, TdStatus, TdSupervisorApi, WorkerConfigCheck, WorkerConfigInput, WorkerDashboard } from '../../shared/api-contract.ts';

/**
 * Owner mode's main-process side: host checks (the same engine as `cocoon doctor`), GPU plans,
 * worker configuration checks, the TD guest launcher behind `TdSupervisorApi`, and the worker
 * dashboard. It reads the host but never changes it: GPU preparation is a command the owner runs.
 */
export interface OwnerServiceOptions {
  /** Where host files are read (`/`, or a recorded host tree: `COCOON_HOST_ROOT`). */
  hostRoot: string;
  /** The TD guest launcher; absent in builds without it. */
  td?: TdSupervisorApi;
  network: 'local' | 'testnet' | 'mainnet';
  /** What `owner.why` checks besides the host: the chain, extra proxies, the worker image's hash. */
  why?: { chain?: ChainConfig; proxies?: string[]; imageHash?: string | null };
}

/** The worker's `/jsonstats` (node-core/src/worker), as far as the dashboard reads it. */
interface WorkerStatsReading { model?: string; active?: number; completed?: number; failed?: number; cancelled?: number; tokens?: number; proxies?: WorkerDashboard['proxies'] }

const CLI = fileURLToPath(new URL('../../../node-core/bin/cocoon.mjs', import.meta.url));

export class OwnerService extends EventEmitter {
  private readonly host: HostAccess;
  private readonly unsubscribe: Array<() => void> = [];
  private lastStats: { at: number; completed: number; tokens: number | null } | null = null;

  constructor(private readonly opts: OwnerServiceOptions) {
    super();
    this.host = openHost(opts.hostRoot);
    if (opts.td) {
      this.unsubscribe.push(opts.td.onState((s) => this.emit('event', 'owner.td.state', s)));
      this.unsubscribe.push(opts.td.onConsole((data) => this.emit('event', 'owner.td.console', { data })));
    }
  }

  /** Owner mode's requests, one typed handler each (arguments arrive validated by AppService). */
  readonly handlers: HandlersFor<RequestsIn<'owner.'>> = {
    'owner.doctor': async () => ({ ...(await runDoctor({ host: this.host })), hostRoot: this.opts.hostRoot, at: new Date().toISOString() }),
    'owner.gpus': () => Promise.all(listNvidiaGpus(this.host).map(async (g) => ({ ...g, ccMode: g.ccClass ? (await readCcMode(this.host, g)).mode : null }))),
    'owner.gpu.plan': async ({ action, bdf }) => {
      const { plan } = action === 'prepare' ? await planPrepare(this.host, bdf) : await planRestore(this.host, bdf);
      return { ...plan, commandLine: this.cocoonCommand(['gpu', action, '--gpu', plan.bdf]) };
    },
    'owner.config.check': (config) => this.checkConfig(config),
    'owner.td.status': () => this.tdStatus(),
    'owner.td.start': async (config) => {
      const check = this.checkConfig(config);
      if (!check.ok) throw new CocoonError('bad_config', `the worker configuration is not valid: ${Object.entries(check.errors).map(([k, v]) => `${k}: ${v}`).join('; ')}`);
      if (!this.opts.td) throw new CocoonError('no_launcher', 'this build has no TD guest launcher', { hint: 'use `cocoon td launch --config FILE` where it is installed' });
      return this.opts.td.start({ ...config, ownerAddress: check.ownerAddress! });
    },
    'owner.td.stop': async () => {
      if (!this.opts.td) throw new CocoonError('no_launcher', 'this build has no TD guest launcher');
      return this.opts.td.stop();
    },
    'owner.worker.stats': () => this.dashboard(),
    'owner.why': async () => {
      const { runWhy } = await import('../../../node-core/src/why/why.ts');
      const w = this.opts.why ?? {};
      const report = await runWhy({ hostRoot: this.opts.hostRoot, ...(w.chain && { chain: w.chain }), ...(w.proxies && { proxies: w.proxies }), ...(w.imageHash !== undefined && { imageHash: w.imageHash }), timeoutMs: 10_000 });
      return { ...report, at: new Date().toISOString() };
    },
  };

  /** The command the owner runs in the terminal: this checkout's CLI, against the same host root. */
  private cocoonCommand(args: string[]): string {
    const cli = existsSync(CLI) ? `${process.execPath} ${CLI}` : 'cocoon';
    const replay = this.host.replayed ? ['--host-root', this.opts.hostRoot] : [];
    return `${this.host.replayed ? '' : 'sudo '}${cli} ${[...args, ...replay].join(' ')}`;
  }

  private tdStatus(): TdStatus {
    return this.opts.td?.status() ?? {
      phase: 'unavailable', message: 'this build has no TD guest launcher', mode: null, pid: null, since: new Date(0).toISOString(), restarts: 0, statsUrl: null,
    };
  }

  checkConfig(config: WorkerConfigInput): WorkerConfigCheck {
    const errors: Record<string, string> = {};
    let ownerAddress: string | null = null;
    let network: WorkerConfigCheck['network'] = null;
    try {
      if (Address.isFriendly(config.ownerAddress)) {
        const parsed = Address.parseFriendly(config.ownerAddress);
        network = parsed.isTestOnly ? 'testnet' : 'mainnet';
        ownerAddress = parsed.address.toString({ bounceable: false, testOnly: parsed.isTestOnly });
      } else {
        const raw = Address.parseRaw(config.ownerAddress);
        ownerAddress = raw.toString({ bounceable: false, testOnly: this.opts.network === 'testnet' });
      }
    } catch {
      errors.ownerAddress = 'not a TON address: paste the wallet address payouts go to (e.g. UQ… or 0:…)';
    }
    if (network && this.opts.network !== 'local' && network !== this.opts.network) {
      errors.ownerAddress = `this is a ${network} address but the app runs on ${this.opts.network}`;
    }
    if (config.gpu !== null) {
      const gpu = readGpu(this.host, config.gpu);
      if (!gpu) errors.gpu = `no NVIDIA GPU at ${config.gpu} on this host`;
      else if (!gpu.ccClass) errors.gpu = `${gpu.model} has no confidential computing`;
      else if (gpu.driver !== 'vfio-pci') errors.gpu = `${config.gpu} is bound to ${gpu.driver ?? 'no driver'}: prepare it first (step 2)`;
    }
    return { ok: Object.keys(errors).length === 0, errors, ownerAddress: errors.ownerAddress ? null : ownerAddress, network };
  }

  private async dashboard(): Promise<WorkerDashboard> {
    const status = this.tdStatus();
    const empty: WorkerDashboard = { available: false, reason: null, phase: status.phase, model: null, active: 0, completed: 0, failed: 0, cancelled: 0, requestsPerSecond: null, tokensPerSecond: null, proxies: [] };
    let s: WorkerStatsReading | null = null;
    if (status.statsUrl) {
      try {
        const res = await fetch(status.statsUrl, { signal: AbortSignal.timeout(3000) });
        s = (await res.json()) as WorkerStatsReading;
      } catch (err) {
        return { ...empty, reason: `the worker's stats did not answer: ${errorMessage(err)}` };
      }
    } else {
      // A guest's worker has no host port for its stats: the guest prints them on its console.
      s = (this.opts.td?.workerStats?.() as WorkerStatsReading | null | undefined) ?? null;
    }
    if (!s) return { ...empty, reason: status.phase === 'unavailable' ? status.message : status.phase === 'stopped' ? 'no worker is running: launch it in step 4' : `the guest is ${status.phase}; numbers appear once its worker reports` };
    const now = Date.now();
    const completed = s.completed ?? 0;
    const tokens = typeof s.tokens === 'number' ? s.tokens : null;
    const prev = this.lastStats;
    this.lastStats = { at: now, completed, tokens };
    const secs = prev ? (now - prev.at) / 1000 : 0;
    return {
      ...empty, available: true, model: s.model ?? null, active: s.active ?? 0, completed, failed: s.failed ?? 0, cancelled: s.cancelled ?? 0, proxies: s.proxies ?? [],
      requestsPerSecond: prev && secs > 0 ? Math.max(0, completed - prev.completed) / secs : null,
      tokensPerSecond: prev && secs > 0 && tokens !== null && prev.tokens !== null ? Math.max(0, tokens - prev.tokens) / secs : null,
      tokens,
    };
  }

  close(): void {
    for (const u of this.unsubscribe.splice(0)) u();
  }
}

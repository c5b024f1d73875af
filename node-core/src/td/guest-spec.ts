import { existsSync, realpathSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { WorkerConfig } from './config.ts';

/**
 * What the launcher tells the guest, through the read-only `spec` share: the worker's flags
 * (`worker.args`, one per line), the guest-side settings as JSON (`worker.json`, for an image
 * init that reads JSON) and, for the development guest, `guest.env` (which node to run and
 * where the shared project is). Production flags are the fail-closed defaults (`--quote tdx
 * --policy tdx`); development ones only come from the config's explicit `development` block.
 */
export interface GuestSpec {
  workerArgs: string[];
  env: Record<string, string>;
  /** Extra 9p shares the development guest needs (host /usr, the project, its node_modules). */
  shares: Array<{ tag: string; path: string }>;
}

/** The project root (this file is node-core/src/td/guest-spec.ts). */
export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** Where td-image/dev-guest/build.sh leaves its outputs. */
export const DEV_GUEST_OUT = join(PROJECT_ROOT, 'td-image/dev-guest/out');

export function guestSpec(c: WorkerConfig, emulated: boolean): GuestSpec {
  const dev = c.development;
  const workerArgs = [
    ...c.network.proxies.flatMap((p) => ['--proxy', p]),
    '--model', c.model,
    '--coefficient', String(c.priceCoefficient),
    '--max-active', String(c.maxActiveRequests),
    '--quote', dev ? dev.quote : 'tdx',
    '--policy', dev ? dev.policy : 'tdx',
    ...(dev?.backend ? ['--backend', dev.backend] : []),
    // Under emulation the first attested handshake can take minutes of guest CPU.
    ...(emulated ? ['--connect-timeout-ms', '600000'] : []),
  ];
  const env: Record<string, string> = {};
  const shares: GuestSpec['shares'] = [];
  if (dev?.shareHostNode) {
    // The guest mounts the host's /usr (node and its libraries) and the project at the host's
    // own paths, so absolute symlinks (a shared node_modules) resolve inside the guest too.
    const project = realpathSync(PROJECT_ROOT);
    env.COCOON_NODE = process.execPath;
    env.COCOON_PROJECT = project;
    const mounts = [{ tag: 'project', path: project }];
    const nodeModules = join(PROJECT_ROOT, 'node_modules');
    if (existsSync(nodeModules) && realpathSync(nodeModules) !== join(project, 'node_modules')) {
      mounts.push({ tag: 'nodemodules', path: realpathSync(nodeModules) });
    }
    env.COCOON_SHARES = mounts.map((m) => `${m.tag}:${m.path}`).join(' ');
    const bundle = join(DEV_GUEST_OUT, 'worker.mjs');
    if (existsSync(bundle)) env.COCOON_WORKER_ENTRY = bundle;
    shares.push({ tag: 'hostusr', path: '/usr' }, ...mounts);
  }
  return { workerArgs, env, shares };
}

export function writeGuestSpec(specDir: string, c: WorkerConfig, spec: GuestSpec): void {
  writeFileSync(join(specDir, 'worker.args'), spec.workerArgs.join('\n') + '\n');
  writeFileSync(join(specDir, 'worker.json'), JSON.stringify({
    model: c.model, ownerAddress: c.ownerAddress, network: c.network, priceCoefficient: c.priceCoefficient,
    maxActiveRequests: c.maxActiveRequests, instance: c.instance, development: c.development ?? null,
  }, null, 2) + '\n');
  // Shell-quoted KEY='value' lines: the busybox init sources this file.
  const q = (v: string) => `'${v.replaceAll("'", `'\\''`)}'`;
  writeFileSync(join(specDir, 'guest.env'), Object.entries(spec.env).map(([k, v]) => `${k}=${q(v)}`).join('\n') + '\n');
}

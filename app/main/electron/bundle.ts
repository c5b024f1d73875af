import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { APP_ROOT, ensureRendererBuilt } from '../web/renderer-build.ts';

/**
 * Bundles the Electron main process and the preload with esbuild (the packaging step for
 * electron-builder too): main as ESM, preload as CommonJS because sandboxed preloads must be.
 * Dependencies stay external (they ship in node_modules, where electron-builder rebuilds native
 * ones for Electron's ABI); data files our modules read next to themselves are copied alongside.
 */
export const ELECTRON_OUT = join(APP_ROOT, '..', 'dist', 'electron');

export async function ensureElectronBundle(): Promise<string> {
  await ensureRendererBuilt();
  const { build } = await import('esbuild');
  const common = { bundle: true, platform: 'node' as const, target: 'node20', packages: 'external' as const, logLevel: 'warning' as const };
  mkdirSync(ELECTRON_OUT, { recursive: true });
  const core = join(APP_ROOT, '..', 'node-core', 'src');
  for (const f of ['protocol/cocoon_api.tl', 'protocol/cocoon_ext.tl', 'attestation/intel-sgx-root-ca.pem']) copyFileSync(join(core, f), join(ELECTRON_OUT, f.split('/')[1]!));
  await build({ ...common, entryPoints: [join(APP_ROOT, 'main', 'electron', 'main.ts')], outfile: join(ELECTRON_OUT, 'main.mjs'), format: 'esm', banner: { js: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);" } });
  await build({ ...common, entryPoints: [join(APP_ROOT, 'preload', 'preload.ts')], outfile: join(ELECTRON_OUT, 'preload.cjs'), format: 'cjs' });
  await copyContracts();
  return join(ELECTRON_OUT, 'main.mjs');
}

/**
 * The embedded local chain compiles the contracts at genesis from `<module dir>/src/*.tolk` with a
 * cache in `<module dir>/build`; bundled, the module dir is dist/electron. Compiling here fills the
 * cache so a packaged (read-only) app finds every contract compiled and never writes beside itself.
 */
async function copyContracts(): Promise<void> {
  const { compileAll } = await import('../../../contracts/compile.ts');
  await compileAll();
  const contracts = join(APP_ROOT, '..', 'contracts');
  for (const [from, to, ext] of [['src', 'src', '.tolk'], ['build', 'build', '.boc']] as const) {
    mkdirSync(join(ELECTRON_OUT, to), { recursive: true });
    for (const f of readdirSync(join(contracts, from))) if (f.endsWith(ext)) copyFileSync(join(contracts, from, f), join(ELECTRON_OUT, to, f));
  }
}

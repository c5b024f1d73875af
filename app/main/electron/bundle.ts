import { join } from 'node:path';
import { APP_ROOT, ensureRendererBuilt } from '../web/renderer-build.ts';

/**
 * Bundles the Electron main process and the preload with esbuild (the packaging step for
 * electron-builder too): main as ESM, preload as CommonJS because sandboxed preloads must be.
 * Native modules stay external so electron-builder can rebuild them for Electron's ABI.
 */
export const ELECTRON_OUT = join(APP_ROOT, '..', 'dist', 'electron');

export async function ensureElectronBundle(): Promise<string> {
  await ensureRendererBuilt();
  const { build } = await import('esbuild');
  const common = { bundle: true, platform: 'node' as const, target: 'node20', external: ['electron', 'better-sqlite3'], logLevel: 'warning' as const };
  await build({ ...common, entryPoints: [join(APP_ROOT, 'main', 'electron', 'main.ts')], outfile: join(ELECTRON_OUT, 'main.mjs'), format: 'esm', banner: { js: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);" } });
  await build({ ...common, entryPoints: [join(APP_ROOT, 'preload', 'preload.ts')], outfile: join(ELECTRON_OUT, 'preload.cjs'), format: 'cjs' });
  return join(ELECTRON_OUT, 'main.mjs');
}

import { existsSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The renderer is built with Vite into dist/renderer. Web mode and the Electron launcher build it
 * on demand when the build is missing or older than its sources, so `npm install && npm start`
 * needs no separate build step.
 */
export const APP_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const RENDERER_OUT = join(APP_ROOT, '..', 'dist', 'renderer');

function newestMtime(dir: string): number {
  let newest = 0;
  if (!existsSync(dir)) return newest;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

export function rendererBuildIsFresh(): boolean {
  const index = join(RENDERER_OUT, 'index.html');
  if (!existsSync(index)) return false;
  const sources = Math.max(newestMtime(join(APP_ROOT, 'renderer')), newestMtime(join(APP_ROOT, 'shared')));
  return statSync(index).mtimeMs >= sources;
}

export async function ensureRendererBuilt(log: (msg: string) => void = () => undefined): Promise<string> {
  if (rendererBuildIsFresh()) return RENDERER_OUT;
  log('building the renderer (vite)…');
  const { build } = await import('vite');
  // Build beside the output and swap it in, so two processes starting at once (parallel tests)
  // never serve a half-emptied directory.
  const suffix = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const staging = `${RENDERER_OUT}.${suffix}.tmp`;
  await build({ configFile: join(APP_ROOT, 'renderer', 'vite.config.ts'), logLevel: 'warn', build: { outDir: staging, emptyOutDir: true } });
  const old = `${RENDERER_OUT}.${suffix}.old`;
  if (existsSync(RENDERER_OUT)) renameSync(RENDERER_OUT, old);
  try {
    renameSync(staging, RENDERER_OUT);
  } catch (err) {
    // Another process swapped its (equally fresh) build in first; keep that one.
    if (!existsSync(RENDERER_OUT)) throw err;
    rmSync(staging, { recursive: true, force: true });
  }
  rmSync(old, { recursive: true, force: true });
  return RENDERER_OUT;
}

import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { launchChromium } from '../testing/chromium.ts';
import { RENDERER_OUT } from '../main/web/renderer-build.ts';
import { startWebMode } from '../main/web/web-mode.ts';

/**
 * `npm run bench -- app`: web mode's time to interactive (URL opened → the composer is enabled,
 * i.e. status, attestation and models loaded over the WebSocket) in a fresh Chromium page, and
 * the renderer's JavaScript size gzipped.
 */
export async function run(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'cocoon-bench-'));
  // The embedded chain announces itself under COCOON_HOME: keep that out of the real home.
  process.env.COCOON_HOME = dataDir;
  const mode = await startWebMode({ dataDir });
  const browser = await launchChromium();
  const times: number[] = [];
  try {
    for (let i = 0; i < 8; i++) {
      const context = await browser.newContext();
      const page = await context.newPage();
      const t0 = performance.now();
      await page.goto(mode.url);
      await page.waitForSelector('[data-testid=composer]:not([disabled])');
      times.push(performance.now() - t0);
      await context.close();
    }
  } finally {
    await browser.close();
    await mode.stop();
  }
  const assets = join(RENDERER_OUT, 'assets');
  const js = readdirSync(assets).filter((f) => f.endsWith('.js'));
  const raw = js.reduce((n, f) => n + readFileSync(join(assets, f)).length, 0);
  const gz = js.reduce((n, f) => n + gzipSync(readFileSync(join(assets, f)), { level: 9 }).length, 0);
  // What the first paint needs (index.html's script and preloads) versus chunks loaded later
  // (TON Connect and QR code on testnet/mainnet only).
  const html = readFileSync(join(RENDERER_OUT, 'index.html'), 'utf8');
  const initial = js.filter((f) => html.includes(`assets/${f}`));
  const initialGz = initial.reduce((n, f) => n + gzipSync(readFileSync(join(assets, f)), { level: 9 }).length, 0);
  const sorted = [...times].sort((a, b) => a - b);
  const result = {
    timeToInteractiveMs: { first: times[0], p50: sorted[Math.floor(sorted.length / 2)], max: sorted.at(-1) },
    rendererJs: { files: js.length, bytes: raw, gzipBytes: gz, initialFiles: initial.length, initialGzipBytes: initialGz },
    goals: { timeToInteractiveMs: 1500, rendererJsGzipBytes: 500 * 1024 },
  };
  console.log('app benchmark (web mode, Debian Chromium)');
  console.log(`  time to interactive   first ${times[0]!.toFixed(0)} ms, p50 ${result.timeToInteractiveMs.p50!.toFixed(0)} ms, max ${result.timeToInteractiveMs.max!.toFixed(0)} ms   (goal ≤ 1500 ms)`);
  console.log(`  renderer JavaScript   ${(raw / 1024).toFixed(0)} KB, ${(gz / 1024).toFixed(0)} KB gzipped   (goal ≤ 500 KB gzipped); loaded at start ${(initialGz / 1024).toFixed(0)} KB gzipped`);
  mkdirSync('bench-results', { recursive: true });
  writeFileSync('bench-results/app.json', JSON.stringify({ when: new Date().toISOString(), ...result }, null, 2));
  console.log('wrote bench-results/app.json');
}

import type { ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAppProcess, stopAppProcess } from './testing/app-process.ts';
import { launchChromium } from './testing/chromium.ts';

/**
 * Every main view fits the window at the three sizes the app supports (1024×700, 1280×800,
 * 2560×1440), in Chromium against a real `cocoon app --web` process: the conversation list with
 * many long-titled conversations, the cost history with many answers, the attestation panel,
 * Settings, and the owner tab (host steps on a replayed host, earnings, proxy operator). Checked:
 * no horizontal overflow of the page or of any panel, and every visible button and input inside
 * the window, not cut off. Screenshots go to test-artifacts/layout-*.png.
 */
const ARTIFACTS = fileURLToPath(new URL('../test-artifacts/', import.meta.url));
const SIZES = [[1024, 700], [1280, 800], [2560, 1440]] as const;
let child: ChildProcess;
let tmp: string;
let browser: Browser;
let page: Page;

const cost = (completion: number) => ({
  currency: 'nanoTON', tokens: { prompt: 20, cached: 0, completion, reasoning: 0 }, multipliers: { prompt: 10000, cached: 1000, completion: 10000, reasoning: 10000 },
  pricePerToken: 20, workerFeePerToken: 19, weightedTokens: (20 + completion) * 10000, nanoTonByKind: { prompt: 400, cached: 0, completion: completion * 20, reasoning: 0 },
  totalNanoTon: (20 + completion) * 20, totalTon: String((20 + completion) * 20 / 1e9), workerNanoTon: (20 + completion) * 19, proxyNanoTon: 20 + completion,
});
const answer = (i: number) => ({
  role: 'assistant', content: `answer ${i}`, status: i % 7 === 0 ? 'stopped' : 'complete', model: 'Qwen/Qwen3-0.6B', at: new Date(Date.now() - (200 - i) * 60_000).toISOString(),
  ...(i % 7 !== 0 && { usage: { prompt_tokens: 20, completion_tokens: i, total_tokens: 20 + i }, cost: cost(i) }),
});

/** Many conversations, some with long unbroken titles, and a long cost history. */
function seedConversations(dir: string): void {
  mkdirSync(join(dir, 'app'), { recursive: true });
  const conversations = Array.from({ length: 60 }, (_, c) => ({
    id: `c-layout-${c}`, title: c % 5 === 0 ? `https://example.com/${'verylongsegment'.repeat(10)}-${c}` : `Conversation number ${c} about something`,
    model: 'Qwen/Qwen3-0.6B', systemPrompt: '', temperature: 0.7, maxTokens: 64, updatedAt: new Date(Date.now() - c * 60_000).toISOString(),
    messages: c === 0 ? Array.from({ length: 80 }, (_, i) => [{ role: 'user', content: `question ${i}` }, answer(i + 1)]).flat() : [{ role: 'user', content: 'hello' }],
  }));
  writeFileSync(join(dir, 'app', 'conversations.json'), JSON.stringify(conversations));
}

/** Nothing wider than the window, no panel scrolling sideways, every visible control fully inside the window. */
async function expectFits(view: string, width: number, height: number, scope: Locator): Promise<void> {
  const where = `${view} at ${width}x${height}`;
  expect(await page.evaluate(() => document.documentElement.scrollWidth), `page width, ${where}`).toBeLessThanOrEqual(width);
  const overflowing = await scope.evaluate((root) => {
    const out: string[] = [];
    for (const el of [root, ...Array.from(root.querySelectorAll<HTMLElement>('section, .panel, .side, main, table, dl, .actions, nav, aside, ul'))]) {
      const style = getComputedStyle(el);
      // A panel that scrolls sideways hides its right edge; tables inside a scroller are allowed to be wider only if the scroller says so.
      if (el.scrollWidth > el.clientWidth + 1 && style.overflowX !== 'visible' && el.clientWidth > 0) out.push(`${el.tagName.toLowerCase()}.${el.className} ${el.scrollWidth}>${el.clientWidth}`);
    }
    return out;
  });
  expect(overflowing, `panels scrolling sideways, ${where}`).toEqual([]);
  const clipped = await scope.evaluate((root, size) => {
    const out: string[] = [];
    for (const el of Array.from(root.querySelectorAll<HTMLElement>('button, input, select, textarea'))) {
      const r = el.getBoundingClientRect();
      if (r.width === 0 || r.height === 0 || getComputedStyle(el).visibility === 'hidden') continue;
      // Cut off on the left/right by the window, or by a clipping ancestor.
      let clippedBy: string | null = r.left < -0.5 || r.right > size.width + 0.5 ? 'window' : null;
      for (let p = el.parentElement; p && !clippedBy; p = p.parentElement) {
        const s = getComputedStyle(p);
        if (s.overflowX === 'visible') continue;
        const pr = p.getBoundingClientRect();
        if (r.left < pr.left - 0.5 || r.right > pr.right + 0.5) clippedBy = `${p.tagName.toLowerCase()}.${p.className}`;
      }
      if (clippedBy) out.push(`${el.tagName.toLowerCase()}[${el.getAttribute('data-testid') ?? el.textContent?.slice(0, 20)}] by ${clippedBy}`);
    }
    return out;
  }, { width, height });
  expect(clipped, `controls cut off, ${where}`).toEqual([]);
}

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  tmp = mkdtempSync(join(tmpdir(), 'cocoon-layout-'));
  const hostRoot = join(tmp, 'host');
  cpSync(fileURLToPath(new URL('../testdata/hosts/tdx-h100-nvidia-driver', import.meta.url)), hostRoot, { recursive: true, verbatimSymlinks: true });
  seedConversations(join(tmp, 'data'));
  const started = await startAppProcess<{ url: string }>(join(tmp, 'data'), ['--no-td'], { COCOON_HOST_ROOT: hostRoot });
  child = started.child;
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await page.goto(started.info.url);
  await page.waitForSelector('[data-testid=attestation-verdict]', { timeout: 30_000 });
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await stopAppProcess(child);
  rmSync(tmp, { recursive: true, force: true });
});

describe('layout at three window sizes', () => {
  it('developer tab: many conversations, the cost history and the attestation panel fit', async () => {
    await page.click('[data-testid=tab-developer]');
    await expect.poll(() => page.locator('[data-testid=conversation-item]').count(), { timeout: 20_000 }).toBeGreaterThanOrEqual(60);
    await expect.poll(() => page.locator('[data-testid=cost-row]').count()).toBe(50);
    for (const [w, h] of SIZES) {
      await page.setViewportSize({ width: w, height: h });
      await page.waitForTimeout(200);
      await expectFits('conversation list', w, h, page.locator('.conversations').first());
      await page.locator('[data-testid=cost-viewer]').scrollIntoViewIfNeeded();
      await expectFits('cost history', w, h, page.locator('[data-testid=cost-viewer]'));
      await page.locator('[data-testid=attestation-panel]').scrollIntoViewIfNeeded();
      await expectFits('attestation panel', w, h, page.locator('[data-testid=attestation-panel]'));
      await expectFits('developer tab', w, h, page.locator('[data-testid=app]'));
      await page.screenshot({ path: join(ARTIFACTS, `layout-developer-${w}x${h}.png`) });
    }
  });

  it('settings fit', async () => {
    await page.click('[data-testid=tab-settings]');
    await page.waitForSelector('[data-testid=settings-openai-url]');
    for (const [w, h] of SIZES) {
      await page.setViewportSize({ width: w, height: h });
      await page.waitForTimeout(200);
      await expectFits('settings', w, h, page.locator('[data-testid=app]'));
      await page.screenshot({ path: join(ARTIFACTS, `layout-settings-${w}x${h}.png`), fullPage: true });
    }
  });

  it('owner tab: the steps, earnings and the proxy operator fit', async () => {
    await page.click('[data-testid=tab-owner]');
    await page.waitForSelector('[data-testid=step-earnings]');
    await expect.poll(() => page.locator('[data-testid=proxy-state]').count(), { timeout: 30_000 }).toBe(1);
    await expect.poll(() => page.locator('[data-testid=earnings-contract]').count(), { timeout: 30_000 }).toBe(1);
    for (const [w, h] of SIZES) {
      await page.setViewportSize({ width: w, height: h });
      await page.waitForTimeout(200);
      await expectFits('owner tab', w, h, page.locator('[data-testid=app]'));
      await page.screenshot({ path: join(ARTIFACTS, `layout-owner-${w}x${h}.png`), fullPage: true });
    }
  });
});

import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAppProcess, stopAppProcess } from './testing/app-process.ts';
import { launchChromium } from './testing/chromium.ts';
import { openClientContractInPage } from './testing/client-account.e2e.ts';

/**
 * Developer mode in daily use, in Debian's Chromium against a real `cocoon app --web` process:
 * losing and regaining the backend, drafts while another conversation streams, scrolling, long
 * unbroken text at three window sizes, Markdown (sanitised), model truth, errors in words, cost
 * history across reloads, Settings. Screenshots go to test-artifacts/.
 */
const ARTIFACTS = fileURLToPath(new URL('../test-artifacts/', import.meta.url));
const SIZES = [[1024, 700], [1280, 800], [2560, 1440]] as const;
const LONG_URL = `https://example.com/${'a1b2c3d4e5'.repeat(20)}`;

let child: ChildProcess;
let browser: Browser;
let page: Page;
let dataDir: string;
let port: number;
let url: string;

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const p = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return p;
}

async function startApp(): Promise<string> {
  // Log level info: the Settings test reads the app's log.
  const started = await startAppProcess<{ url: string }>(dataDir, ['--port', String(port), '--token-delay-ms', '60'], { COCOON_LOG_LEVEL: 'info' });
  child = started.child;
  return started.info.url;
}

const killApp = (signal: NodeJS.Signals) => stopAppProcess(child, signal);

/** The page fits its window: nothing wider than the viewport, Send on screen. */
async function expectFits(p: Page, width: number, height: number): Promise<void> {
  const scrollWidth = await p.evaluate(() => document.documentElement.scrollWidth);
  expect(scrollWidth, `page width at ${width}x${height}`).toBeLessThanOrEqual(width);
  const send = await p.locator('[data-testid=send], [data-testid=stop]').first().boundingBox();
  expect(send, 'the send button is rendered').not.toBeNull();
  expect(send!.x + send!.width).toBeLessThanOrEqual(width);
  expect(send!.y + send!.height).toBeLessThanOrEqual(height);
}

const stored = (id: string, title: string, model: string, messages: unknown[], minutesAgo: number) => ({
  id, title, model, systemPrompt: '', temperature: 0.7, maxTokens: 64, messages, updatedAt: new Date(Date.now() - minutesAgo * 60_000).toISOString(),
});

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  dataDir = mkdtempSync(join(tmpdir(), 'cocoon-devmode-'));
  mkdirSync(join(dataDir, 'app'), { recursive: true });
  // Stored history from the first slice's single-file format: imported on start.
  writeFileSync(join(dataDir, 'app', 'conversations.json'), JSON.stringify([
    stored('c-markdown', 'Markdown answer', 'Qwen/Qwen3-0.6B', [
      { role: 'user', content: 'show code' },
      { role: 'assistant', content: 'Here:\n\n```js\nconsole.log("hi")\n```\n\n<img src=x onerror="window.__xss=1"> **bold**', status: 'complete' },
    ], 30),
    stored('c-missing', 'Old model', 'Missing/Model-1B', [{ role: 'user', content: 'hello' }], 60),
  ]));
  port = await freePort();
  url = await startApp();
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await page.goto(url);
  await page.waitForSelector('[data-testid=attestation-verdict]');
  // Every answer is paid for: open the developer's client contract with the minimum stake first,
  // as a new user does in the wallet panel.
  await openClientContractInPage(page, '15');
}, 180_000);

afterAll(async () => {
  await browser?.close();
  if (child) await killApp('SIGTERM');
});

describe('developer mode in daily use', () => {
  it('renders stored Markdown answers with code blocks and a copy button, and strips script', async () => {
    await page.getByRole('button', { name: 'Markdown answer' }).click();
    const answer = page.locator('[data-testid=msg-assistant]').first();
    await expect.poll(() => answer.locator('pre code').textContent()).toBe('console.log("hi")\n');
    expect(await answer.locator('pre .copy-code').count()).toBe(1);
    expect(await answer.locator('strong').textContent()).toBe('bold');
    expect(await answer.locator('img[onerror]').count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
  });

  it('shows a conversation\'s own model even when the network does not serve it, and says what to do', async () => {
    await page.getByRole('button', { name: 'Old model' }).click();
    expect(await page.locator('[data-testid=model-picker]').inputValue()).toBe('Missing/Model-1B');
    expect(await page.locator('[data-testid=model-picker] option:checked').textContent()).toMatch(/not on this network now/);
    await expect.poll(() => page.textContent('[data-testid=chat-disabled]')).toMatch(/No worker serves Missing\/Model-1B right now; pick a model with workers/);
    await page.selectOption('[data-testid=model-picker]', 'Qwen/Qwen3-0.6B');
    await expect.poll(() => page.locator('[data-testid=chat-disabled]').count()).toBe(0);
  });

  it('keeps a message typed in another conversation while one streams, and sends it afterwards', async () => {
    await page.click('[data-testid=new-conversation]');
    await page.fill('[data-testid=composer]', 'First conversation, long answer please');
    await page.click('[data-testid=send]');
    await page.waitForSelector('[data-testid=msg-streaming]');
    await page.click('[data-testid=new-conversation]');
    await page.fill('[data-testid=composer]', 'typed in B while A streams');
    // Switch back to A and again to B: the draft stays where it was typed.
    await page.locator('[data-testid=conversation-item] button.link').nth(1).click();
    await page.locator('[data-testid=conversation-item] button.link').nth(0).click();
    expect(await page.inputValue('[data-testid=composer]')).toBe('typed in B while A streams');
    await page.click('[data-testid=send]');
    await expect.poll(() => page.locator('[data-testid=msg-user] .text').allTextContents()).toEqual(['typed in B while A streams']);
    await page.waitForSelector('[data-testid=send]', { timeout: 30_000 });
    expect(await page.inputValue('[data-testid=composer]')).toBe('');
  });

  it('follows a streaming answer to the bottom, and opens a conversation at its newest message', async () => {
    for (let i = 0; i < 3; i++) {
      await page.fill('[data-testid=composer]', `message ${i} ${'padding '.repeat(40)}`);
      await page.click('[data-testid=send]');
      await page.waitForSelector('[data-testid=send]', { timeout: 30_000 });
    }
    const atBottom = () => page.evaluate(() => {
      const el = document.querySelector('[data-testid=messages]')!;
      return el.scrollHeight - el.scrollTop - el.clientHeight < 60;
    });
    expect(await page.evaluate(() => { const el = document.querySelector('[data-testid=messages]')!; return el.scrollHeight > el.clientHeight; })).toBe(true);
    expect(await atBottom()).toBe(true);
    await page.getByRole('button', { name: 'Markdown answer' }).click();
    await page.locator('[data-testid=conversation-item] button.link').first().click();
    expect(await atBottom()).toBe(true);
  });

  it('wraps one long unbroken string and fits the window at three sizes', async () => {
    await page.click('[data-testid=new-conversation]');
    await page.fill('[data-testid=composer]', LONG_URL);
    await page.click('[data-testid=send]');
    await page.waitForSelector('[data-testid=send]', { timeout: 30_000 });
    for (const [w, h] of SIZES) {
      await page.setViewportSize({ width: w, height: h });
      await page.reload();
      await page.waitForSelector('[data-testid=attestation-verdict]');
      await page.getByRole('button', { name: LONG_URL.slice(0, 60) }).click();
      await expectFits(page, w, h);
      await page.screenshot({ path: join(ARTIFACTS, `developer-${w}x${h}.png`) });
    }
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  it('keeps the cost of every answer across a reload and exports it as CSV', async () => {
    await page.reload();
    await page.waitForSelector('[data-testid=cost-total-nanoton]');
    const answers = Number(await page.textContent('[data-testid=session-answers]'));
    expect(answers).toBeGreaterThanOrEqual(5);
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=export-csv]')]);
    const csv = readFileSync((await download.path())!, 'utf8').trim().split('\n');
    expect(csv[0]).toMatch(/^time,model,conversation,prompt_tokens,cached_tokens,completion_tokens,reasoning_tokens,total_tokens/);
    expect(csv).toHaveLength(answers + 1);
  });

  it('says in words what is wrong with an amount', async () => {
    await page.locator('[data-testid=wallet-panel]').scrollIntoViewIfNeeded();
    await expect.poll(() => page.locator('[data-testid=account-amount]').count(), { timeout: 20_000 }).toBe(1);
    await page.fill('[data-testid=account-amount]', '-3');
    await page.click('[data-testid=account-topup]');
    await expect.poll(() => page.textContent('[data-testid=account-error]')).toMatch(/^Amount: must be a positive TON amount/);
  });

  it('shows Settings: the API URL with a snippet, the test engine named as such, and the log', async () => {
    await page.click('[data-testid=tab-settings]');
    expect(await page.textContent('[data-testid=settings-openai-url]')).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1/);
    expect(await page.textContent('[data-testid=settings-active-backend]')).toMatch(/test engine .*not a language model/);
    await page.click('[data-testid=refresh-logs]');
    await expect.poll(() => page.locator('[data-testid=log-view] .log-line').count()).toBeGreaterThan(0);
    await page.click('[data-testid=backend-url-radio]');
    await page.fill('[data-testid=backend-url]', 'not a url');
    await page.click('[data-testid=save-backend]');
    await expect.poll(() => page.textContent('[data-testid=settings-error]')).toMatch(/^Backend URL: /);
    await page.screenshot({ path: join(ARTIFACTS, 'developer-settings.png') });
    await page.click('text=Developer');
  });

  it('notices at once when the app stops, keeps the partial answer and the draft, and recovers on restart', async () => {
    await page.click('[data-testid=new-conversation]');
    // The test engine answers this first prompt with 51 tokens (3 s at 60 ms per token): the kill
    // lands mid-stream even on a loaded machine.
    await page.fill('[data-testid=composer]', 'Write at length about topic 0');
    await page.click('[data-testid=send]');
    await page.waitForFunction(() => (document.querySelector('[data-testid=msg-streaming]')?.textContent ?? '').length > 20);
    await killApp('SIGKILL');
    await page.waitForSelector('[data-testid=link-banner]', { timeout: 10_000 });
    expect(await page.getAttribute('[data-testid=app]', 'data-link')).not.toBe('connected');
    const interrupted = page.locator('[data-testid=msg-assistant]').last();
    await expect.poll(() => interrupted.getAttribute('data-status')).toBe('interrupted');
    await page.fill('[data-testid=composer]', 'written while the app was down');
    expect(await page.isDisabled('[data-testid=send]')).toBe(true);
    await page.screenshot({ path: join(ARTIFACTS, 'developer-backend-lost.png') });
    // Same data dir and port: the page reconnects by itself with its bookmarked token.
    await startApp();
    await expect.poll(() => page.getAttribute('[data-testid=app]', 'data-link'), { timeout: 30_000 }).toBe('connected');
    await expect.poll(() => page.locator('[data-testid=link-banner]').count()).toBe(0);
    await expect.poll(() => page.locator('[data-testid=chat-error]').count(), { message: 'no banner from the outage stays after recovery' }).toBe(0);
    await expect.poll(() => page.isDisabled('[data-testid=send]'), { timeout: 30_000 }).toBe(false);
    expect(await page.inputValue('[data-testid=composer]')).toBe('written while the app was down');
    await page.click('[data-testid=send]');
    await page.waitForSelector('[data-testid=msg-streaming]');
    await page.waitForSelector('[data-testid=send]', { timeout: 30_000 });
    expect(await page.locator('[data-testid=msg-assistant]').last().getAttribute('data-status')).toBe('complete');
  });
});

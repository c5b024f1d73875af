import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { APP_CLI, startAppProcess, stopAppProcess } from './testing/app-process.ts';
import { launchChromium } from './testing/chromium.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';

/**
 * The app in web mode, driven in Debian's Chromium against the real local network (a separate
 * `cocoon app --web` process). Screenshots of the main screens go to test-artifacts/.
 */
const CLI = APP_CLI;
const ARTIFACTS = fileURLToPath(new URL('../test-artifacts/', import.meta.url));

let child: ChildProcess;
let info: { url: string; openai: string };
let browser: Browser;
let page: Page;
const wsFrames: string[] = [];
/** The test engine's answer to this first prompt is one of its longest (51 tokens). */
const LONG_ANSWER_PROMPT = 'Write at length about topic 0';

let dataDir: string;

/** Starts `cocoon app --web --json` on `dataDir` and resolves with the JSON line it prints when ready. */
// 80 ms per token keeps an answer (12-84 tokens from the test engine) streaming for seconds, so
// the stop test's click lands mid-stream even on a loaded machine.
async function startApp(): Promise<{ url: string; openai: string }> {
  const started = await startAppProcess<{ url: string; openai: string }>(dataDir, ['--token-delay-ms', '150']);
  child = started.child;
  return started.info;
}

const stopApp = () => stopAppProcess(child);

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  dataDir = mkdtempSync(join(tmpdir(), 'cocoon-app-'));
  info = await startApp();
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.on('websocket', (ws) => ws.on('framereceived', (f) => wsFrames.push(String(f.payload))));
  await page.goto(info.url);
  await page.waitForSelector('[data-testid=attestation-verdict]');
});

afterAll(async () => {
  await browser?.close();
  await stopApp();
});

describe('web mode in Chromium', () => {
  it('refuses requests and WebSocket upgrades without the right token', async () => {
    const base = new URL(info.url);
    expect((await fetch(`${base.origin}/`)).status).toBe(401);
    expect((await fetch(`${base.origin}/?token=wrong`)).status).toBe(403);
    const refused = await new Promise<string>((resolve) => {
      const ws = new WebSocket(`ws://${base.host}/api`);
      ws.on('unexpected-response', (_req, res) => resolve(String(res.statusCode)));
      ws.on('open', () => resolve('open'));
      ws.on('error', () => resolve('error'));
    });
    expect(refused).toBe('401');
  });

  it('shows the proxy attestation with the same image hash as `cocoon attest cert`, amber for a development quote', async () => {
    await expect.poll(() => page.textContent('[data-testid=attestation-verdict]')).toMatch(/Development quote — not confidential/);
    expect(await page.getAttribute('[data-testid=attestation-panel]', 'data-verdict')).toBe('development');
    const shown = (await page.textContent('[data-testid=attestation-image-hash]'))!.trim();
    const dir = mkdtempSync(join(tmpdir(), 'cert-'));
    writeFileSync(join(dir, 'proxy.pem'), await (await fetch(`${info.openai}/cocoon/proxy-certificate`)).text());
    const cli = spawnSync(process.execPath, [CLI, 'attest', 'cert', join(dir, 'proxy.pem'), '--json', '--policy', 'fake'], { encoding: 'utf8' });
    expect(JSON.parse(cli.stdout).imageHash).toBe(shown);
    await page.screenshot({ path: join(ARTIFACTS, 'developer-connected.png') });
  });

  // Every answer is paid for: the developer opens a client contract before the first chat (the app's
  // local network does not open one for them), so the wallet tests come before the chat tests.
  it('shows the local development wallet with its balance on the embedded chain', async () => {
    await expect.poll(() => page.textContent('[data-testid=dev-wallet-address]'), { timeout: 15_000 }).toMatch(/^[UE]Q[A-Za-z0-9_-]{46}$/);
    expect(await page.textContent('[data-testid=dev-wallet-balance]')).toMatch(/^\d+(\.\d+)? TON$/);
    expect(await page.locator('[data-testid=wallet-disabled]').count()).toBe(0);
    await page.locator('[data-testid=wallet-panel]').screenshot({ path: join(ARTIFACTS, 'developer-wallet.png') });
  });

  it('opens the client contract with a stake, tops it up and withdraws only the free balance, on chain', async () => {
    const wallet = page.locator('[data-testid=wallet-panel]');
    await wallet.scrollIntoViewIfNeeded();
    // Each action is quoted first (amount, fee, signer) and sent only on Confirm.
    const confirm = async () => {
      await page.waitForSelector('[data-testid=account-quote]', { timeout: 20_000 });
      expect(await page.textContent('[data-testid=quote-signer]')).toBe('local development wallet');
      await page.click('[data-testid=quote-confirm]');
    };
    await expect.poll(() => page.textContent('[data-testid=account-state]'), { timeout: 15_000 }).toBe('not opened yet');
    await page.fill('[data-testid=account-amount]', '10');
    await page.click('[data-testid=account-open]');
    await expect.poll(() => page.textContent('[data-testid=account-error]'), { timeout: 20_000 }).toMatch(/at least 15 TON/);
    expect(await page.locator('[data-testid=account-quote]').count()).toBe(0);
    await page.fill('[data-testid=account-amount]', '15');
    await page.click('[data-testid=account-open]');
    await confirm();
    await expect.poll(() => page.textContent('[data-testid=account-state]'), { timeout: 30_000 }).toBe('open');
    expect(await page.textContent('[data-testid=account-stake]')).toMatch(/^15 TON/);
    await page.fill('[data-testid=account-amount]', '3');
    await page.click('[data-testid=account-topup]');
    await confirm();
    await expect.poll(() => page.textContent('[data-testid=account-balance]'), { timeout: 30_000 }).toBe('3 TON');
    await page.fill('[data-testid=account-amount]', '10');
    await page.click('[data-testid=account-withdraw]');
    await expect.poll(() => page.textContent('[data-testid=account-error]'), { timeout: 20_000 }).toMatch(/stake stays locked/);
    await page.fill('[data-testid=account-amount]', '1');
    await page.click('[data-testid=account-withdraw]');
    await confirm();
    await expect.poll(() => page.textContent('[data-testid=account-balance]'), { timeout: 30_000 }).toBe('2 TON');
    await wallet.screenshot({ path: join(ARTIFACTS, 'developer-client-account.png') });
  });

  it('streams an answer and shows exactly the usage and cost the client API returned', async () => {
    wsFrames.length = 0;
    await page.fill('[data-testid=composer]', 'Tell me about confidential computing');
    await page.click('[data-testid=send]');
    await page.waitForSelector('[data-testid=msg-streaming]');
    await page.waitForSelector('[data-testid=cost-total-nanoton]', { timeout: 30_000 });
    await page.waitForSelector('[data-testid=send]', { timeout: 30_000 });
    const done = wsFrames.map((f) => JSON.parse(f)).find((m) => m.event === 'chat.end')!.payload.message;
    expect(wsFrames.some((f) => f.includes('"chat.delta"'))).toBe(true);
    expect(Number(await page.textContent('[data-testid=cost-total-nanoton]'))).toBe(done.cost.totalNanoTon);
    expect(Number(await page.textContent('[data-testid=cost-total-tokens]'))).toBe(done.usage.total_tokens);
    for (const kind of ['prompt', 'cached', 'completion', 'reasoning']) {
      expect(Number(await page.textContent(`[data-testid=cost-tokens-${kind}]`))).toBe(done.cost.tokens[kind]);
    }
    expect(done.usage.prompt_tokens).toBe(done.cost.tokens.prompt + done.cost.tokens.cached);
    await page.screenshot({ path: join(ARTIFACTS, 'developer-chat-cost.png') });
    await page.locator('[data-testid=cost-viewer]').screenshot({ path: join(ARTIFACTS, 'developer-cost-viewer.png') });
  });

  it('stops a streaming answer with the stop button', async () => {
    // A new conversation whose first prompt the test engine answers with ~50 tokens (7.5 s at 150 ms
    // per token), so the stop lands mid-stream even on a loaded machine.
    await page.click('[data-testid=new-conversation]');
    await page.fill('[data-testid=composer]', LONG_ANSWER_PROMPT);
    await page.click('[data-testid=send]');
    await page.waitForSelector('[data-testid=stop]');
    await page.waitForFunction(() => (document.querySelector('[data-testid=msg-streaming] .text')?.textContent ?? '').length > 5);
    await page.click('[data-testid=stop]');
    await page.waitForSelector('[data-testid=send]');
    const last = page.locator('[data-testid=msg-assistant]').last();
    const chatError = await page.locator('[data-testid=chat-error]').allTextContents();
    expect(chatError, 'no error banner after a stop').toEqual([]);
    expect(await last.getAttribute('data-status'), 'the partial answer is kept as a stopped answer').toBe('stopped');
    expect((await last.locator('[data-testid=msg-text]').textContent())!.length).toBeGreaterThan(5);
    expect(await last.locator('[data-testid=msg-text]').textContent()).not.toMatch(/\[stopped\]/);
    expect(await last.locator('[data-testid=retry]').count()).toBe(1);
    expect(await last.locator('[data-testid=continue]').count()).toBe(1);
    // Its cost: what the client's answer log reports for it (clients with the log, GET
    // /v1/cocoon/answers), else said plainly. Either way the row is in the cost history.
    const hasLog = (await fetch(`${info.openai}/cocoon/answers?limit=1`)).ok;
    const stoppedRow = page.locator('[data-testid=cost-row][data-status=stopped]').first();
    if (hasLog) {
      const logged = (await (await fetch(`${info.openai}/cocoon/answers?limit=5`)).json() as { data: Array<{ outcome: string; cost: { totalNanoTon: number } | null }> }).data.find((a) => a.outcome === 'stopped')!;
      expect(logged.cost, 'the client charged the stopped answer').not.toBeNull();
      await expect.poll(() => stoppedRow.locator('[data-testid=cost-row-nanoton]').textContent()).toBe(String(logged.cost!.totalNanoTon));
      expect(await last.locator('[data-testid=answer-meta]').textContent()).toContain(`${logged.cost!.totalNanoTon} nanoTON`);
    } else {
      expect(await stoppedRow.locator('[data-testid=cost-row-nanoton]').textContent()).toBe('cost not reported');
      expect(await last.locator('[data-testid=answer-meta]').textContent()).toContain('cost not reported');
    }
    await page.screenshot({ path: join(ARTIFACTS, 'developer-stopped.png') });
  });

  it('keeps conversations across a reload', async () => {
    const before = await page.locator('.conversations li').count();
    await page.reload();
    await page.waitForSelector('[data-testid=attestation-verdict]');
    await expect.poll(() => page.locator('.conversations li').count()).toBe(before);
    await page.getByRole('button', { name: 'Tell me about confidential computing' }).click();
    expect(await page.locator('[data-testid=msg-user]').count()).toBeGreaterThanOrEqual(1);
  });

  it('keeps conversations and the bookmarked URL across a restart of the app', async () => {
    const titles = await page.locator('.conversations li').allTextContents();
    const bookmark = info.url;
    await stopApp();
    info = await startApp();
    expect(new URL(info.url).searchParams.get('token'), 'the access token survives a restart').toBe(new URL(bookmark).searchParams.get('token'));
    await page.goto(info.url);
    await page.waitForSelector('[data-testid=attestation-verdict]');
    await expect.poll(() => page.locator('.conversations li').allTextContents(), { timeout: 15_000 }).toEqual(titles);
    await page.getByRole('button', { name: 'Tell me about confidential computing' }).click();
    expect(await page.locator('[data-testid=msg-user]').count()).toBeGreaterThanOrEqual(1);
  });
});

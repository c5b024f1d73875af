import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_CLI, startAppProcess, stopAppProcess } from './testing/app-process.ts';
import { launchChromium } from './testing/chromium.ts';

/**
 * Where each answer's charge stands, in Chromium against a real `cocoon app --web` process: the
 * cost viewer marks every answer pending → signed → settled on chain as the client's counters
 * move (the app's local network settles charges within seconds), the figures are the ones
 * `cocoon status --json` reports for the same data dir, and the wallet panel's balance falls as
 * the charges reach the client contract.
 */
const ARTIFACTS = fileURLToPath(new URL('../test-artifacts/', import.meta.url));
let child: ChildProcess;
let dataDir: string;
let browser: Browser;
let page: Page;

const tonOf = async (testid: string) => Number(/^([\d.]+) TON/.exec((await page.textContent(`[data-testid=${testid}]`)) ?? '')?.[1] ?? NaN);

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  dataDir = mkdtempSync(join(tmpdir(), 'cocoon-charges-e2e-'));
  const started = await startAppProcess<{ url: string }>(dataDir, ['--token-delay-ms', '20']);
  child = started.child;
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1400, height: 1200 } });
  await page.goto(started.info.url);
  await page.waitForSelector('[data-testid=attestation-verdict]', { timeout: 30_000 });
  const accountState = (want: string) => page.waitForFunction((w) => document.querySelector('[data-testid=account-state]')?.textContent === w, want, { timeout: 30_000 });
  await accountState('not opened yet');
  for (const [button, amount] of [['account-open', '15'], ['account-topup', '1']] as const) {
    await page.fill('[data-testid=account-amount]', amount);
    await page.click(`[data-testid=${button}]`);
    await page.waitForSelector('[data-testid=account-quote]', { timeout: 20_000 });
    await page.click('[data-testid=quote-confirm]');
    await page.waitForSelector('[data-testid=account-confirmed]', { timeout: 30_000 });
    await accountState('open');
  }
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await stopAppProcess(child);
  rmSync(dataDir, { recursive: true, force: true });
});

describe('charges in the cost viewer', () => {
  it('marks each answer pending → signed → settled on chain, matching `cocoon status`, and the balance falls', async () => {
    await expect.poll(() => tonOf('account-balance'), { timeout: 20_000 }).toBe(1);
    const before = await tonOf('account-balance');
    // Record every state each answer's row shows, from the moment it appears.
    await page.evaluate(() => {
      const seen: Record<string, string[]> = {};
      (window as unknown as { __states: Record<string, string[]> }).__states = seen;
      const look = () => {
        for (const row of Array.from(document.querySelectorAll('[data-testid=cost-row]'))) {
          const at = row.getAttribute('data-at')!;
          const s = row.getAttribute('data-state')!;
          const list = (seen[at] ??= []);
          if (list.at(-1) !== s) list.push(s);
        }
      };
      new MutationObserver(look).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-state'] });
    });
    for (const text of ['What is a TEE?', 'And what does attestation prove?']) {
      await page.fill('[data-testid=composer]', text);
      await page.click('[data-testid=send]');
      await page.waitForSelector('[data-testid=stop]', { timeout: 10_000 }).catch(() => undefined);
      await page.waitForSelector('[data-testid=send]', { timeout: 30_000 });
    }
    const rows = page.locator('[data-testid=cost-row]');
    expect(await rows.count()).toBe(2);
    await expect.poll(() => rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-state'))), { timeout: 30_000 }).toEqual(['settled', 'settled']);
    const seen = await page.evaluate(() => (window as unknown as { __states: Record<string, string[]> }).__states);
    const order = ['pending', 'signed', 'settled'];
    expect(Object.keys(seen)).toHaveLength(2);
    for (const [at, states] of Object.entries(seen)) {
      expect(['pending', 'signed'], `first state of the answer at ${at} (all seen: ${states.join(' → ')})`).toContain(states[0]);
      expect(states.at(-1)).toBe('settled');
      expect(states.map((s) => order.indexOf(s)), `states only move forward (${states.join(' → ')})`).toEqual([...states.map((s) => order.indexOf(s))].sort((a, b) => a - b));
    }
    await page.locator('[data-testid=cost-viewer]').screenshot({ path: join(ARTIFACTS, 'cost-viewer-charges.png') });

    // The page's figures are the client's, as `cocoon status --json` reads them from the same stores.
    const status = spawnSync(process.execPath, [APP_CLI, 'status', '--json', '--data-dir', join(dataDir, 'app')], { encoding: 'utf8', env: { ...process.env, COCOON_HOME: dataDir } });
    expect(status.status, status.stderr).toBe(0);
    const charged = (JSON.parse(status.stdout) as { client: { charged: { ledger: string; signed: string; onChain: string | null } } }).client.charged;
    await expect.poll(() => page.textContent('[data-testid=charges-onchain]'), { timeout: 10_000 }).toBe(charged.signed);
    expect(await page.textContent('[data-testid=charges-signed]')).toBe(charged.signed);
    expect(await page.textContent('[data-testid=charges-ledger]')).toBe(charged.ledger);
    // The answers' own costs add up to what the proxy signed and the chain took (the counter rounds once, over the total).
    const sum = Number(await page.textContent('[data-testid=session-nanoton]'));
    const price = Number(/^(\d+) nTON\/t$/.exec((await page.locator('.costs tr.total td').nth(2).textContent())!)![1]);
    expect(Number(charged.signed) - sum).toBeGreaterThanOrEqual(0);
    expect(Number(charged.signed) - sum).toBeLessThan(2 * price);

    // The wallet panel: the free balance fell by what settled, and "charged so far" is the on-chain figure.
    await expect.poll(() => tonOf('account-balance'), { timeout: 20_000 }).toBeLessThan(before);
    expect(Math.round(await tonOf('account-charged') * 1e9)).toBe(Number(charged.signed));
    expect(Math.round((before - await tonOf('account-balance')) * 1e9)).toBe(Number(charged.signed));
    // Everything signed is on chain now, so nothing is pending.
    await expect.poll(() => page.textContent('[data-testid=account-pending]'), { timeout: 10_000 }).toMatch(/^0 TON signed, 0 TON counted/);
  });
});

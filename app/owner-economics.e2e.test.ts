import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Address, toNano } from '@ton/core';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Chain } from '../node-core/src/chain/chain.ts';
import { readWorkerData } from '../node-core/src/chain/contract-state.ts';
import { createHeadlessWallet, type HeadlessWallet, type TransactionRequest } from '../node-core/src/wallet/headless-wallet.ts';
import { startAppProcess, stopAppProcess } from './testing/app-process.ts';
import { launchChromium } from './testing/chromium.ts';
import { openClientContractInPage } from './testing/client-account.e2e.ts';

/**
 * Owner economics end to end in Chromium against a real `cocoon app --web` process: the developer
 * opens their client contract and chats; every answer goes through the app's local network,
 * whose proxy records it in its ledger and signs the worker's payout; the owner tab reads that
 * ledger (nothing filled by the test), shows tokens served and TON signed/pending, and the owner
 * claims through TON Connect (the headless development wallet with the "worker" mnemonic, the
 * test double at the phone-wallet boundary). The proxy puts charges on chain on its own, which
 * funds the worker reserve the claim draws on. Then the proxy operator stakes the same way.
 */
const ARTIFACTS = fileURLToPath(new URL('../test-artifacts/', import.meta.url));
interface AppInfo { url: string; openai: string; chain: string; tonconnectBridge: string }
let child: ChildProcess;
let info: AppInfo;
let dataDir: string;
let browser: Browser;
let page: Page;
let mnemonics: Record<string, string[]>;
const approved: TransactionRequest[] = [];
let connected: HeadlessWallet | null = null;

const ton = async (testid: string) => Number(/^([\d.]+) TON/.exec((await page.textContent(`[data-testid=${testid}]`)) ?? '')?.[1] ?? NaN);

async function chat(text: string): Promise<void> {
  await page.click('[data-testid=tab-developer]');
  await page.fill('[data-testid=composer]', text);
  await page.click('[data-testid=send]');
  await page.waitForSelector('[data-testid=stop]', { timeout: 10_000 }).catch(() => undefined);
  await page.waitForSelector('[data-testid=send]', { timeout: 30_000 });
}

/** Connects the named development wallet through the page's TON Connect panel (developer tab), then opens the owner tab. */
async function connectWallet(name: string): Promise<HeadlessWallet> {
  await page.click('[data-testid=tab-developer]');
  if (connected) {
    await page.click('[data-testid=tc-disconnect]');
    await expect.poll(() => page.getAttribute('[data-testid=tonconnect]', 'data-state'), { timeout: 20_000 }).toBe('disconnected');
    await connected.close();
  }
  const w = await createHeadlessWallet({
    mnemonic: mnemonics[name]!, endpoint: info.chain, bridgeUrl: info.tonconnectBridge,
    approve: (r) => { approved.push(r); return true; },
  });
  connected = w;
  await page.click('[data-testid=tc-wallet-cocoon-dev-wallet]');
  await w.connect((await page.getAttribute('[data-testid=tc-link]', 'href', { timeout: 20_000 }))!);
  await expect.poll(() => page.getAttribute('[data-testid=tonconnect]', 'data-state'), { timeout: 20_000 }).toBe('connected');
  await page.click('[data-testid=tab-owner]');
  await page.locator('[data-testid=step-earnings]').scrollIntoViewIfNeeded();
  return w;
}

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  dataDir = mkdtempSync(join(tmpdir(), 'cocoon-economics-e2e-'));
  const started = await startAppProcess<AppInfo>(dataDir);
  child = started.child;
  info = started.info;
  const wallets = JSON.parse(readFileSync(join(dataDir, 'app', 'chain', 'wallets.json'), 'utf8')) as Array<{ name: string; mnemonic: string[] }>;
  mnemonics = Object.fromEntries(wallets.map((w) => [w.name, w.mnemonic]));
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1400, height: 1400 } });
  await page.goto(info.url);
  await page.waitForSelector('[data-testid=attestation-verdict]', { timeout: 30_000 });
  // Every answer is paid for: the developer opens the client contract first (development wallet).
  await openClientContractInPage(page, '15');
}, 240_000);

afterAll(async () => {
  await connected?.close();
  await browser?.close();
  await stopAppProcess(child);
  rmSync(dataDir, { recursive: true, force: true });
});

/** Σ of the price-adjusted token counts the client's answer log reports for the completed answers. */
async function billedTokens(): Promise<number> {
  const log = await (await fetch(`${info.openai}/cocoon/answers?limit=100`)).json() as { data: Array<{ outcome: string; cost: { adjusted: Record<string, number> } | null }> };
  return log.data.filter((a) => a.outcome === 'completed').reduce((n, a) => n + Object.values(a.cost!.adjusted).reduce((x, y) => x + y, 0), 0);
}

describe('owner economics from the running proxy ledger', () => {
  it('after chat requests the owner sees tokens served and TON signed, claims it through the wallet, and sees earnings rise with the next answer', async () => {
    await chat('Tell me about the sea');
    await chat('And about mountains');
    const answered = Number(await page.textContent('[data-testid=session-tokens]'));
    expect(answered).toBeGreaterThan(0);

    const w = await connectWallet('worker');
    // Tokens billed is the ledger's count of what the worker served, in the reference's price-adjusted
    // tokens: the sum of the adjusted counts the client's answer log reports for these answers.
    const billed = await billedTokens();
    expect(billed).toBeGreaterThan(0);
    await expect.poll(() => page.textContent('[data-testid=earnings-tokens]'), { timeout: 30_000 }).toBe(String(billed));
    const signed = await ton('earnings-signed');
    expect(signed).toBeGreaterThan(0);
    expect(await ton('earnings-pending')).toBe(signed);
    expect(await ton('earnings-paid')).toBe(0);
    expect(await page.locator('[data-testid=earnings-chart]').count()).toBe(1);
    // The claim waits until the proxy's settled charges funded the worker reserve (seconds here).
    await expect.poll(() => page.isEnabled('[data-testid=earnings-claim]'), { timeout: 60_000 }).toBe(true);
    expect(await page.textContent('[data-testid=earnings-claim-cost]')).toMatch(new RegExp(`attaches 0\\.15 TON .*receives ${String(signed).replace('.', '\\.')} TON`));
    const counter = (await page.locator('[data-testid=earnings-payouts] tbody tr td').nth(1).textContent())!;

    approved.length = 0;
    await page.click('[data-testid=earnings-claim]');
    await expect.poll(() => page.textContent('[data-testid=earnings-claimed]'), { timeout: 60_000 })
      .toMatch(new RegExp(`Claimed ${counter} tokens, transaction [0-9a-f]{16}… \\(signed by cocoon-dev-wallet \\(TON Connect\\)\\)`));
    expect(approved).toHaveLength(1);
    expect(approved[0]!.messages.map((m) => m.amount)).toEqual([toNano('0.15').toString()]);
    expect(w.sent).toHaveLength(1);
    expect(await ton('earnings-paid')).toBe(signed);
    expect(await ton('earnings-pending')).toBe(0);
    expect(await page.isDisabled('[data-testid=earnings-claim]')).toBe(true);
    // The chain holds exactly the counter the proxy signed.
    const workerContract = Address.parse((await page.textContent('[data-testid=earnings-contract]'))!.split(' ')[0]!);
    const chain = new Chain({ network: 'local', endpoint: info.chain });
    expect((await readWorkerData(chain, workerContract))!.tokens.toString()).toBe(counter);
    await page.locator('[data-testid=step-earnings]').screenshot({ path: join(ARTIFACTS, 'owner-earnings.png') });

    // One more answer: tokens served and pending rise without a reload.
    await chat('One more, please');
    const after = await billedTokens();
    expect(after).toBeGreaterThan(billed);
    await page.click('[data-testid=tab-owner]');
    await expect.poll(() => page.textContent('[data-testid=earnings-tokens]'), { timeout: 30_000 }).toBe(String(after));
    expect(await ton('earnings-pending')).toBeGreaterThan(0);
    expect(await ton('earnings-signed')).toBeGreaterThan(signed);
  });

  it('lets the proxy operator add stake through their wallet and shows it from the chain', async () => {
    await connectWallet('proxy');
    await expect.poll(() => page.textContent('[data-testid=proxy-state]'), { timeout: 20_000 }).toBe('running');
    const before = await ton('proxy-stake');
    await page.fill('[data-testid=proxy-amount]', '2');
    await page.click('[data-testid=proxy-stake-btn]');
    await expect.poll(() => page.textContent('[data-testid=proxy-sent]'), { timeout: 30_000 }).toMatch(/^stake: transaction [0-9a-f]{16}… \(signed by cocoon-dev-wallet \(TON Connect\)\)/);
    expect(await ton('proxy-stake')).toBe(before + 2);
  });
});

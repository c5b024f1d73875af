import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Address, toNano } from '@ton/core';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Chain } from '../node-core/src/chain/chain.ts';
import { signCharge, signPayout, submitCharge, workerContractFor } from '../node-core/src/chain/settlement.ts';
import { ClientAccount } from '../node-core/src/payments/client-account.ts';
import { MemoryEarningsLedger } from './main/services/earnings-ledger.ts';
import { startWebMode, type WebMode } from './main/web/web-mode.ts';
import { launchChromium } from './testing/chromium.ts';
import { createHeadlessWallet, type HeadlessWallet, type TransactionRequest } from '../node-core/src/wallet/headless-wallet.ts';

/**
 * Owner economics in the browser against web mode on the embedded chain. The proxy's settlement
 * store is not wired to the app yet, so this test fills the app's EarningsLedger with what the proxy
 * would record — a payout signed with the local proxy contract's real key after a client was
 * charged on chain — and the owner claims it from the page with their wallet connected through TON
 * Connect (the headless development wallet with the "worker" mnemonic, approving here); the proxy
 * operator then stakes from the page with the "proxy" wallet connected the same way.
 */
const ARTIFACTS = fileURLToPath(new URL('../test-artifacts/', import.meta.url));
let dataDir: string;
let mode: WebMode;
let browser: Browser;
let page: Page;
const ledger = new MemoryEarningsLedger();
let mnemonics: Record<string, string[]>;
const approved: TransactionRequest[] = [];
let connected: HeadlessWallet | null = null;

/** Connects the named development wallet through the page's TON Connect panel (developer tab), then returns to the owner tab. */
async function connectWallet(name: string): Promise<HeadlessWallet> {
  await page.click('text=Developer');
  if (connected) {
    await page.click('[data-testid=tc-disconnect]');
    await expect.poll(() => page.getAttribute('[data-testid=tonconnect]', 'data-state'), { timeout: 20_000 }).toBe('disconnected');
    await connected.close();
  }
  const w = await createHeadlessWallet({
    mnemonic: mnemonics[name]!, endpoint: mode.network.chain!.endpoint, bridgeUrl: mode.walletSession.localBridgeUrl!,
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
  process.env.COCOON_HOME = dataDir;
  process.env.COCOON_LOG_LEVEL = 'warn';
  mode = await startWebMode({ dataDir, earningsLedger: ledger });
  const chainDir = join(dataDir, 'app', 'chain');
  const localChain = mode.network.chain!;
  const chain = new Chain({ network: 'local', endpoint: localChain.endpoint, rootAddress: localChain.rootAddress });
  const wallets = JSON.parse(readFileSync(join(chainDir, 'wallets.json'), 'utf8')) as Array<{ name: string; mnemonic: string[] }>;
  mnemonics = Object.fromEntries(wallets.map((w) => [w.name, w.mnemonic]));
  const proxyWallet = await chain.wallet(wallets.find((w) => w.name === 'proxy')!.mnemonic);
  const workerWallet = await chain.wallet(wallets.find((w) => w.name === 'worker')!.mnemonic);
  const saved = JSON.parse(readFileSync(join(chainDir, 'proxy-contract.json'), 'utf8')) as { address: string; publicKey: string; secretKey: string };
  const proxyKey = { publicKey: Buffer.from(saved.publicKey, 'hex'), secretKey: Buffer.from(saved.secretKey, 'hex') };
  // A client pays for 50,000 tokens on chain; the worker's share lands in the proxy's reserve.
  const account = await ClientAccount.openLocal({ ...localChain, chainDataDir: chainDir });
  await account.stake(toNano('15'));
  await account.topUp(toNano('5'));
  await submitCharge(chain, proxyWallet, signCharge(Address.parse((await account.state()).contract), 50_000n, proxyKey, proxyWallet.address));
  const worker = await workerContractFor(chain, Address.parse(saved.address), workerWallet.address);
  ledger.usageRecords.push({ worker: worker.address, at: new Date(Date.now() - 5 * 60_000), tokens: 50_000n });
  ledger.payoutRecords.push({ worker: worker.address, tokens: 50_000n, signedAt: new Date(), body: signPayout(worker.address, 50_000n, proxyKey) });
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1400, height: 1400 } });
  await page.goto(mode.url);
  await page.waitForSelector('[data-testid=tonconnect]', { timeout: 30_000 });
}, 240_000);

afterAll(async () => {
  await connected?.close();
  await browser?.close();
  await mode?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('owner economics in the page', () => {
  it('shows the worker\'s signed, paid and pending TON and claims the latest signed payout through the owner\'s wallet', async () => {
    const w = await connectWallet('worker');
    await expect.poll(() => page.textContent('[data-testid=earnings-pending]'), { timeout: 30_000 }).toBe('0.00095 TON'); // 50,000 × 19 nanoTON
    expect(await page.textContent('[data-testid=earnings-tokens]')).toBe('50000');
    expect(await page.textContent('[data-testid=earnings-paid]')).toBe('0 TON');
    expect(await page.locator('[data-testid=earnings-chart]').count()).toBe(1);
    // The local network's settlement deploys each worker's contract when it starts, so the claim
    // attaches only the payout's gas (0.15 TON; the unspent part comes back).
    expect(await page.textContent('[data-testid=earnings-claim-cost]')).toMatch(/attaches 0\.15 TON \(estimated fee up to 0\.16 TON.*receives 0\.00095 TON/);
    await page.click('[data-testid=earnings-range-hour]');
    approved.length = 0;
    await page.click('[data-testid=earnings-claim]');
    await expect.poll(() => page.textContent('[data-testid=earnings-claimed]'), { timeout: 30_000 }).toMatch(/Claimed 50000 tokens, transaction [0-9a-f]{16}… \(signed by cocoon-dev-wallet \(TON Connect\)\)/);
    expect(approved).toHaveLength(1);
    expect(approved[0]!.messages.map((m) => m.amount)).toEqual([toNano('0.15').toString()]); // the payout only: the contract exists
    expect(w.sent).toHaveLength(1);
    expect(await page.textContent('[data-testid=earnings-paid]')).toBe('0.00095 TON');
    expect(await page.textContent('[data-testid=earnings-pending]')).toBe('0 TON');
    expect(await page.isDisabled('[data-testid=earnings-claim]')).toBe(true);
    await page.locator('[data-testid=step-earnings]').screenshot({ path: join(ARTIFACTS, 'owner-earnings.png') });
  });

  it('lets the proxy operator add stake through their wallet and shows it from the chain', async () => {
    await connectWallet('proxy');
    await expect.poll(() => page.textContent('[data-testid=proxy-state]'), { timeout: 20_000 }).toBe('running');
    const before = Number(/^([\d.]+) TON/.exec((await page.textContent('[data-testid=proxy-stake]'))!)![1]);
    await page.fill('[data-testid=proxy-amount]', '2');
    await page.click('[data-testid=proxy-stake-btn]');
    await expect.poll(() => page.textContent('[data-testid=proxy-sent]'), { timeout: 30_000 }).toMatch(/^stake: transaction [0-9a-f]{16}… \(signed by cocoon-dev-wallet \(TON Connect\)\)/);
    expect(Number(/^([\d.]+) TON/.exec((await page.textContent('[data-testid=proxy-stake]'))!)![1])).toBe(before + 2);
  });
});

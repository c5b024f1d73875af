import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Address, toNano } from '@ton/core';
import { TonClient } from '@ton/ton';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHeadlessWallet, type HeadlessWallet, type TransactionRequest } from '../node-core/src/wallet/headless-wallet.ts';
import { startAppProcess, stopAppProcess } from './testing/app-process.ts';
import { Op } from '../contracts/wrappers/protocol.ts';
import { launchChromium } from './testing/chromium.ts';

/**
 * TON Connect end to end: a real `cocoon app --web` (SDK in its main process, local bridge,
 * ton_proof check) driven in Debian's Chromium, and the headless development wallet (TEST DOUBLE
 * at the wallet boundary) created here in the test process. The wallet connects by the universal
 * link the page shows, and approves or declines each transaction like a person would; the
 * balances are read back from the embedded chain.
 */
const ARTIFACTS = fileURLToPath(new URL('../test-artifacts/', import.meta.url));

interface AppInfo { url: string; chain: string; tonconnectBridge: string }
let child: ChildProcess;
let info: AppInfo;
let dataDir: string;
let browser: Browser;
let page: Page;
let wallet: HeadlessWallet;
let decide: (r: TransactionRequest) => boolean = () => true;
const requests: TransactionRequest[] = [];

async function startApp(): Promise<AppInfo> {
  const started = await startAppProcess<AppInfo>(dataDir);
  child = started.child;
  return started.info;
}

const stopApp = () => stopAppProcess(child);

/** The embedded chain's "client" development mnemonic, from the app's data dir. */
function clientMnemonic(): string[] {
  const wallets = JSON.parse(readFileSync(join(dataDir, 'app', 'chain', 'wallets.json'), 'utf8')) as Array<{ name: string; mnemonic: string[] }>;
  return wallets.find((w) => w.name === 'client')!.mnemonic;
}

function headless(network?: string): Promise<HeadlessWallet> {
  return createHeadlessWallet({
    mnemonic: clientMnemonic(), endpoint: info.chain, bridgeUrl: info.tonconnectBridge, ...(network && { network }),
    approve: (r) => { requests.push(r); return decide(r); },
  });
}

/** Picks the development wallet in the page's list and hands the universal link it shows to `w`. */
async function connectBy(w: HeadlessWallet): Promise<void> {
  await page.click('[data-testid=tc-wallet-cocoon-dev-wallet]');
  const link = await page.getAttribute('[data-testid=tc-link]', 'href', { timeout: 20_000 });
  expect(link).toMatch(/^tc:\/\/\?v=2&id=[0-9a-f]{64}&/);
  expect(await page.locator('[data-testid=tc-qr]').count()).toBe(1);
  await w.connect(link!);
}

async function quoteAndConfirm(button: string, amount: string): Promise<void> {
  await page.fill('[data-testid=account-amount]', amount);
  await page.click(`[data-testid=${button}]`);
  await page.waitForSelector('[data-testid=account-quote]', { timeout: 20_000 });
  expect(await page.textContent('[data-testid=quote-signer]')).toMatch(/TON Connect/);
  await page.click('[data-testid=quote-confirm]');
}

const chainBalance = (a: Address) => new TonClient({ endpoint: info.chain }).getBalance(a);

/** Whether the wallet has sent the client contract's register operation (`owner_client_register`). */
async function sentRegister(a: Address): Promise<boolean> {
  const txs = await new TonClient({ endpoint: info.chain }).getTransactions(a, { limit: 20 });
  return txs.some((t) => t.outMessages.values().some((m) => {
    const body = m.body.beginParse();
    return body.remainingBits >= 32 && body.loadUint(32) === Op.ownerClientRegister;
  }));
}

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  dataDir = mkdtempSync(join(tmpdir(), 'cocoon-wallet-e2e-'));
  info = await startApp();
  wallet = await headless();
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  await page.goto(info.url);
  await page.waitForSelector('[data-testid=tonconnect]', { timeout: 30_000 });
}, 180_000);

afterAll(async () => {
  await wallet?.close();
  await browser?.close();
  await stopApp();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('TON Connect in the app, with the headless development wallet', () => {
  it('connects by the universal link the page shows, and trusts the address after ton_proof', async () => {
    expect(await page.getAttribute('[data-testid=tonconnect]', 'data-state')).toBe('disconnected');
    await connectBy(wallet);
    await expect.poll(() => page.getAttribute('[data-testid=tonconnect]', 'data-state'), { timeout: 20_000 }).toBe('connected');
    const shown = await page.textContent('[data-testid=tc-address]');
    expect(Address.parse(shown!).equals(wallet.address)).toBe(true);
    expect(await page.textContent('[data-testid=network-badge]')).toMatch(/local chain/);
    await expect.poll(() => page.textContent('[data-testid=wallet-balance]'), { timeout: 15_000 }).toMatch(/^\d+(\.\d+)? TON$/);
    expect(await page.locator('[data-testid=tc-error]').count()).toBe(0);
  });

  it('opens the client contract with its stake through a transaction the wallet approves, with amount and fee shown before', async () => {
    await expect.poll(() => page.textContent('[data-testid=account-state]'), { timeout: 20_000 }).toBe('not opened yet');
    const before = await chainBalance(wallet.address);
    await page.fill('[data-testid=account-amount]', '15');
    await page.click('[data-testid=account-open]');
    await page.waitForSelector('[data-testid=account-quote]', { timeout: 20_000 });
    // Deploy (0.8) + stake (15) + the top-up's processing value (0.1); fee = what is not the stake + the wallet's own fee.
    expect(await page.textContent('[data-testid=quote-attached]')).toBe('15.9 TON');
    expect(await page.textContent('[data-testid=quote-fee]')).toMatch(/^up to 0\.91 TON/);
    requests.length = 0;
    await page.click('[data-testid=quote-confirm]');
    await expect.poll(() => page.textContent('[data-testid=account-state]'), { timeout: 30_000 }).toBe('open');
    expect(requests).toHaveLength(1);
    expect(requests[0]!.messages.reduce((a, m) => a + BigInt(m.amount), 0n)).toBe(toNano('15.9'));
    expect(await page.textContent('[data-testid=account-stake]')).toMatch(/^15 TON/);
    expect(await page.textContent('[data-testid=account-confirmed]')).toMatch(/Confirmed: Stake 15 TON, transaction [0-9a-f]{16}/);
    const spent = before - (await chainBalance(wallet.address));
    expect(spent).toBeGreaterThan(toNano('15.8')); // the stake and the deploy's storage buffer left the wallet
    expect(spent).toBeLessThan(toNano('16'));
    // Once its contract is open, the client proves its proxy connection with a register transaction
    // from the owner's wallet (the long authorization); wait for it so later balances are its own.
    await expect.poll(() => sentRegister(wallet.address), { timeout: 60_000 }).toBe(true);
  });

  it('a declined transaction says so and changes nothing, on chain or on screen', async () => {
    decide = () => false;
    const walletBefore = await chainBalance(wallet.address);
    const balanceShown = await page.textContent('[data-testid=account-balance]');
    await quoteAndConfirm('account-topup', '2');
    await expect.poll(() => page.textContent('[data-testid=account-error]'), { timeout: 30_000 }).toMatch(/You declined the transaction in your wallet: nothing was sent and nothing changed/);
    expect(await chainBalance(wallet.address)).toBe(walletBefore);
    expect(await page.textContent('[data-testid=account-balance]')).toBe(balanceShown);
    decide = () => true;
  });

  it('tops up, withdraws and raises the stake through the wallet; the contract moves on chain', async () => {
    await quoteAndConfirm('account-topup', '3');
    await expect.poll(() => page.textContent('[data-testid=account-balance]'), { timeout: 30_000 }).toBe('3 TON');
    await quoteAndConfirm('account-withdraw', '1');
    await expect.poll(() => page.textContent('[data-testid=account-balance]'), { timeout: 30_000 }).toBe('2 TON');
    expect(await page.locator('[data-testid=account-history] tbody tr').count()).toBe(3); // open, top-up, withdraw
    // The chain's own record, newest first: withdraw, top-up, the client's register transaction, the opening top-up, deploy (the declined top-up never reached it).
    await expect.poll(() => page.locator('[data-testid=account-chain-history] tbody tr td:nth-child(2)').allTextContents(), { timeout: 15_000 })
      .toEqual(['withdraw', 'top-up', 'connection registered', 'top-up', 'opened']);
    // Raising the stake uses the free balance first: the wallet attaches only the processing value.
    await page.fill('[data-testid=account-amount]', '1');
    await page.click('[data-testid=account-add-stake]');
    await page.waitForSelector('[data-testid=account-quote]', { timeout: 20_000 });
    expect(await page.textContent('[data-testid=quote-attached]')).toBe('0.1 TON');
    await page.click('[data-testid=quote-confirm]');
    await expect.poll(() => page.textContent('[data-testid=account-stake]'), { timeout: 30_000 }).toMatch(/^16 TON/);
    expect(await page.textContent('[data-testid=account-balance]')).toBe('1 TON');
    await page.locator('[data-testid=wallet-panel]').screenshot({ path: join(ARTIFACTS, 'wallet-tonconnect.png') });
  });

  it('restores the connection after a restart of the app', async () => {
    await stopApp();
    info = await startApp();
    await page.goto(info.url);
    await expect.poll(() => page.getAttribute('[data-testid=tonconnect]', 'data-state'), { timeout: 30_000 }).toBe('connected');
    expect(Address.parse((await page.textContent('[data-testid=tc-address]'))!).equals(wallet.address)).toBe(true);
  });

  it('a wallet on another network gets a clear message, and nothing is sent', async () => {
    await page.click('[data-testid=tc-disconnect]');
    await expect.poll(() => page.getAttribute('[data-testid=tonconnect]', 'data-state'), { timeout: 20_000 }).toBe('disconnected');
    await wallet.close();
    // The bridge URL changed with the restart; this wallet says it is on testnet (-3).
    wallet = await headless('-3');
    await connectBy(wallet);
    await expect.poll(() => page.textContent('[data-testid=tc-error]'), { timeout: 20_000 }).toMatch(/Wrong network: the wallet is on testnet, the app on local/);
    requests.length = 0;
    const before = await chainBalance(wallet.address);
    await quoteAndConfirm('account-topup', '1');
    await expect.poll(() => page.textContent('[data-testid=account-error]'), { timeout: 20_000 }).toMatch(/Wrong network: your wallet is on testnet, the app is on local\. Nothing was sent/);
    expect(requests).toHaveLength(0);
    expect(await chainBalance(wallet.address)).toBe(before);
    await page.locator('[data-testid=wallet-panel]').screenshot({ path: join(ARTIFACTS, 'wallet-wrong-network.png') });
  });

  it('Settings: a network is checked field by field and applies on restart', async () => {
    await page.click('[data-testid=tab-settings]');
    expect(await page.textContent('[data-testid=settings-network]')).toBe('local');
    await page.click('[data-testid=network-mainnet]');
    await page.fill('[data-testid=network-endpoint]', 'http://toncenter.com/api/v2/jsonRPC');
    await page.fill('[data-testid=network-root]', 'EQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAM9c');
    await page.click('[data-testid=save-network]');
    await expect.poll(() => page.textContent('[data-testid=network-error]')).toMatch(/network\.endpoint: the endpoint must use https on mainnet/);
    await page.fill('[data-testid=network-endpoint]', 'https://toncenter.com/api/v2/jsonRPC');
    await page.click('[data-testid=save-network]');
    await expect.poll(() => page.textContent('[data-testid=network-restart]')).toMatch(/switches to mainnet when it is restarted/);
    expect(await page.textContent('[data-testid=settings-network]')).toBe('local');
    // Back to local so the saved choice does not outlive the test's meaning.
    await page.click('[data-testid=network-local]');
    await page.click('[data-testid=save-network]');
    await expect.poll(() => page.locator('[data-testid=network-restart]').count()).toBe(0);
  });
});

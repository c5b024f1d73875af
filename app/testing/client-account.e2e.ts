import type { Page } from 'playwright-core';

/**
 * Opens the developer's client contract from the wallet panel with `stakeTon` as its stake, as a
 * new user does (quote, confirm, development wallet), and waits until the panel says it is open.
 */
export async function openClientContractInPage(page: Page, stakeTon: string): Promise<void> {
  const accountState = (want: string) => page.waitForFunction((w) => document.querySelector('[data-testid=account-state]')?.textContent === w, want, { timeout: 30_000 });
  await accountState('not opened yet');
  await page.fill('[data-testid=account-amount]', stakeTon);
  await page.click('[data-testid=account-open]');
  await page.waitForSelector('[data-testid=account-quote]', { timeout: 20_000 });
  await page.click('[data-testid=quote-confirm]');
  await accountState('open');
}

import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { startWebMode } from './main/web/web-mode.ts';
import { launchChromium } from './testing/chromium.ts';

const ARTIFACTS = fileURLToPath(new URL('../test-artifacts/', import.meta.url));

describe('web mode when the proxy fails attestation', () => {
  it('shows the failure in red with the reason and disables chat', async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    const dataDir = mkdtempSync(join(tmpdir(), 'cocoon-app-'));
    // The embedded chain (whose root allowlist refuses this proxy image) announces itself under
    // COCOON_HOME; keep that inside the test's temp dir.
    process.env.COCOON_HOME = dataDir;
    const mode = await startWebMode({ dataDir, network: { proxyMeasurements: { mrTd: '66'.repeat(48) } } });
    const browser = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      await page.goto(mode.url);
      await expect.poll(() => page.textContent('[data-testid=attestation-verdict]'), { timeout: 20_000 }).toMatch(/Attestation failed: .*not in the allowed list/);
      expect(await page.locator('[data-testid=attestation-panel][data-verdict=failed]').count()).toBe(1);
      await expect.poll(() => page.textContent('[data-testid=chat-disabled]')).toMatch(/proxy|Attestation failed/i);
      // The composer keeps accepting text (nothing typed is lost); sending is what is disabled.
      await page.fill('[data-testid=composer]', 'kept');
      expect(await page.isDisabled('[data-testid=send]')).toBe(true);
      await page.screenshot({ path: join(ARTIFACTS, 'developer-attestation-failed.png') });
    } finally {
      await browser.close();
      await mode.stop();
    }
  });
});

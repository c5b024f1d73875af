import { spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAppProcess, stopAppProcess } from './testing/app-process.ts';
import { launchChromium } from './testing/chromium.ts';

/**
 * Owner mode in Debian's Chromium against a real `cocoon app --web --terminal` process whose
 * owner mode reads a recorded host (a copy of testdata/hosts/tdx-h100-nvidia-driver through
 * COCOON_HOST_ROOT): the checks with their fixes, the GPU plan, the worker config check, and the
 * embedded terminal running a real shell. Screenshots go to test-artifacts/.
 */
const ARTIFACTS = fileURLToPath(new URL('../test-artifacts/', import.meta.url));
const BDF = '0000:41:00.0';
const BUILD_GUEST = fileURLToPath(new URL('../td-image/dev-guest/build.sh', import.meta.url));

/** The launch test boots the development guest: QEMU, busybox-static and apt must be there. */
const guestMissing = [
  spawnSync('qemu-system-x86_64', ['--version']).status !== 0 && 'qemu-system-x86',
  !existsSync('/bin/busybox') && 'busybox-static',
].filter(Boolean);
if (guestMissing.length) console.warn(`SKIPPED owner-mode launch test: missing ${guestMissing.join(', ')} — run scripts/install-system-deps.sh`);

let child: ChildProcess;
let browser: Browser;
let page: Page;
let tmp: string;
let hostRoot: string;

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  tmp = mkdtempSync(join(tmpdir(), 'cocoon-owner-'));
  hostRoot = join(tmp, 'host');
  cpSync(fileURLToPath(new URL('../testdata/hosts/tdx-h100-nvidia-driver', import.meta.url)), hostRoot, { recursive: true, verbatimSymlinks: true });
  const started = await startAppProcess<{ url: string }>(join(tmp, 'data'), ['--terminal'], { COCOON_HOST_ROOT: hostRoot, SHELL: '/bin/bash' });
  child = started.child;
  const { info } = started;
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  await page.goto(info.url);
  await page.click('[data-testid=tab-owner]');
  await page.waitForSelector('[data-testid=host-checks] .check');
});

afterAll(async () => {
  await browser?.close();
  if (child && child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
  rmSync(tmp, { recursive: true, force: true });
});

describe('owner mode in Chromium (replayed host)', () => {
  it('shows the replayed host\'s checks: gpu-cc and gpu-vfio fail with their fix, the rest pass', async () => {
    const statuses = await page.$$eval('[data-testid=host-checks] .check', (els) => els.map((e) => `${e.getAttribute('data-testid')}:${e.getAttribute('data-status')}`));
    expect(statuses).toEqual([
      'check-kernel:pass', 'check-cpu-tdx:pass', 'check-kvm-tdx:pass', 'check-qemu:pass', 'check-tdx-firmware:pass', 'check-iommu:pass',
      `check-gpu-${BDF}:pass`, `check-gpu-cc-${BDF}:fail`, `check-gpu-vfio-${BDF}:fail`, 'check-memory:pass', 'check-disk:pass',
    ]);
    expect(await page.textContent(`[data-testid="check-gpu-cc-${BDF}"] [data-testid=fix-commands]`)).toBe(`sudo cocoon gpu prepare --gpu ${BDF}`);
    expect(await page.textContent(`[data-testid="check-gpu-vfio-${BDF}"]`)).toContain('bound to nvidia, not vfio-pci');
    expect(await page.getAttribute('[data-testid=step-host]', 'data-state')).toBe('action');
    // Step 2 plans the preparation and offers the command (against the same replayed host).
    await page.waitForSelector('[data-testid=gpu-prepare]');
    expect(await page.textContent('[data-testid=gpu-step]')).toContain('unbind 0000:41:00.0 from nvidia');
    // The launcher is there (the development guest on this local network); nothing runs until Launch.
    expect(await page.textContent('[data-testid=td-phase]')).toBe('stopped');
    await page.screenshot({ path: join(ARTIFACTS, 'owner-host-checks.png'), fullPage: true });
  });

  it('"why can\'t my host join?" reports the replayed host\'s GPU failures, the local chain, the image and the local proxy accepting a worker', async () => {
    await page.click('[data-testid=why-run]');
    await page.waitForSelector('[data-testid=why-verdict]', { timeout: 60_000 });
    expect(await page.getAttribute('[data-testid=why-verdict]', 'data-ready')).toBe('false');
    expect(await page.getAttribute(`[data-testid="why-host-gpu-cc-${BDF}"]`, 'data-status')).toBe('fail');
    for (const id of ['chain-reachable', 'chain-network', 'chain-root', 'image-allowed']) {
      expect(await page.getAttribute(`[data-testid=why-${id}]`, 'data-status'), id).toBe('pass');
    }
    expect(await page.$$eval('[data-testid^="why-proxy-accepts-"]', (els) => els.map((e) => e.getAttribute('data-status')))).toEqual(['pass']);
    await page.screenshot({ path: join(ARTIFACTS, 'owner-why.png'), fullPage: true });
  });

  it('checks the owner address as a TON address', async () => {
    await page.fill('[data-testid=owner-address]', 'not-an-address');
    await page.click('[data-testid=worker-config] button[type=submit]');
    await expect.poll(() => page.textContent('[data-testid=owner-address-error]')).toContain('not a TON address');
    await page.fill('[data-testid=owner-address]', '0:' + 'ab'.repeat(32));
    await page.selectOption('[data-testid=worker-config] select', '');
    await page.click('[data-testid=worker-config] button[type=submit]');
    await expect.poll(() => page.textContent('[data-testid=config-ok]')).toContain('UQCr');
  });

  it.skipIf(guestMissing.length > 0)('the launch step boots the development guest under emulation: live console, phases up to booted, then Stop', async () => {
    // Built once (kernel package through apt); afterwards cached, a few seconds for the worker bundle.
    const built = spawnSync('bash', [BUILD_GUEST], { encoding: 'utf8', timeout: 240_000 });
    expect(built.status, built.stderr).toBe(0);
    const t0 = Date.now();
    // Step 3 passed with no GPU (previous test): the guest runs in emulation.
    await page.click('[data-testid=launch-step] button:has-text("Launch")');
    await expect.poll(() => page.textContent('[data-testid=td-phase]'), { timeout: 15_000 }).toMatch(/starting|booted/);
    expect(await page.textContent('[data-testid=launch-step]')).toContain('emulation (no TDX)');
    // The serial console streams: the firmware/kernel lines, then the guest init's marker.
    await expect.poll(() => page.textContent('[data-testid=td-console]'), { timeout: 90_000 }).toContain('cocoon-guest: booted');
    await expect.poll(() => page.textContent('[data-testid=td-phase]'), { timeout: 5_000 }).toMatch(/booted|worker-connected|serving/);
    expect(await page.textContent('[data-testid=td-console]')).toMatch(/cocoon-guest: booted kernel \d/);
    await page.screenshot({ path: join(ARTIFACTS, 'owner-launch.png'), fullPage: true });
    await page.click('[data-testid=launch-step] button.stop');
    await expect.poll(() => page.textContent('[data-testid=td-phase]'), { timeout: 40_000 }).toBe('stopped');
    console.log(`owner-mode launch: booted and stopped in ${Date.now() - t0} ms`);
  }, 200_000);

  it('the embedded terminal runs the shell: a typed command echoes, a fix is typed at the prompt for the owner to run', async () => {
    await page.click('[data-testid=open-terminal]');
    await page.waitForSelector('[data-testid=owner-terminal] .xterm-rows');
    const rows = () => page.textContent('[data-testid=owner-terminal] .xterm-rows');
    // The shell's prompt first: bash drops what is typed before it has set up the line editor.
    await expect.poll(rows, { timeout: 10_000 }).toMatch(/[$#]\s*$/);
    await page.click('[data-testid=owner-terminal] .xterm');
    await page.keyboard.type('echo owner-$((6*7))');
    await page.keyboard.press('Enter');
    await expect.poll(rows, { timeout: 10_000 }).toMatch(/echo owner-\$\(\(6\*7\)\)\s*owner-42/);
    expect(await rows()).not.toContain('command not found');
    // "Prepare in terminal" types the command, and the owner's Enter runs it on the replayed host.
    await page.click('[data-testid=gpu-prepare]');
    await expect.poll(rows).toContain(`gpu prepare --gpu ${BDF} --host-root ${hostRoot}`);
    await page.click('[data-testid=owner-terminal] .xterm');
    await page.keyboard.press('Enter');
    await expect.poll(rows, { timeout: 20_000 }).toContain('[done] check that 0000:41:00.0 is bound to vfio-pci');
    await page.click('[data-testid=host-checks] button');
    await expect.poll(() => page.getAttribute(`[data-testid="check-gpu-vfio-${BDF}"]`, 'data-status')).toBe('pass');
    await page.screenshot({ path: join(ARTIFACTS, 'owner-terminal.png'), fullPage: true });
  });
});

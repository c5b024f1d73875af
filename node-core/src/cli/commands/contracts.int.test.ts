import { describe, it, expect } from 'vitest';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

const bin = join(import.meta.dirname, '..', '..', '..', 'bin', 'cocoon.mjs');

describe('cocoon contracts gas', () => {
  it('--json prints one object of operation → total fees in nanoTON', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [bin, 'contracts', 'gas', '--json'], { timeout: 120_000 });
    const gas = JSON.parse(stdout) as Record<string, number>;
    for (const op of ['deploy_root', 'register_proxy', 'deploy_client', 'top_up', 'charge', 'deploy_worker', 'payout', 'withdraw', 'close_client', 'close_proxy']) {
      expect(Number.isInteger(gas[op]), op).toBe(true);
      expect(gas[op]).toBeGreaterThan(0);
    }
    for (const op of ['top_up', 'charge', 'payout', 'withdraw']) expect(gas[op]).toBeLessThanOrEqual(15_000_000);
  });

  it('rejects an unknown subcommand with the usage', async () => {
    const r = await promisify(execFile)(process.execPath, [bin, 'contracts', 'deploy'], { timeout: 60_000 }).catch((e: { code: number; stderr: string }) => e);
    expect((r as { code: number }).code).toBe(2);
    expect((r as { stderr: string }).stderr).toMatch(/usage: cocoon contracts gas/);
  });
});

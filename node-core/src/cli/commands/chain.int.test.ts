/**
 * `cocoon chain up` as its own process: prints its endpoint when ready, `cocoon root show` finds it
 * through the announcement, SIGINT stops it and saves.
 */
import { describe, it, expect, afterAll } from 'vitest';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createInterface } from 'node:readline';

const bin = join(import.meta.dirname, '..', '..', '..', 'bin', 'cocoon.mjs');
const home = mkdtempSync(join(tmpdir(), 'cocoon-cli-chain-'));
const env = { ...process.env, COCOON_HOME: home, COCOON_NETWORK: '', COCOON_TON_ENDPOINT: '', COCOON_ROOT_ADDRESS: '' };
let child: ChildProcess | undefined;

afterAll(() => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  rmSync(home, { recursive: true, force: true });
});

describe('cocoon chain up / root show', () => {
  it('starts, is found by root show, and stops cleanly on SIGINT', async () => {
    child = spawn(process.execPath, [bin, 'chain', 'up', '--json'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const firstLine = await new Promise<string>((resolve, reject) => {
      const rl = createInterface({ input: child!.stdout! });
      rl.once('line', resolve);
      child!.once('exit', (code) => reject(new Error(`chain up exited ${code}: ${stderr}`)));
    });
    const ready = JSON.parse(firstLine) as { endpoint: string; rootAddress: string; dataDir: string };
    expect(ready.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/jsonRPC$/);
    expect(ready.dataDir).toBe(join(home, 'local-chain'));

    const { stdout } = await promisify(execFile)(process.execPath, [bin, 'root', 'show', '--json'], { env, timeout: 60_000 });
    const shown = JSON.parse(stdout) as { network: string; rootAddress: string; params: Record<string, unknown>; codeHashes: Record<string, string> };
    expect(shown.network).toBe('local');
    expect(shown.rootAddress).toBe(ready.rootAddress);
    expect(shown.params).toMatchObject({ pricePerToken: '20', workerFeePerToken: '19', minClientStake: '15000000000', structVersion: 3 });
    expect(shown.codeHashes.client).toMatch(/^[0-9a-f]{64}$/);
    // The real network: no internet here, so it must fail cleanly and say why.
    const main = await promisify(execFile)(process.execPath, [bin, 'root', 'show', '--network', 'mainnet'], { env: { ...env, COCOON_TON_ENDPOINT: 'http://127.0.0.1:9/jsonRPC' }, timeout: 60_000 })
      .catch((e: { code: number; stderr: string }) => e);
    expect((main as { code: number }).code).toBe(1);
    expect((main as { stderr: string }).stderr).toMatch(/could not read root EQCns7bYSp0igFvS1wpb5wsZjCKCV19MD5AVzI4EyxsnU73k on mainnet[\s\S]*internet access/);

    const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(existsSync(join(home, 'local-chain.json'))).toBe(false);
    expect(existsSync(join(home, 'local-chain', 'chain-state.json'))).toBe(true);
  });

  it('root show without any chain says how to get one', async () => {
    const r = await promisify(execFile)(process.execPath, [bin, 'root', 'show'], { env, timeout: 60_000 }).catch((e: { code: number; stderr: string }) => e);
    expect((r as { code: number }).code).toBe(1);
    expect((r as { stderr: string }).stderr).toMatch(/cocoon chain up/);
  });
});

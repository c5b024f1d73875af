import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';

const CLI = fileURLToPath(new URL('../../bin/cocoon.mjs', import.meta.url));
const testdata = fileURLToPath(new URL('../../../testdata/tdx/', import.meta.url));
const cocoon = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, COCOON_LOG_LEVEL: 'silent' } });

describe('cocoon CLI', () => {
  it('attest verify --json reports the real quotes as in expected.json', () => {
    const expected = JSON.parse(readFileSync(join(testdata, 'expected.json'), 'utf8'));
    for (const name of ['quote-a.dat', 'quote-b.dat']) {
      const r = cocoon('attest', 'verify', join(testdata, name), '--json');
      expect(r.status).toBe(0);
      const out = JSON.parse(r.stdout);
      expect(out).toMatchObject({ valid: true, version: 4, teeType: '0x81', mrtd: expected[name].mrtd, rtmr0: expected[name].rtmr0, rtmr3: expected[name].rtmr3, reportData: expected[name].reportData, tcbStatus: 'unknown' });
      expect(out.imageHash).toMatch(/^[0-9a-f]{64}$/);
    }
  });

  it('a worker that cannot reach its proxy exits with a reason instead of hanging on what it started', () => {
    const started = Date.now();
    const r = spawnSync(process.execPath, [CLI, 'worker', '--proxy', '127.0.0.1:9', '--quote', 'fake', '--policy', 'fake', '--connect-timeout-ms', '1000'], {
      encoding: 'utf8', env: { ...process.env, COCOON_LOG_LEVEL: 'silent', COCOON_HOME: mkdtempSync(join(tmpdir(), 'cli-home-')) }, timeout: 60_000,
    });
    expect(r.signal, 'still running after 60 s: killed').toBeNull();
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^cocoon worker: /);
    expect(Date.now() - started).toBeLessThan(60_000);
  }, 70_000);

  it('attest verify fails with a reason, not a stack trace, on garbage and flipped bytes', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-'));
    writeFileSync(join(dir, 'garbage'), 'hello');
    const bad = readFileSync(join(testdata, 'quote-a.dat'));
    bad[100] = bad[100]! ^ 0xff;
    writeFileSync(join(dir, 'flipped'), bad);
    const g = cocoon('attest', 'verify', join(dir, 'garbage'), '--json');
    expect(g.status).toBe(1);
    expect(JSON.parse(g.stdout)).toMatchObject({ valid: false, error: expect.stringMatching(/truncated/) });
    const f = cocoon('attest', 'verify', join(dir, 'flipped'));
    expect(f.status).toBe(1);
    expect(f.stdout).toMatch(/INVALID: quote signature/);
    expect(f.stderr).not.toMatch(/at .*\.ts:\d+/);
  });

  it('rejects unknown flags with usage and exit code 2', () => {
    const r = cocoon('up', '--wokers', '2');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--wokers/);
    expect(r.stderr).toMatch(/usage: cocoon up/);
    expect(cocoon('up', '--workers', 'many').stderr).toMatch(/--workers must be an integer/);
  });

  it('up --json prints one ready line, serves the openai client, and stops cleanly on SIGTERM', async () => {
    const home = mkdtempSync(join(tmpdir(), 'cocoon-home-'));
    const child = spawn(process.execPath, [CLI, 'up', '--json', '--workers', '2'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, COCOON_LOG_LEVEL: 'silent', COCOON_HOME: home } });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    try {
      const line = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout! }).once('line', resolve);
        child.once('exit', (c) => reject(new Error(`exited ${c}`)));
      });
      const info = JSON.parse(line);
      expect(info.openai).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
      expect(info.workers).toHaveLength(2);
      // The embedded chain runs, and prices come from its root contract.
      expect(info.chain.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/jsonRPC$/);
      const root = spawnSync(process.execPath, [CLI, 'root', 'show', '--json'], { encoding: 'utf8', env: { ...process.env, COCOON_HOME: home } });
      expect(root.status, root.stderr).toBe(0);
      const rootInfo = JSON.parse(root.stdout);
      expect(rootInfo.rootAddress).toBe(info.chain.rootAddress);
      expect(String(info.pricing.pricePerToken)).toBe(String(rootInfo.params.pricePerToken));
      // The development images are on the root's allowlists, which the policies enforce.
      expect(rootInfo.allowedHashes.proxyImages).toContain(info.proxy.imageHash);
      expect(rootInfo.allowedHashes.workerImages).toHaveLength(1);
      const openai = new OpenAI({ baseURL: info.openai, apiKey: 'x' });
      const res = await openai.chat.completions.create({ model: info.models[0], messages: [{ role: 'user', content: 'cli' }] });
      expect(res.usage!.completion_tokens).toBeGreaterThan(0);
      // The proxy certificate the client verified inspects to the same image hash.
      const pem = await (await fetch(`${info.openai}/cocoon/proxy-certificate`)).text();
      const dir = mkdtempSync(join(tmpdir(), 'cli-'));
      writeFileSync(join(dir, 'proxy.pem'), pem);
      const cert = cocoon('attest', 'cert', join(dir, 'proxy.pem'), '--json', '--policy', 'fake');
      expect(cert.status).toBe(0);
      expect(JSON.parse(cert.stdout).imageHash).toBe(info.proxy.imageHash);
    } finally {
      const exited = new Promise<number | null>((r) => child.once('exit', r));
      child.kill('SIGTERM');
      expect(await exited, stderr).toBe(0);
    }
  });
});

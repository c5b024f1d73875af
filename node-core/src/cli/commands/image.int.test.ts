/**
 * `cocoon image measure` as a person runs it: the real CLI process on the fixture image.
 */
import { describe, it, expect } from 'vitest';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const root = join(import.meta.dirname, '..', '..', '..', '..');
const bin = join(root, 'node-core', 'bin', 'cocoon.mjs');
const fx = (name: string) => join(root, 'testdata', 'measure', name);
const run = (args: string[]) => promisify(execFile)(process.execPath, [bin, 'image', 'measure', ...args], { timeout: 60_000 });
const common = ['--firmware', fx('firmware.fd'), '--kernel', fx('kernel.efi'), '--initrd', fx('initrd.img'), '--cmdline', 'console=hvc0 root=/dev/vda ro'];

describe('cocoon image measure --json', () => {
  it('lists computed registers, marks RTMR0 as needing a live TD, and gives the hash once RTMR0 is supplied', async () => {
    const vectors = JSON.parse(readFileSync(fx('vectors.json'), 'utf8')) as { mrtd: { twoPass: string } };
    const first = JSON.parse((await run([...common, '--config', fx('worker-config.json'), '--page-add-order', 'two-pass', '--json'])).stdout) as {
      registers: Record<string, { value: string | null; source: string }>; imageHash: string | null; computed: string[]; missing: string[];
    };
    expect(first.registers.mrtd!.value).toBe(vectors.mrtd.twoPass);
    expect(first.computed).toEqual(['mrtd', 'rtmr1', 'rtmr2', 'rtmr3']);
    expect(first.missing).toEqual(['rtmr0']);
    expect(first.imageHash).toBeNull();

    const rtmr0 = 'ab'.repeat(48);
    const second = JSON.parse((await run([...common, '--config', fx('worker-config.json'), '--rtmr0', rtmr0, '--json'])).stdout) as { imageHash: string; registers: Record<string, { value: string; source: string }> };
    expect(second.registers.rtmr0).toEqual({ value: rtmr0, source: 'supplied', dependsOn: expect.any(Array) });
    expect(second.imageHash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('fails with a clear message for a firmware that is not TDX OVMF', async () => {
    const err = (await run(['--firmware', fx('initrd.img'), '--kernel', fx('kernel.efi'), '--initrd', fx('initrd.img'), '--cmdline', 'x']).catch((e: unknown) => e)) as { code: number; stderr: string };
    expect(err.code).not.toBe(0);
    expect(err.stderr).toMatch(/not an OVMF\/TDVF image/);
  });
});

describe('cocoon image eventlog', () => {
  const el = (args: string[]) => promisify(execFile)(process.execPath, [bin, 'image', 'eventlog', ...args], { timeout: 60_000 });
  it('replays a real TD\'s log and confirms its quote; a tampered log exits 1 naming the register', async () => {
    const ok = JSON.parse((await el(['--log', fx('tdx-boot/event-log.json'), '--quote', fx('tdx-boot/quote.dat'), '--json'])).stdout) as { match: boolean; registers: Array<{ match: boolean }> };
    expect(ok.match).toBe(true);
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const logJson = JSON.parse(readFileSync(fx('tdx-boot/event-log.json'), 'utf8')) as { event_log: Array<{ imr: number; digest: string }> };
    logJson.event_log.find((e) => e.imr === 2)!.digest = 'cd'.repeat(48);
    const bad = join(mkdtempSync(join(tmpdir(), 'evlog-')), 'log.json');
    writeFileSync(bad, JSON.stringify(logJson));
    const err = (await el(['--log', bad, '--quote', fx('tdx-boot/quote.dat')]).catch((e: unknown) => e)) as { code: number; stdout: string };
    expect(err.code).toBe(1);
    expect(err.stdout).toMatch(/rtmr2 DIFFERS/);
  });
  it('image measure --acpi-from-log computes RTMR0 and the image hash', async () => {
    const m = JSON.parse((await run([...common, '--config', fx('worker-config.json'), '--acpi-from-log', fx('tdx-boot/event-log.json'), '--json'])).stdout) as { missing: string[]; imageHash: string; registers: Record<string, { source: string }> };
    expect(m.missing).toEqual([]);
    expect(m.registers.rtmr0!.source).toBe('computed');
    expect(m.imageHash).toMatch(/^[0-9a-f]{64}$/);
  });
});

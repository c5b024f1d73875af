import { fileURLToPath } from 'node:url';
import { Address } from '@ton/core';
import { describe, expect, it } from 'vitest';
import type { TdStatus, TdSupervisorApi, WorkerConfigInput } from '../../shared/api-contract.ts';
import { OwnerService } from './owner-service.ts';
import { PtyService } from './pty-service.ts';

/** Owner mode's main side on a recorded host, with a test double for the TD launcher (no TDX here). */
const host = fileURLToPath(new URL('../../../testdata/hosts/tdx-h100-ready', import.meta.url));
const config: WorkerConfigInput = { ownerAddress: `0:${'ab'.repeat(32)}`, gpu: '0000:41:00.0', model: 'Qwen/Qwen3-0.6B' };

/** Test double of the launcher: records calls and lets the test push state and console output. */
function fakeLauncher() {
  const state = new Set<(s: TdStatus) => void>();
  const consoleL = new Set<(c: string) => void>();
  let status: TdStatus = { phase: 'stopped', message: null, mode: null, pid: null, since: new Date().toISOString(), restarts: 0, statsUrl: null };
  const started: WorkerConfigInput[] = [];
  const api: TdSupervisorApi = {
    async start(c) { started.push(c); status = { ...status, phase: 'starting', mode: 'emulation', pid: 42 }; return status; },
    async stop() { status = { ...status, phase: 'stopped', pid: null }; return status; },
    status: () => status,
    onConsole(l) { consoleL.add(l); return () => consoleL.delete(l); },
    onState(l) { state.add(l); return () => state.delete(l); },
  };
  return { api, started, push: (s: Partial<TdStatus>, text: string) => { status = { ...status, ...s }; for (const l of state) l(status); for (const l of consoleL) l(text); } };
}

describe('OwnerService', () => {
  it('checks the owner address, the GPU and reports field errors', () => {
    const owner = new OwnerService({ hostRoot: host, network: 'local' });
    const ok = owner.checkConfig(config);
    expect(ok).toMatchObject({ ok: true, errors: {}, network: null });
    // The canonical form: user-friendly, non-bounceable (UQ…), the same account as the raw input.
    expect(ok.ownerAddress).toMatch(/^UQ/);
    expect(Address.parseFriendly(ok.ownerAddress!).address.toRawString()).toBe(config.ownerAddress);
    expect(owner.checkConfig({ ...config, ownerAddress: ok.ownerAddress! })).toMatchObject({ ok: true, ownerAddress: ok.ownerAddress, network: 'mainnet' });
    expect(owner.checkConfig({ ...config, ownerAddress: 'UQ-nope', gpu: '0000:99:00.0' }).errors).toEqual({
      ownerAddress: 'not a TON address: paste the wallet address payouts go to (e.g. UQ… or 0:…)',
      gpu: 'no NVIDIA GPU at 0000:99:00.0 on this host',
    });
  });

  it('starts the launcher only with a valid config and forwards its state and console as app events', async () => {
    const td = fakeLauncher();
    const owner = new OwnerService({ hostRoot: host, network: 'local', td: td.api });
    const events: Array<[string, unknown]> = [];
    owner.on('event', (e: string, p: unknown) => events.push([e, p]));
    await expect(owner.handlers['owner.td.start']({ ...config, ownerAddress: 'bad' })).rejects.toThrow(/ownerAddress: not a TON address/);
    expect(td.started).toEqual([]);
    expect(await owner.handlers['owner.td.start'](config)).toMatchObject({ phase: 'starting', pid: 42 });
    expect(Address.parseFriendly(td.started[0]!.ownerAddress).address.toRawString()).toBe(config.ownerAddress);
    td.push({ phase: 'booted' }, 'Linux version 6.16\n');
    expect(events).toEqual([['owner.td.state', expect.objectContaining({ phase: 'booted' })], ['owner.td.console', { data: 'Linux version 6.16\n' }]]);
    owner.close();
  });

  it('without a launcher: phase unavailable, start refused with a hint', async () => {
    const owner = new OwnerService({ hostRoot: host, network: 'local' });
    expect(await owner.handlers['owner.td.status']()).toMatchObject({ phase: 'unavailable', message: 'this build has no TD guest launcher' });
    await expect(owner.handlers['owner.td.start'](config)).rejects.toThrow('this build has no TD guest launcher');
    expect(await owner.handlers['owner.worker.stats']()).toMatchObject({ available: false, reason: 'this build has no TD guest launcher' });
  });

  it('plans GPU restore on the ready host with the command the owner runs', async () => {
    const owner = new OwnerService({ hostRoot: host, network: 'local' });
    const plan = await owner.handlers['owner.gpu.plan']({ action: 'restore', bdf: '0000:41:00.0' });
    expect(plan.steps.map((s) => s.id)).toEqual(['unbind', 'driver-override', 'probe', 'verify']);
    expect(plan.commandLine).toMatch(new RegExp(`cocoon\\.mjs gpu restore --gpu 0000:41:00.0 --host-root ${host}$`));
  });
});

describe('PtyService', () => {
  it('is off unless enabled', async () => {
    await expect(new PtyService({ enabled: false }).open({ cols: 80, rows: 24 })).rejects.toThrow('the embedded terminal is off');
  });

  it('runs a shell in a pseudo-terminal: input in, output out, exit reported', async () => {
    const pty = new PtyService({ enabled: true, shell: '/bin/sh' });
    let out = '';
    const exited = new Promise<number>((resolve) => pty.on('event', (e: string, p: { data?: string; exitCode?: number }) => {
      if (e === 'pty.data') out += p.data;
      if (e === 'pty.exit') resolve(p.exitCode!);
    }));
    const { id } = await pty.open({ cols: 80, rows: 24 });
    pty.write({ id, data: 'echo pty-$((20+22)); exit 3\n' });
    expect(await exited).toBe(3);
    expect(out).toContain('pty-42');
    expect(() => pty.write({ id, data: 'x' })).toThrow(`terminal ${id} is not open`);
  });
});

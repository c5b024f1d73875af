/**
 * `cocoon client|worker unblock-proxy` as a separate process against real store files: a flagged
 * proxy named in another address form is cleared (and stays cleared when the store reopens), the
 * held signed counter stays, and an unknown or malformed address is refused with a clear message.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Address } from '@ton/core';
import { ClientPaymentStore } from '../../payments/client-payment-store.ts';
import { WorkerPaymentStore } from '../../payments/worker-payment-store.ts';

const CLI = fileURLToPath(new URL('../../../bin/cocoon.mjs', import.meta.url));
const PROXY = new Address(0, Buffer.alloc(32, 0x11));
const OTHER = new Address(0, Buffer.alloc(32, 0x22));
const CONTRACT = new Address(0, Buffer.alloc(32, 0x33)).toString();

describe('cocoon client|worker unblock-proxy', () => {
  let home: string;
  const cocoon = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8', env: { ...process.env, COCOON_HOME: home, COCOON_LOG_LEVEL: 'silent' },
  });
  beforeAll(() => {
    home = mkdtempSync(join(tmpdir(), 'cocoon-unblock-'));
  });
  afterAll(() => rmSync(home, { recursive: true, force: true }));

  it('clears a client flag given in another address form, keeps the held counter, refuses unknown and malformed addresses', () => {
    const file = join(home, 'client', 'client-payments.sqlite');
    const store = ClientPaymentStore.open(file);
    // A held counter of 100, then a lower one: the store flags the proxy (rollback).
    store.check({ proxy: PROXY.toString(), contract: CONTRACT, committedCounter: 100n, maxCounter: 100n });
    const r = store.check({ proxy: PROXY.toString(), contract: CONTRACT, committedCounter: 40n, maxCounter: 40n });
    expect(r).toMatchObject({ ok: false, code: 'rollback' });
    store.close();

    const unknown = cocoon('client', 'unblock-proxy', '--proxy', OTHER.toRawString());
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toContain(`proxy ${OTHER.toRawString()} is not blocked`);
    expect(unknown.stderr).toContain(`blocked proxies there: ${PROXY.toString()}`);

    const malformed = cocoon('client', 'unblock-proxy', '--proxy', 'not-an-address');
    expect(malformed.status).toBe(2);
    expect(malformed.stderr).toContain('--proxy must be a TON address');

    const missing = cocoon('client', 'unblock-proxy');
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('--proxy ADDRESS is required');

    // Still blocked after the refusals.
    let s = ClientPaymentStore.open(file);
    expect(s.isBlocked(PROXY.toString())).toBe(true);
    s.close();

    const ok = cocoon('client', 'unblock-proxy', '--proxy', PROXY.toRawString(), '--json');
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    const out = JSON.parse(ok.stdout) as { cleared: { proxy: string; reason: string; file: string }[] };
    expect(out.cleared).toHaveLength(1);
    expect(out.cleared[0]).toMatchObject({ proxy: PROXY.toString(), file });
    expect(out.cleared[0]!.reason).toMatch(/rolled back.*40 < 100/);

    s = ClientPaymentStore.open(file);
    expect(s.isBlocked(PROXY.toString())).toBe(false);
    // Clearing forgets nothing: a counter below the one held is still a rollback.
    expect(s.holding(PROXY.toString(), CONTRACT)?.committedCounter).toBe(100n);
    expect(s.check({ proxy: PROXY.toString(), contract: CONTRACT, committedCounter: 40n })).toMatchObject({ ok: false, code: 'rollback' });
    s.clearRollback(PROXY.toString());
    s.close();

    const again = cocoon('client', 'unblock-proxy', '--proxy', PROXY.toString());
    expect(again.status).toBe(1);
    expect(again.stderr).toContain('no proxy is blocked there');
  });

  it('clears a worker flag, text output', () => {
    const file = join(home, 'worker', 'worker-payments.sqlite');
    const store = WorkerPaymentStore.open(file);
    store.flag(PROXY.toString(), 'payout counter 5 below the 9 held');
    store.close();
    const ok = cocoon('worker', 'unblock-proxy', '--proxy', PROXY.toString({ bounceable: false }), '--data-dir', join(home, 'worker'));
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain(`cleared the block on proxy ${PROXY.toString()}`);
    expect(ok.stdout).toContain('payout counter 5 below the 9 held');
    const s = WorkerPaymentStore.open(file);
    expect(s.isBlocked(PROXY.toString())).toBe(false);
    s.close();
  });
});

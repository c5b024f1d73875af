/**
 * Crash safety of the proxy ledger with real processes and a real file: a child records answers
 * as fast as it can and is killed with SIGKILL at random instants; each restart begins a few
 * answers before the last acknowledged one (a proxy retrying what it was unsure of). Afterwards
 * every acknowledged answer is there, none counts twice, and the invariant holds exactly.
 */
import { describe, it, expect } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ProxyLedger } from './proxy-ledger.ts';
import { TEST_PRICING, usageFor } from './testing/ledger-usage.ts';

const CHILD = fileURLToPath(new URL('./testing/ledger-crash-child.ts', import.meta.url));

/** Runs the child from `from`, kills it `afterMs` after its first ack; returns the acked numbers. */
function runAndKill(path: string, from: number, afterMs: number): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, path, String(from)], { stdio: ['ignore', 'pipe', 'pipe'] });
    const acked: number[] = [];
    let buf = '';
    let stderr = '';
    let timer: NodeJS.Timeout | undefined;
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line.startsWith('ack ')) {
          acked.push(Number(line.slice(4)));
          timer ??= setTimeout(() => child.kill('SIGKILL'), afterMs);
        }
      }
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (signal !== 'SIGKILL') reject(new Error(`child exited ${code} ${signal}: ${stderr}`));
      else resolve(acked);
    });
  });
}

describe('ProxyLedger under kill -9', () => {
  it('loses nothing acknowledged and counts nothing twice', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cocoon-ledger-crash-'));
    const path = join(dir, 'proxy-ledger.sqlite');
    try {
      const acked = new Set<number>();
      let next = 0;
      for (let round = 0; round < 6; round++) {
        const from = Math.max(0, next - 5);
        const got = await runAndKill(path, from, 20 + Math.floor(Math.random() * 250));
        expect(got.length).toBeGreaterThan(0);
        for (const n of got) acked.add(n);
        next = Math.max(...got) + 1;
      }

      const ledger = ProxyLedger.open(path, { pricing: TEST_PRICING });
      try {
        expect(ledger.audit().problems).toEqual([]);
        for (const n of acked) expect(ledger.hasAnswer(`req-${n}`)).toBe(true);

        // Recompute from scratch, in a fresh ledger, from the ids the crashed one holds: every
        // account must match exactly, so no answer was counted twice.
        let max = 0;
        while (ledger.hasAnswer(`req-${max + 1}`)) max++;
        const replay = ProxyLedger.open(join(dir, 'replay.sqlite'), { pricing: TEST_PRICING });
        let recorded = 0;
        for (let n = 0; n <= max + 10; n++) {
          if (ledger.hasAnswer(`req-${n}`)) {
            replay.recordAnswer(usageFor(n));
            recorded++;
          }
        }
        expect(recorded).toBe(ledger.proxyTotals().answers);
        expect(recorded).toBeGreaterThanOrEqual(acked.size);
        const strip = (l: ProxyLedger, p: 'client' | 'worker') => l.accounts(p).map((a) => ({ c: a.contract, n: a.nano, k: a.counter, t: a.tokens, a: a.answers }));
        expect(strip(ledger, 'client')).toEqual(strip(replay, 'client'));
        expect(strip(ledger, 'worker')).toEqual(strip(replay, 'worker'));
        expect(ledger.proxyTotals().earnedNano).toBe(replay.proxyTotals().earnedNano);
        replay.close();
      } finally {
        ledger.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

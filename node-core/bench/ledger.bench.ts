/**
 * What settlement's files cost per answer: the proxy ledger's grouped commit (`recordAnswers`, the
 * answers that end within one commit window) and a client's or worker's own counts (`recordOwn`,
 * committed in groups), each on a real SQLite file in WAL mode that already holds `--prefill`
 * answers (a B-tree keyed by random ids gets slower as it grows; one keyed by a sequence does not).
 *   npm run bench -- ledger [--answers N] [--prefill N] [--groups 1,8,64]
 * Writes bench-results/ledger.json.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { ProxyLedger, type AnswerUsage } from '../src/payments/proxy-ledger.ts';
import { WorkerPaymentStore } from '../src/payments/worker-payment-store.ts';
import { DEFAULT_PRICING } from '../src/payments/pricing.ts';

function flag(args: string[], name: string, fallback: string): string {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : fallback;
}

function positive(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${v}`);
  return n;
}

// One client and one worker, as in the relay bench (each account is read and written once per group).
const CLIENTS = 1;
const WORKERS = 1;
const contract = (kind: string, i: number) => `${kind}-${i}`;

function answer(i: number): AnswerUsage {
  return {
    requestId: randomBytes(32).toString('hex'), clientContract: contract('client', i % CLIENTS), workerContract: contract('worker', i % WORKERS),
    tokens: { prompt: 40, cached: 0, completion: 52, reasoning: 0 }, outcome: 'completed',
  };
}

export async function run(args: string[]): Promise<void> {
  const answers = positive('answers', flag(args, 'answers', '20000'));
  const prefill = Number(flag(args, 'prefill', '100000'));
  if (!Number.isInteger(prefill) || prefill < 0) throw new Error(`--prefill must be a whole number, got ${prefill}`);
  const groups = flag(args, 'groups', '1,8,64').split(',').map((g) => positive('groups', g));
  const dir = mkdtempSync(join(tmpdir(), 'cocoon-ledger-bench-'));
  const rows: { store: string; group: number; usPerAnswer: number; usPerCommit: number }[] = [];
  try {
    const ledger = ProxyLedger.open(join(dir, 'proxy-ledger.sqlite'), { pricing: DEFAULT_PRICING });
    for (let i = 0; i < prefill; i += 1000) ledger.recordAnswers(Array.from({ length: Math.min(1000, prefill - i) }, (_, j) => answer(i + j)));
    for (const group of groups) {
      const batches = Array.from({ length: Math.ceil(answers / group) }, (_, b) => Array.from({ length: group }, (_, j) => answer(b * group + j)));
      const t = performance.now();
      for (const batch of batches) ledger.recordAnswers(batch);
      const us = (performance.now() - t) * 1000;
      rows.push({ store: 'proxy ledger', group, usPerAnswer: us / (batches.length * group), usPerCommit: us / batches.length });
    }
    const audit = ledger.audit();
    ledger.close();
    if (!audit.ok) throw new Error(`the ledger does not add up after the bench: ${audit.problems.join('; ')}`);

    // A worker's own counts (a client's are the same code): recordOwn queues, one commit per group.
    const store = WorkerPaymentStore.open(join(dir, 'worker-payments.sqlite'));
    const own = (i: number) => ({ proxy: 'proxy-0', contract: contract('worker', 0), requestId: randomBytes(32).toString('hex'), tokens: answer(i).tokens, pricing: DEFAULT_PRICING });
    for (let i = 0; i < prefill; i++) {
      store.recordServed(own(i));
      if (i % 1000 === 999) store.holdings(); // holdings() commits what is queued
    }
    store.holdings();
    for (const group of groups) {
      const items = Array.from({ length: answers }, (_, i) => own(i));
      const t = performance.now();
      for (let i = 0; i < items.length; i++) {
        store.recordServed(items[i]!);
        if (i % group === group - 1) store.holdings();
      }
      store.holdings();
      const us = (performance.now() - t) * 1000;
      rows.push({ store: 'worker own counts', group, usPerAnswer: us / answers, usPerCommit: us / Math.ceil(answers / group) });
    }
    store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`settlement files: ${answers} answers per row on a file prefilled with ${prefill}; WAL, synchronous=NORMAL`);
  console.log('| store | answers per commit | µs per answer | µs per commit |');
  console.log('|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.store} | ${r.group} | ${r.usPerAnswer.toFixed(1)} | ${r.usPerCommit.toFixed(0)} |`);
  mkdirSync('bench-results', { recursive: true });
  writeFileSync('bench-results/ledger.json', JSON.stringify({ when: new Date().toISOString(), answers, prefill, rows }, null, 2));
  console.log('wrote bench-results/ledger.json');
}

import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { ProxyLedger } from './proxy-ledger.ts';
import { chainTokens, computeCost, DEFAULT_PRICING } from './pricing.ts';
import { TEST_PRICING, usageFor } from './testing/ledger-usage.ts';

describe('ProxyLedger', () => {
  let dir: string;
  let path: string;
  let ledger: ProxyLedger;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cocoon-ledger-'));
    path = join(dir, 'proxy-ledger.sqlite');
    ledger = ProxyLedger.open(path, { pricing: DEFAULT_PRICING });
  });
  afterEach(() => {
    ledger.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('charges a client exactly computeCost of its cumulative tokens and pays the worker its share', () => {
    const a = { prompt: 120, cached: 30, completion: 77, reasoning: 5 };
    const b = { prompt: 3, cached: 1, completion: 9, reasoning: 0 };
    ledger.recordAnswer({ requestId: 'r1', clientContract: 'C', workerContract: 'W', tokens: a, outcome: 'completed' });
    ledger.recordAnswer({ requestId: 'r2', clientContract: 'C', workerContract: 'W', tokens: b, outcome: 'cancelled' });
    const total = { prompt: 123, cached: 31, completion: 86, reasoning: 5 };
    const cost = computeCost(total, DEFAULT_PRICING);
    const client = ledger.account('client', 'C')!;
    const worker = ledger.account('worker', 'W')!;
    expect(client.tokens).toEqual(total);
    expect(client.units).toBe(BigInt(cost.weightedTokens));
    expect(client.counter).toBe(chainTokens(cost.weightedTokens));
    expect(client.nano).toBe(BigInt(cost.totalNanoTon));
    expect(worker.nano).toBe(BigInt(cost.workerNanoTon));
    expect(ledger.proxyTotals().earnedNano).toBe(BigInt(cost.proxyNanoTon));
    expect(ledger.audit()).toMatchObject({ ok: true, problems: [] });
  });

  it('lists a party\'s answers since a time with what each moved for that party', () => {
    let t = 1_000;
    const timed = ProxyLedger.open(join(dir, 'timed.sqlite'), { pricing: DEFAULT_PRICING, now: () => t });
    try {
      timed.recordAnswer({ requestId: 'a', clientContract: 'C', workerContract: 'W', tokens: { prompt: 100, cached: 0, completion: 50, reasoning: 0 }, outcome: 'completed' });
      t = 2_000;
      timed.recordAnswer({ requestId: 'b', clientContract: 'C2', workerContract: 'W', tokens: { prompt: 10, cached: 0, completion: 5, reasoning: 0 }, outcome: 'cancelled' });
      const all = timed.answersFor('worker', 'W');
      expect(all.map((x) => [x.requestId, x.at, x.outcome])).toEqual([['a', 1_000, 'completed'], ['b', 2_000, 'cancelled']]);
      expect(all.reduce((n, x) => n + x.nano, 0n)).toBe(timed.account('worker', 'W')!.nano);
      expect(timed.answersFor('worker', 'W', 1_500).map((x) => x.requestId)).toEqual(['b']);
      expect(timed.answersFor('client', 'C').map((x) => x.nano)).toEqual([timed.account('client', 'C')!.nano]);
      expect(timed.answersFor('client', 'W')).toEqual([]);
    } finally {
      timed.close();
    }
  });

  it('records a request id once: a retry moves nothing and reports the first record', () => {
    const first = ledger.recordAnswer(usageFor(1));
    const again = ledger.recordAnswer(usageFor(1));
    expect(first.duplicate).toBe(false);
    expect(again).toMatchObject({ duplicate: true, units: first.units, clientNano: first.clientNano, clientCounter: first.clientCounter });
    expect(ledger.proxyTotals().answers).toBe(1);
    expect(() => ledger.recordAnswer({ ...usageFor(1), workerContract: 'other' })).toThrow(/already recorded/);
  });

  it('records adjusted tokens as the worker reported them (coefficient already applied) for both counters', () => {
    // 1000 prompt tokens at coefficient 1500, 1×: the worker reports trunc(1000 × 1.5 × 1) = 1500.
    const tokens = { prompt: 1500, cached: 0, completion: 0, reasoning: 0 };
    const r = ledger.recordAnswer({ requestId: 'x', clientContract: 'C', workerContract: 'W', tokens, coefficient: 1500, outcome: 'completed' });
    expect(r.units).toBe(15_000_000n);
    expect(r.clientNano).toBe(30_000n); // 1500 tokens at 20
    expect(r.workerNano).toBe(28_500n);
  });

  it('keeps the invariant exactly over many mixed answers with odd prices', () => {
    ledger.close();
    rmSync(path, { force: true });
    ledger = ProxyLedger.open(path, { pricing: TEST_PRICING });
    for (let n = 0; n < 500; n++) ledger.recordAnswer(usageFor(n));
    const audit = ledger.audit();
    expect(audit.problems).toEqual([]);
    const clients = ledger.accounts('client').reduce((s, a) => s + a.nano, 0n);
    const workers = ledger.accounts('worker').reduce((s, a) => s + a.nano, 0n);
    expect(clients).toBe(workers + ledger.proxyTotals().earnedNano);
    expect(ledger.proxyTotals().earnedNano).toBeGreaterThan(0n);
  });

  it('records a group of answers exactly as one by one: same results, accounts, answers and totals', () => {
    ledger.close();
    rmSync(path, { force: true });
    ledger = ProxyLedger.open(path, { pricing: TEST_PRICING });
    const single = ProxyLedger.open(join(dir, 'single.sqlite'), { pricing: TEST_PRICING });
    try {
      // Groups of 1..17 answers over 3 clients and 4 workers, with retries inside a group and across groups.
      const groups: number[][] = [];
      for (let n = 0, g = 1; n < 400; g = (g % 17) + 1) {
        const ids = Array.from({ length: g }, (_, i) => n + i);
        if (g > 3) ids.push(ids[1]!, n - 5);
        groups.push(ids.filter((id) => id >= 0));
        n += g;
      }
      for (const ids of groups) {
        const grouped = ledger.recordAnswers(ids.map(usageFor));
        const oneByOne = ids.map((id) => single.recordAnswer(usageFor(id)));
        expect(grouped).toEqual(oneByOne);
      }
      for (const party of ['client', 'worker'] as const) expect(ledger.accounts(party)).toEqual(single.accounts(party));
      expect(ledger.proxyTotals()).toEqual(single.proxyTotals());
      const answers = (l: ProxyLedger) => l.answersFor('client', usageFor(7).clientContract).map(({ at: _at, ...a }) => a);
      expect(answers(ledger)).toEqual(answers(single));
      expect(ledger.audit()).toEqual(single.audit());
      expect(ledger.audit().problems).toEqual([]);
      // All or nothing: a group with a reused request id for another client moves nothing.
      const before = ledger.proxyTotals();
      expect(() => ledger.recordAnswers([usageFor(100_000), { ...usageFor(3), clientContract: 'someone-else' }])).toThrow(/already recorded/);
      expect(ledger.hasAnswer('req-100000')).toBe(false);
      expect(ledger.proxyTotals()).toEqual(before);
      // The rolled-back answer is not taken for a repeat when it comes again on its own.
      expect(ledger.recordAnswer(usageFor(100_000)).duplicate).toBe(false);
      expect(ledger.recordAnswer(usageFor(100_000)).duplicate).toBe(true);
    } finally {
      single.close();
    }
  });

  it('survives reopening, and refuses to reopen at another price', () => {
    ledger.recordAnswer(usageFor(7));
    ledger.close();
    ledger = ProxyLedger.open(path, { pricing: DEFAULT_PRICING });
    expect(ledger.hasAnswer('req-7')).toBe(true);
    const before = ledger.proxyTotals();
    expect(ledger.recordAnswer(usageFor(7)).duplicate).toBe(true);
    expect(ledger.proxyTotals()).toEqual(before);
    expect(() => ProxyLedger.open(path, { pricing: { ...DEFAULT_PRICING, pricePerToken: 21 } })).toThrow(/was kept at pricing/);
  });

  it('uses WAL and stores amounts as exact integers', () => {
    ledger.recordAnswer(usageFor(3));
    const raw = new Database(path, { readonly: true });
    expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    const types = raw.prepare("SELECT typeof(nano) AS t, typeof(counter) AS c FROM accounts").all() as { t: string; c: string }[];
    expect(types.every((r) => r.t === 'integer' && r.c === 'integer')).toBe(true);
    raw.close();
  });

  it('keeps signed counters monotonic and never above the ledger', () => {
    const r = ledger.recordAnswer(usageFor(2));
    const contract = usageFor(2).clientContract;
    expect(() => ledger.recordSigned('client', contract, r.clientCounter + 1n, new Uint8Array([1]))).toThrow(/above the ledger/);
    ledger.recordSigned('client', contract, r.clientCounter, new Uint8Array([7, 7]));
    expect(() => ledger.recordSigned('client', contract, r.clientCounter - 1n, new Uint8Array([1]))).toThrow(/below the one already signed/);
    const a = ledger.account('client', contract)!;
    expect(a.signedCounter).toBe(r.clientCounter);
    expect([...a.signedMessage!]).toEqual([7, 7]);
    expect(a.unsettledNano).toBe(a.nano);
    expect(ledger.settlementAccounts()).toEqual([expect.objectContaining({ kind: 'charge', contract, signedCounter: r.clientCounter, onChainCounter: 0n })]);
    ledger.recordOnChain('charge', contract, r.clientCounter);
    expect(ledger.account('client', contract)).toMatchObject({ onChainCounter: r.clientCounter, unsettledNano: 0n, owedNano: 0n, unsettledSince: null });
    expect(ledger.settlementAccounts()).toEqual([]);
  });

  it('says so when the chain holds more than the ledger counted (an old ledger file)', () => {
    const r = ledger.recordAnswer(usageFor(4));
    expect(() => ledger.recordOnChain('payout', usageFor(4).workerContract, r.workerCounter + 10n)).toThrow(/this ledger only counted/);
  });

  it('serves the account rows it wrote as the file holds them, also after a group rolled back', () => {
    const fromFile = () => {
      const reader = ProxyLedger.openForReading(path);
      try {
        return ['client', 'worker'].flatMap((party) => reader.accounts(party as 'client' | 'worker'));
      } finally {
        reader.close();
      }
    };
    const cached = () => fromFile().map((a) => ledger.account(a.party, a.contract));
    for (let n = 1; n <= 30; n++) {
      ledger.transaction(() => {
        ledger.recordAnswers([usageFor(n), usageFor(n + 1000)]);
        const c = usageFor(n).clientContract;
        const counter = ledger.account('client', c)!.counter;
        if (n % 3 === 0) ledger.recordSigned('client', c, counter, new Uint8Array([n]));
        if (n % 5 === 0) ledger.recordOnChain('charge', c, counter / 2n);
      });
      expect(cached()).toEqual(fromFile());
    }
    // A group that fails after its writes leaves the rows as they were.
    const before = fromFile();
    expect(() => ledger.transaction(() => {
      ledger.recordAnswers([usageFor(2000)]);
      throw new Error('the signing failed');
    })).toThrow(/signing failed/);
    expect(cached()).toEqual(before);
  });

  it('checks the newest `recentAnswers` request ids for a repeat, across reopening', () => {
    ledger.close();
    ledger = ProxyLedger.open(join(dir, 'window.sqlite'), { pricing: TEST_PRICING, recentAnswers: 3 });
    for (let n = 1; n <= 5; n++) ledger.recordAnswer(usageFor(n));
    ledger.close();
    ledger = ProxyLedger.open(join(dir, 'window.sqlite'), { pricing: TEST_PRICING, recentAnswers: 3 });
    expect([3, 4, 5].map((n) => ledger.recordAnswer(usageFor(n)).duplicate)).toEqual([true, true, true]);
    // Older than the window: recorded as a new answer (the proxy makes a fresh id per attempt, so
    // only a bug could repeat one that old), and the ledger still adds up.
    expect(ledger.recordAnswer(usageFor(1)).duplicate).toBe(false);
    expect(ledger.audit().problems).toEqual([]);
  });

  it('migrates a schema-1 file (answers keyed by request id): same answers in the same order, repeats still caught', () => {
    for (let n = 1; n <= 40; n++) ledger.recordAnswer(usageFor(n));
    const answers = ledger.answersFor('client', usageFor(1).clientContract);
    const totals = ledger.proxyTotals();
    ledger.close();
    // Rebuild the answers table as schema 1 had it, rows in recording order.
    const raw = new Database(path);
    raw.exec(`CREATE TABLE old_answers (request_id TEXT PRIMARY KEY, client TEXT NOT NULL, worker TEXT NOT NULL,
      outcome TEXT NOT NULL CHECK (outcome IN ('completed', 'cancelled', 'failed')),
      prompt INTEGER NOT NULL, cached INTEGER NOT NULL, completion INTEGER NOT NULL, reasoning INTEGER NOT NULL,
      coefficient INTEGER NOT NULL, units INTEGER NOT NULL, client_nano INTEGER NOT NULL, worker_nano INTEGER NOT NULL,
      proxy_nano INTEGER NOT NULL, recorded_at INTEGER NOT NULL);
      INSERT INTO old_answers SELECT request_id, client, worker, outcome, prompt, cached, completion, reasoning, coefficient, units,
        client_nano, worker_nano, proxy_nano, recorded_at FROM answers ORDER BY seq;
      DROP TABLE answers; ALTER TABLE old_answers RENAME TO answers;`);
    raw.pragma('user_version = 1');
    raw.close();
    ledger = ProxyLedger.open(path, { pricing: DEFAULT_PRICING });
    expect(ledger.answersFor('client', usageFor(1).clientContract)).toEqual(answers);
    expect(ledger.proxyTotals()).toEqual(totals);
    expect(ledger.audit().problems).toEqual([]);
    expect(ledger.recordAnswer(usageFor(17)).duplicate).toBe(true);
    expect(ledger.recordAnswer(usageFor(41)).duplicate).toBe(false);
  });

  it('refuses a newer schema than it knows', () => {
    ledger.close();
    const raw = new Database(path);
    raw.pragma('user_version = 99');
    raw.close();
    expect(() => ProxyLedger.open(path, { pricing: DEFAULT_PRICING })).toThrow(/newer than this build knows/);
    ledger = ProxyLedger.open(join(dir, 'other.sqlite'), { pricing: DEFAULT_PRICING });
  });
});

/**
 * The payments part of `cocoon status`: read-only views of the stores found in a data dir, with
 * every amount in nanoTON as a decimal string. Keys:
 *   client.charged.{ledger,signed,onChain}   (the client's own store; else the proxy ledger's clients)
 *   workers[].paid.{ledger,signed,onChain}   (each worker store's holdings; else the proxy ledger's workers)
 *   proxy.earned.{ledger,onChain}
 *   proxy.savedState.{ledger,onChain,at}     (the proxy's state commits, seqnos)
 * plus unsettled amounts, rollback flags and the settlement state (attempts, last error, next attempt).
 */
import { ProxyLedger, type LedgerAccount } from './proxy-ledger.ts';
import { StateCommitLog, type SavedStateStatus } from './proxy-state-commits.ts';
import { ClientPaymentStore } from './client-payment-store.ts';
import { WorkerPaymentStore } from './worker-payment-store.ts';
import type { Holding, PartyPaymentStore } from './party-payment-store.ts';
import { findPaymentStores } from './payment-files.ts';
import { settlementView, DEFAULT_SETTLEMENT_POLICY, type SettlementPolicy, type AccountView } from './settlement-scheduler.ts';
import type { SettlementSource } from './settlement-state.ts';

const s = (n: bigint | null) => (n === null ? null : n.toString());

export interface AmountTriple { ledger: string; signed: string; onChain: string }

export interface SettlementLine {
  kind: string; contract: string; unsettled: string; due: boolean; why: string;
  attempts: number; lastError: string | null; nextAttemptAt: string | null; lastConfirmedAt: string | null;
}

export interface PartyLine {
  contract: string;
  proxy?: string;
  tokens?: Record<string, number>;
  unsettled: string;
  owed: string;
  rollback?: { reason: string; at: string } | null;
  /** A client's own count at its maximum price coefficient, in nanoTON: the most the proxy may charge for what it received. */
  ownBound?: string;
}

export interface PaymentsStatus {
  dataDir: string;
  files: { role: string; path: string }[];
  client: (PartyLine & { charged: AmountTriple; source: 'client' | 'proxy' }) | null;
  clients: (PartyLine & { charged: AmountTriple })[];
  workers: (PartyLine & { paid: AmountTriple; source: 'worker' | 'proxy' })[];
  proxy: {
    earned: { ledger: string; onChain: string | null };
    answers: number;
    invariant: { ok: boolean; problems: string[] };
    /** The proxy's state commits: newest seqno in the ledger, newest confirmed on chain, when. */
    savedState: SavedStateStatus | null;
  } | null;
  settlement: SettlementLine[];
}

const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());

function settlementLines(source: SettlementSource, policy: SettlementPolicy, now: number): SettlementLine[] {
  return settlementView(source, policy, now).map((v: AccountView) => ({
    kind: v.kind, contract: v.contract, unsettled: v.unsettledNano.toString(), due: v.due, why: v.why, attempts: v.state.attempts,
    lastError: v.state.lastError, nextAttemptAt: iso(v.state.nextAttemptAt), lastConfirmedAt: iso(v.state.lastConfirmedAt),
  }));
}

function fromLedger(a: LedgerAccount) {
  return {
    contract: a.contract, tokens: { ...a.tokens }, unsettled: a.unsettledNano.toString(), owed: a.owedNano.toString(),
    amounts: { ledger: a.nano.toString(), signed: a.signedNano.toString(), onChain: a.onChainNano.toString() },
  };
}

/**
 * A party's view of "the ledger" counter. A worker counts exactly what the proxy should (same
 * coefficient), so its own count wins when higher. A client counts at its maximum price
 * coefficient — an upper bound, up to 4× the charge — so its ledger is what the proxy reported
 * counting (its own count only before any report), and its bound is shown beside it
 * (`ownBound`), not as the ledger. The app's cost viewer reads the client's the same way.
 */
export function ledgerCounterOf(role: 'client' | 'worker', h: Holding): bigint {
  if (role === 'client') return h.maxCounter > 0n ? h.maxCounter : h.ownCounter;
  return h.maxCounter > h.ownCounter ? h.maxCounter : h.ownCounter;
}

function fromHolding(role: 'client' | 'worker', h: Holding) {
  const ledgerCounter = ledgerCounterOf(role, h);
  const ledgerNano = ledgerCounter * BigInt(h.perToken);
  return {
    contract: h.contract, proxy: h.proxy, tokens: { ...h.ownTokens }, unsettled: h.unsettledNano.toString(),
    ...(role === 'client' && { ownBound: (h.ownCounter * BigInt(h.perToken)).toString() }),
    owed: (ledgerNano - h.onChainNano).toString(),
    rollback: h.rollback ? { reason: h.rollback.reason, at: new Date(h.rollback.at).toISOString() } : null,
    amounts: { ledger: ledgerNano.toString(), signed: h.signedNano.toString(), onChain: h.onChainNano.toString() },
  };
}

function sum(lines: { amounts: { ledger: string; signed: string; onChain: string }; unsettled: string; owed: string }[]) {
  const t = (f: (l: (typeof lines)[number]) => string) => lines.reduce((acc, l) => acc + BigInt(f(l)), 0n).toString();
  return { ledger: t((l) => l.amounts.ledger), signed: t((l) => l.amounts.signed), onChain: t((l) => l.amounts.onChain), unsettled: t((l) => l.unsettled), owed: t((l) => l.owed) };
}

export function paymentsStatus(dataDir: string, opts: { policy?: SettlementPolicy; now?: number } = {}): PaymentsStatus {
  const policy = opts.policy ?? DEFAULT_SETTLEMENT_POLICY;
  const now = opts.now ?? Date.now();
  const files = findPaymentStores(dataDir);
  const out: PaymentsStatus = { dataDir, files, client: null, clients: [], workers: [], proxy: null, settlement: [] };
  const open: { close(): void }[] = [];
  try {
    let proxyClients: ReturnType<typeof fromLedger>[] = [];
    let proxyWorkers: ReturnType<typeof fromLedger>[] = [];
    const clientHoldings: ReturnType<typeof fromHolding>[] = [];
    const workerHoldings: ReturnType<typeof fromHolding>[] = [];
    for (const f of files) {
      if (f.role === 'proxy') {
        const ledger = ProxyLedger.openForReading(f.path);
        open.push(ledger);
        proxyClients = proxyClients.concat(ledger.accounts('client').map(fromLedger));
        proxyWorkers = proxyWorkers.concat(ledger.accounts('worker').map(fromLedger));
        const totals = ledger.proxyTotals();
        const audit = ledger.audit();
        out.proxy = {
          earned: { ledger: totals.earnedNano.toString(), onChain: s(totals.onChainEarnedNano) },
          answers: totals.answers, invariant: { ok: audit.ok, problems: audit.problems },
          savedState: null,
        };
        const commits = StateCommitLog.openForReading(f.path);
        if (commits) {
          open.push(commits);
          out.proxy.savedState = commits.status();
        }
        out.settlement.push(...settlementLines(ledger, policy, now));
      } else {
        const store: PartyPaymentStore = f.role === 'client' ? ClientPaymentStore.open(f.path, { readonly: true }) : WorkerPaymentStore.open(f.path, { readonly: true });
        open.push(store);
        (f.role === 'client' ? clientHoldings : workerHoldings).push(...store.holdings().map((h) => fromHolding(f.role as 'client' | 'worker', h)));
        out.settlement.push(...settlementLines(store, policy, now));
      }
    }
    const clients = clientHoldings.length > 0 ? clientHoldings : proxyClients;
    out.clients = clients.map(({ amounts, ...rest }) => ({ ...rest, charged: amounts }));
    if (clients.length > 0) {
      const t = sum(clients);
      const rollback = clientHoldings.find((h) => h.rollback)?.rollback ?? null;
      out.client = {
        contract: clients.length === 1 ? clients[0]!.contract : `${clients.length} contracts`, source: clientHoldings.length > 0 ? 'client' : 'proxy',
        charged: { ledger: t.ledger, signed: t.signed, onChain: t.onChain }, unsettled: t.unsettled, owed: t.owed,
        ...(clientHoldings.length > 0 && { rollback, ownBound: clientHoldings.reduce((a, h) => a + BigInt(h.ownBound ?? '0'), 0n).toString() }),
      };
    }
    const workers = workerHoldings.length > 0 ? workerHoldings : proxyWorkers;
    out.workers = workers.map(({ amounts, ...rest }) => ({ ...rest, paid: amounts, source: workerHoldings.length > 0 ? 'worker' : 'proxy' }));
    return out;
  } finally {
    for (const o of open) o.close();
  }
}

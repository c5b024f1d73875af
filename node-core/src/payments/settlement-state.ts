/**
 * What the settlement scheduler needs from a payment store, and the table in which every store
 * keeps the scheduler's visible state (attempts, last error, next attempt) so that `cocoon status`,
 * a separate process, can show it.
 */
import { statement, type SqliteDb } from './sqlite.ts';

/** `charge`: a signed counter for a client contract; `payout`: for a worker contract. */
export type SettlementKind = 'charge' | 'payout';

/** One contract with a signed counter that may be ahead of what the chain holds. */
export interface SettlementAccount {
  kind: SettlementKind;
  /** The contract the signed message is for (friendly address string). */
  contract: string;
  /** The best signed counter held, and its message exactly as received/signed (opaque bytes). */
  signedCounter: bigint;
  signedMessage: Uint8Array | null;
  /** The counter last confirmed on chain. */
  onChainCounter: bigint;
  /** nanoTON the signed counter moves beyond the on-chain one (what submitting it settles). */
  unsettledNano: bigint;
  /** When the signed counter first got ahead of the chain (ms since epoch); null when settled. */
  unsettledSince: number | null;
  /** Set by a store whose own rule says "submit now" (e.g. a client past half its stake). */
  dueReason?: string;
}

export interface SettlementState {
  attempts: number;
  lastError: string | null;
  lastAttemptAt: number | null;
  nextAttemptAt: number | null;
  lastConfirmedAt: number | null;
}

export const EMPTY_SETTLEMENT_STATE: SettlementState = Object.freeze({
  attempts: 0, lastError: null, lastAttemptAt: null, nextAttemptAt: null, lastConfirmedAt: null,
});

/** Implemented by ProxyLedger, ClientPaymentStore and WorkerPaymentStore. */
export interface SettlementSource {
  settlementAccounts(): SettlementAccount[];
  /** The chain now holds `counter` for this contract (never moves a counter backwards). */
  recordOnChain(kind: SettlementKind, contract: string, counter: bigint, at?: number): void;
  settlementState(kind: SettlementKind, contract: string): SettlementState;
  saveSettlementState(kind: SettlementKind, contract: string, state: SettlementState): void;
}

export const SETTLEMENT_STATE_SQL = `
  CREATE TABLE settlement_state (
    kind TEXT NOT NULL CHECK (kind IN ('charge', 'payout')),
    contract TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    last_attempt_at INTEGER,
    next_attempt_at INTEGER,
    last_confirmed_at INTEGER,
    PRIMARY KEY (kind, contract)
  );`;

type Row = { attempts: bigint; last_error: string | null; last_attempt_at: bigint | null; next_attempt_at: bigint | null; last_confirmed_at: bigint | null };

const num = (v: bigint | null): number | null => (v === null ? null : Number(v));

export function readSettlementState(db: SqliteDb, kind: SettlementKind, contract: string): SettlementState {
  const row = statement(db, 'SELECT * FROM settlement_state WHERE kind = ? AND contract = ?').get(kind, contract) as Row | undefined;
  if (!row) return { ...EMPTY_SETTLEMENT_STATE };
  return {
    attempts: Number(row.attempts), lastError: row.last_error, lastAttemptAt: num(row.last_attempt_at),
    nextAttemptAt: num(row.next_attempt_at), lastConfirmedAt: num(row.last_confirmed_at),
  };
}

export function writeSettlementState(db: SqliteDb, kind: SettlementKind, contract: string, s: SettlementState): void {
  statement(db, `INSERT INTO settlement_state (kind, contract, attempts, last_error, last_attempt_at, next_attempt_at, last_confirmed_at)
    VALUES (?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (kind, contract) DO UPDATE SET attempts = excluded.attempts, last_error = excluded.last_error,
      last_attempt_at = excluded.last_attempt_at, next_attempt_at = excluded.next_attempt_at, last_confirmed_at = excluded.last_confirmed_at`)
    .run(kind, contract, s.attempts, s.lastError, s.lastAttemptAt, s.nextAttemptAt, s.lastConfirmedAt);
}

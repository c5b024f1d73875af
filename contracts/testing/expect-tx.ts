import { expect } from 'vitest';
import type { Address, Transaction } from '@ton/core';
import { flattenTransaction } from '@ton/test-utils';

export interface TxPattern {
  from?: Address;
  to?: Address;
  success?: boolean;
  exitCode?: number;
  aborted?: boolean;
}

function matches(tx: Transaction, p: TxPattern): boolean {
  const f = flattenTransaction(tx);
  if (p.from && !(f.from && f.from.equals(p.from))) return false;
  if (p.to && !(f.to && f.to.equals(p.to))) return false;
  if (p.success !== undefined && f.success !== p.success) return false;
  if (p.exitCode !== undefined && f.exitCode !== p.exitCode) return false;
  if (p.aborted !== undefined && f.aborted !== p.aborted) return false;
  return true;
}

/** @ton/test-utils' toHaveTransaction for vitest (its matchers register only with jest/chai/bun). */
export function expectTx(result: { transactions: Transaction[] }, p: TxPattern): void {
  const found = result.transactions.some((tx) => matches(tx, p));
  if (!found) {
    const seen = result.transactions.map((tx) => {
      const f = flattenTransaction(tx);
      return `${f.from?.toString() ?? 'ext'} -> ${f.to?.toString()} success=${f.success} exit=${f.exitCode} aborted=${f.aborted}`;
    });
    expect.fail(`no transaction matching ${JSON.stringify({ ...p, from: p.from?.toString(), to: p.to?.toString() })}\n${seen.join('\n')}`);
  }
}

/** Total value of the internal messages delivered to `to` in one operation, nanoTON. */
export function valueTo(result: { transactions: Transaction[] }, to: Address): bigint {
  let sum = 0n;
  for (const tx of result.transactions) {
    const m = tx.inMessage;
    if (m?.info.type === 'internal' && m.info.dest.equals(to)) sum += m.info.value.coins;
  }
  return sum;
}

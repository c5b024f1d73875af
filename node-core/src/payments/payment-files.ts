/**
 * Where each role keeps its payment stores inside its data directory, and how `cocoon status` /
 * `cocoon settle` find them: in the directory itself and in its immediate subdirectories (so the
 * data dir of `cocoon up`, with one subdirectory per role, is found as a whole).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const PAYMENT_FILES = {
  proxy: 'proxy-ledger.sqlite',
  client: 'client-payments.sqlite',
  worker: 'worker-payments.sqlite',
} as const;

export type PaymentRole = keyof typeof PAYMENT_FILES;

export interface FoundStore {
  role: PaymentRole;
  path: string;
}

export function findPaymentStores(dataDir: string): FoundStore[] {
  const dirs = [dataDir];
  if (existsSync(dataDir)) {
    for (const name of readdirSync(dataDir).sort()) {
      const p = join(dataDir, name);
      try {
        if (statSync(p).isDirectory()) dirs.push(p);
      } catch {
        // a vanished or unreadable entry is simply not a store
      }
    }
  }
  const found: FoundStore[] = [];
  for (const dir of dirs) {
    for (const role of Object.keys(PAYMENT_FILES) as PaymentRole[]) {
      const path = join(dir, PAYMENT_FILES[role]);
      if (existsSync(path)) found.push({ role, path });
    }
  }
  return found;
}

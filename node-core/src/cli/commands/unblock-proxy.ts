import { Address } from '@ton/core';
import { cocoonHome } from '../../cocoon-home.ts';
import { CocoonError } from '../../errors.ts';
import { findPaymentStores } from '../../payments/payment-files.ts';
import { parseFlags } from '../command.ts';

/**
 * `cocoon client unblock-proxy` / `cocoon worker unblock-proxy`: clears the "blocked proxy" flag a
 * client or worker set when the proxy's counters went backwards (a ledger rollback) or, for a
 * client, when it was asked to pay more than it received. An operator action after investigating:
 * the held signed counters stay (the proxy must get back above them), only the refusal goes.
 *
 * The address may be given in any form (raw `0:…`, bounceable or not); an address with no flag in
 * the store is refused with the list of flagged proxies, so a typo never looks like a success.
 */
export async function unblockProxy(role: 'client' | 'worker', args: string[]): Promise<number> {
  const usage = `cocoon ${role} unblock-proxy --proxy ADDRESS [--data-dir DIR] [--json]`;
  const { values } = parseFlags(args, { proxy: { type: 'string' }, 'data-dir': { type: 'string' }, json: { type: 'boolean' } }, usage, false);
  if (!values.proxy) throw new CocoonError('bad_flag', '--proxy ADDRESS is required: the proxy contract whose flag to clear', { hint: `usage: ${usage}; \`cocoon status\` shows the flagged proxy` });
  let wanted: Address;
  try {
    wanted = Address.parse(values.proxy.trim());
  } catch {
    throw new CocoonError('bad_flag', `--proxy must be a TON address (0:<64 hex> or a user-friendly form), got "${values.proxy}"`);
  }
  const dataDir = cocoonHome({ flag: values['data-dir'] });
  const files = findPaymentStores(dataDir).filter((f) => f.role === role);
  if (files.length === 0) {
    throw new CocoonError('no_payment_stores', `no ${role} payment store under ${dataDir}`, { hint: `pass the ${role}'s data dir (--data-dir DIR)` });
  }
  const { ClientPaymentStore } = await import('../../payments/client-payment-store.ts');
  const { WorkerPaymentStore } = await import('../../payments/worker-payment-store.ts');
  const cleared: { file: string; proxy: string; reason: string; since: string }[] = [];
  const flaggedElsewhere: string[] = [];
  for (const f of files) {
    const store = role === 'client' ? ClientPaymentStore.open(f.path) : WorkerPaymentStore.open(f.path);
    try {
      for (const flag of store.flaggedProxies()) {
        if (!sameAddress(flag.proxy, wanted)) {
          flaggedElsewhere.push(flag.proxy);
          continue;
        }
        if (store.clearRollback(flag.proxy)) cleared.push({ file: f.path, proxy: flag.proxy, reason: flag.reason, since: new Date(flag.at).toISOString() });
      }
    } finally {
      store.close();
    }
  }
  if (cleared.length === 0) {
    throw new CocoonError('proxy_not_blocked', `proxy ${values.proxy} is not blocked in ${files.map((f) => f.path).join(', ')}`, {
      hint: flaggedElsewhere.length > 0 ? `blocked proxies there: ${[...new Set(flaggedElsewhere)].join(', ')}` : 'no proxy is blocked there; nothing to clear',
    });
  }
  if (values.json) {
    process.stdout.write(JSON.stringify({ cleared }) + '\n');
  } else {
    for (const c of cleared) {
      process.stdout.write(`cleared the block on proxy ${c.proxy} in ${c.file} (blocked since ${c.since}: ${c.reason})\n`);
    }
    process.stdout.write(`the signed counters already held stay: a charge or payout below them is still refused. Restart the ${role} if it is running (it keeps the flag it read).\n`);
  }
  return 0;
}

/** Stored proxies are addresses in whatever form their role wrote; a row that is not an address matches only itself. */
function sameAddress(stored: string, wanted: Address): boolean {
  try {
    return Address.parse(stored).equals(wanted);
  } catch {
    return false;
  }
}

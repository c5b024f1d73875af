import { parseFlags, type CliCommand } from '../command.ts';
import { CocoonError } from '../../errors.ts';
import { cocoonHome } from '../../cocoon-home.ts';
import { nanoToTon } from '../../payments/pricing.ts';

const usage = 'cocoon settle [--json] [--data-dir DIR] [--wallet-mnemonic-file FILE | --local-wallet proxy|client|worker]';

/**
 * Submits every outstanding signed charge and payout in the data dir's payment stores now,
 * whatever the thresholds, and waits until the chain confirms each one. The fees are paid by the
 * wallet given: its 24 words in a file (or COCOON_WALLET_MNEMONIC), or, on the embedded local
 * chain only, one of its development wallets by name.
 */
export const command: CliCommand = {
  summary: 'submit every outstanding signed charge and payout now and wait for the chain to confirm them',
  usage,
  async run(args) {
    const { values } = parseFlags(args, {
      json: { type: 'boolean' }, 'data-dir': { type: 'string' }, 'wallet-mnemonic-file': { type: 'string' }, 'local-wallet': { type: 'string' },
    }, usage, false);
    const dataDir = cocoonHome({ flag: values['data-dir'] });
    const { findPaymentStores } = await import('../../payments/payment-files.ts');
    const { ProxyLedger } = await import('../../payments/proxy-ledger.ts');
    const { ClientPaymentStore } = await import('../../payments/client-payment-store.ts');
    const { WorkerPaymentStore } = await import('../../payments/worker-payment-store.ts');
    const { SettlementScheduler } = await import('../../payments/settlement-scheduler.ts');
    const found = findPaymentStores(dataDir);
    if (found.length === 0) {
      throw new CocoonError('no_payment_stores', `no payment stores under ${dataDir}`, { hint: 'pass the data dir of a proxy, client or worker (--data-dir DIR)' });
    }
    const stores = found.map((f) => ({
      ...f,
      store: f.role === 'proxy' ? ProxyLedger.openExisting(f.path) : f.role === 'client' ? ClientPaymentStore.open(f.path) : WorkerPaymentStore.open(f.path),
    }));
    try {
      const outstanding = stores.reduce((n, s) => n + s.store.settlementAccounts().length, 0);
      const results: { file: string; kind: string; contract: string; counter: string; status: string; onChainCounter?: string; error?: string }[] = [];
      if (outstanding > 0) {
        const { resolveChainConfig } = await import('../../chain/config.ts');
        const { Chain } = await import('../../chain/chain.ts');
        const { ChainSettlementSubmitter } = await import('../../payments/chain-submitter.ts');
        const config = resolveChainConfig();
        const chain = new Chain(config);
        const { walletWords } = await import('../../payments/role-settlement.ts');
        const wallet = await chain.wallet(walletWords(values, config));
        const submitter = new ChainSettlementSubmitter(chain, wallet);
        for (const s of stores) {
          for (const r of await new SettlementScheduler(s.store, submitter).settleNow()) {
            results.push({
              file: s.path, kind: r.kind, contract: r.contract, counter: r.counter.toString(), status: r.outcome.status,
              ...(r.outcome.status === 'confirmed' ? { onChainCounter: r.outcome.onChainCounter.toString() } : { error: r.outcome.error }),
            });
          }
        }
      }
      const failed = results.filter((r) => r.status !== 'confirmed');
      if (values.json) {
        process.stdout.write(JSON.stringify({ dataDir, submitted: results.length, confirmed: results.length - failed.length, failed: failed.length, results }) + '\n');
      } else if (results.length === 0) {
        process.stdout.write(`nothing to settle in ${dataDir}: every signed counter is on chain\n`);
      } else {
        for (const r of results) {
          process.stdout.write(`${r.status === 'confirmed' ? 'settled' : 'FAILED '} ${r.kind} ${r.contract} counter ${r.counter}${r.error ? `: ${r.error}` : ''}\n`);
        }
        const left = stores.reduce((n, s) => n + s.store.settlementAccounts().reduce((a, x) => a + x.unsettledNano, 0n), 0n);
        process.stdout.write(`${results.length - failed.length} of ${results.length} confirmed on chain; still unsettled ${nanoToTon(left)} TON\n`);
      }
      return failed.length > 0 ? 1 : 0;
    } finally {
      for (const s of stores) s.store.close();
    }
  },
};

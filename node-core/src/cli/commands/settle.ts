import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseFlags, type CliCommand } from '../command.ts';
import { CocoonError, errorMessage } from '../../errors.ts';
import { localChainStateFile, readAnnouncement } from '../../chain/state-file.ts';
import { cocoonHome } from '../../cocoon-home.ts';
import { nanoToTon } from '../../payments/pricing.ts';

const usage = 'cocoon settle [--json] [--data-dir DIR] [--wallet-mnemonic-file FILE | --local-wallet proxy|client|worker]';

/**
 * Submits every outstanding signed charge and payout in the data dir's payment stores now,
 * whatever the thresholds, and waits until the chain confirms each one. The fees are paid by the
 * wallet given: its 24 words in a file (or COCOON_WALLET_MNEMONIC), or, on the embedded local
 * chain only, one of its development wallets by name.
 */
async function walletWords(values: { 'wallet-mnemonic-file'?: string; 'local-wallet'?: string }, network: string): Promise<string[]> {
  if (values['wallet-mnemonic-file'] && values['local-wallet']) throw new CocoonError('bad_flag', 'give either --wallet-mnemonic-file or --local-wallet, not both');
  let words: string | undefined;
  if (values['wallet-mnemonic-file']) {
    try {
      words = readFileSync(values['wallet-mnemonic-file'], 'utf8');
    } catch (err) {
      throw new CocoonError('bad_flag', `cannot read --wallet-mnemonic-file: ${errorMessage(err)}`);
    }
  } else if (values['local-wallet']) {
    if (network !== 'local') throw new CocoonError('bad_flag', `--local-wallet is for the embedded development chain only; this is ${network}`, { hint: 'use --wallet-mnemonic-file FILE' });
    const announced = readAnnouncement(localChainStateFile());
    if (!announced) throw new CocoonError('no_chain', 'no local chain is running', { hint: 'start it with `cocoon up` or `cocoon chain up`' });
    const wallets = JSON.parse(readFileSync(join(announced.dataDir, 'wallets.json'), 'utf8')) as { name: string; mnemonic: string[] }[];
    const w = wallets.find((x) => x.name === values['local-wallet']);
    if (!w) throw new CocoonError('bad_flag', `no development wallet "${values['local-wallet']}"; there are ${wallets.map((x) => x.name).join(', ')}`);
    return w.mnemonic;
  } else {
    words = process.env.COCOON_WALLET_MNEMONIC;
  }
  if (!words || words.trim() === '') {
    throw new CocoonError('settle_needs_wallet', 'settling sends transactions, and no wallet was given to pay their fees', {
      hint: 'pass --wallet-mnemonic-file FILE (24 words) or set COCOON_WALLET_MNEMONIC; on the local chain, --local-wallet proxy|client|worker',
    });
  }
  const list = words.trim().split(/\s+/);
  if (list.length !== 24) throw new CocoonError('bad_flag', `a wallet mnemonic has 24 words, this one has ${list.length}`);
  return list;
}

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
        const wallet = await chain.wallet(await walletWords(values, config.network));
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

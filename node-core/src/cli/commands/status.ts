import { parseFlags, type CliCommand } from '../command.ts';
import { CocoonError } from '../../errors.ts';
import { cocoonHome } from '../../cocoon-home.ts';
import { nanoToTon } from '../../payments/pricing.ts';

const usage = 'cocoon status [--json] [--data-dir DIR]';

const ton = (nano: string | null) => (nano === null ? '—' : `${nanoToTon(BigInt(nano))} TON`);

export const command: CliCommand = {
  summary: 'payments: ledger, signed and on-chain amounts, unsettled, settlement state (reads the data dir)',
  usage,
  async run(args) {
    const { values, positionals } = parseFlags(args, { json: { type: 'boolean' }, 'data-dir': { type: 'string' } }, usage, false);
    void positionals;
    const dataDir = cocoonHome({ flag: values['data-dir'] });
    const { paymentsStatus } = await import('../../payments/status-report.ts');
    const report = paymentsStatus(dataDir);
    if (values.json) {
      process.stdout.write(JSON.stringify(report) + '\n');
      return 0;
    }
    if (report.files.length === 0) {
      throw new CocoonError('no_payment_stores', `no payment stores under ${dataDir}`, {
        hint: 'pass the data dir of a proxy, client or worker (--data-dir DIR), or run `cocoon up` first',
      });
    }
    const lines: string[] = [`payments in ${dataDir}`];
    const triple = (t: { ledger: string; signed: string; onChain: string }) => `ledger ${ton(t.ledger)} · signed ${ton(t.signed)} · on chain ${ton(t.onChain)}`;
    if (report.client) {
      lines.push(`client ${report.client.contract} (from the ${report.client.source}'s store)`, `  charged   ${triple(report.client.charged)}`, `  unsettled ${ton(report.client.unsettled)}`);
      if (report.client.rollback) lines.push(`  STOPPED: ${report.client.rollback.reason}`);
    }
    for (const w of report.workers) {
      lines.push(`worker ${w.contract}${w.proxy ? ` at proxy ${w.proxy}` : ''}`, `  paid      ${triple(w.paid)}`, `  unsettled ${ton(w.unsettled)}`);
      if (w.rollback) lines.push(`  STOPPED: ${w.rollback.reason}`);
    }
    if (report.proxy) {
      lines.push(`proxy: ${report.proxy.answers} answers, earned ledger ${ton(report.proxy.earned.ledger)} · on chain ${ton(report.proxy.earned.onChain)}`);
      lines.push(`  ledger invariant ${report.proxy.invariant.ok ? 'holds' : 'BROKEN: ' + report.proxy.invariant.problems.join('; ')}`);
      const st = report.proxy.savedState;
      if (st) lines.push(`  state commit: ledger #${st.ledger ?? '-'} · on chain #${st.onChain ?? '-'}${st.at ? ` at ${st.at}` : ''}${st.attempts ? ` (attempts ${st.attempts}, last error: ${st.lastError})` : ''}`);
    }
    for (const s of report.settlement) {
      lines.push(`settlement ${s.kind} ${s.contract}: ${s.due ? 'due' : 'not due'} — ${s.why}${s.attempts ? ` (attempts ${s.attempts}, last error: ${s.lastError})` : ''}`);
    }
    process.stdout.write(lines.join('\n') + '\n');
    return 0;
  },
};

import { parseFlags, type CliCommand } from '../command.ts';
import { CocoonError } from '../../errors.ts';
import { nanoToTon } from '../../payments/pricing.ts';

const usage = 'cocoon contracts gas [--json]';

export const command: CliCommand = {
  summary: 'contract tooling: `gas` measures every operation in the sandbox',
  usage,
  async run(args) {
    const { values, positionals } = parseFlags(args, { json: { type: 'boolean' } }, usage);
    if (positionals[0] !== 'gas' || positionals.length !== 1) {
      throw new CocoonError('bad_flag', `unknown contracts subcommand "${positionals.join(' ')}"`, { hint: `usage: ${usage}` });
    }
    const { measureGas, STEADY_STATE_OPERATIONS, STEADY_STATE_BUDGET } = await import('../../../../contracts/gas.ts');
    const costs = await measureGas();
    if (values.json) {
      process.stdout.write(JSON.stringify(Object.fromEntries(costs.map((c) => [c.operation, Number(c.totalFees)]))) + '\n');
      return 0;
    }
    const lines = ['operation            total TON     hops (contract: gas units / compute / forward nanoTON)'];
    for (const c of costs) {
      const hops = c.hops.map((h) => `${h.contract}: ${h.gasUsed}/${h.computeFee}/${h.actionFee}`).join('; ');
      const steady = (STEADY_STATE_OPERATIONS as readonly string[]).includes(c.operation);
      const flag = steady ? (c.totalFees <= STEADY_STATE_BUDGET ? ' ok' : ' OVER BUDGET') : '';
      lines.push(`${c.operation.padEnd(20)} ${nanoToTon(c.totalFees).padEnd(12)}${flag.padEnd(13)} ${hops}`);
    }
    process.stdout.write(lines.join('\n') + '\n');
    return 0;
  },
};

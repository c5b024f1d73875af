import { join } from 'node:path';
import { intFlag, parseFlags, type CliCommand } from '../command.ts';
import { CocoonError } from '../../errors.ts';
import { cocoonHome } from '../../cocoon-home.ts';

const usage = 'cocoon chain up [--json] [--port N] [--data-dir DIR]';

export const command: CliCommand = {
  summary: 'run the embedded local TON chain (sandbox + TON HTTP API v2 on 127.0.0.1)',
  usage,
  async run(args) {
    const { values, positionals } = parseFlags(args, {
      json: { type: 'boolean' },
      port: { type: 'string' },
      'data-dir': { type: 'string' },
    }, usage);
    if (positionals[0] !== 'up' || positionals.length !== 1) {
      throw new CocoonError('bad_flag', `unknown chain subcommand "${positionals.join(' ')}"`, { hint: `usage: ${usage}` });
    }
    const port = intFlag('port', values.port, 0, 0, 65535);
    const dataDir = values['data-dir'] ?? join(cocoonHome(), 'local-chain');
    const { startLocalChain } = await import('../../chain/local/local-chain.ts');
    const chain = await startLocalChain({ dataDir, port });
    const info = {
      endpoint: chain.endpoint,
      rootAddress: chain.rootAddress,
      dataDir: chain.dataDir,
      wallets: chain.wallets.map((w) => ({ name: w.name, address: w.address })),
      walletsFile: join(chain.dataDir, 'wallets.json'),
    };
    if (values.json) {
      process.stdout.write(JSON.stringify(info) + '\n');
    } else {
      process.stdout.write([
        `local chain ready`,
        `  endpoint  ${info.endpoint}`,
        `  root      ${info.rootAddress}`,
        `  data      ${info.dataDir}`,
        ...info.wallets.map((w) => `  wallet    ${w.name.padEnd(7)} ${w.address}`),
        `  mnemonics ${info.walletsFile}`,
        'Ctrl-C stops and saves.',
      ].join('\n') + '\n');
    }
    await new Promise<void>((resolve) => {
      const onSignal = () => {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        resolve();
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
    });
    await chain.stop();
    return 0;
  },
};

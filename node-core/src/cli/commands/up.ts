import { join } from 'node:path';
import { CocoonError } from '../../errors.ts';
import { cocoonHome } from '../../cocoon-home.ts';
import { startLocalNetwork } from '../../network/local-network.ts';
import { LIMIT_FLAG_SPEC, loadClientLimits } from '../../payments/client-limits.ts';
import { resolveApiKey } from '../../client/api-key.ts';
import { intFlag, parseFlags, type CliCommand } from '../command.ts';
import { checkedOrigins } from './client.ts';

const usage = 'cocoon up [--json] [--workers N] [--model M] [--backend URL] [--token-delay-ms N] [--port N] [--data-dir DIR] [--no-chain] [--api-key KEY | --api-key-file FILE] [--allow-origin ORIGIN]... [--max-cost-per-request TON] [--max-cost-per-session TON] [--max-price-coefficient X] [--limits-file FILE]';

/** Waits for Ctrl-C / SIGTERM, then runs `stop` once. */
export function untilSignal(stop: () => Promise<void>): Promise<void> {
  return new Promise((resolve) => {
    let stopping = false;
    const onSignal = () => {
      if (stopping) return;
      stopping = true;
      stop().finally(resolve);
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
}

export const command: CliCommand = {
  summary: 'start the whole local network (test engine, worker(s), proxy, client) on loopback',
  usage,
  async run(args) {
    const { values } = parseFlags(args, {
      json: { type: 'boolean' }, workers: { type: 'string' }, model: { type: 'string' }, backend: { type: 'string' },
      'token-delay-ms': { type: 'string' }, port: { type: 'string' }, 'data-dir': { type: 'string' }, 'no-chain': { type: 'boolean' },
      'api-key': { type: 'string' }, 'api-key-file': { type: 'string' }, 'allow-origin': { type: 'string', multiple: true },
      ...LIMIT_FLAG_SPEC,
    }, usage, false);
    // The client's own caps, checked here at the boundary (a bad amount stops the start with the flag named).
    const limits = loadClientLimits(values, cocoonHome({ flag: values['data-dir'] }));
    // The local network spends no real TON: no key unless one is asked for.
    const apiKey = resolveApiKey({
      network: 'local', dataDir: cocoonHome({ flag: values['data-dir'] }),
      ...(values['api-key'] !== undefined && { apiKey: values['api-key'] }),
      ...(values['api-key-file'] !== undefined && { apiKeyFile: values['api-key-file'] }),
    });
    if (values.model !== undefined && !values.model.trim()) throw new CocoonError('bad_flag', '--model must not be empty');
    const net = await startLocalNetwork({
      workers: intFlag('workers', values.workers, 1, 1, 64),
      tokenDelayMs: intFlag('token-delay-ms', values['token-delay-ms'], 0, 0, 10_000),
      ...(values.port !== undefined && { clientPort: intFlag('port', values.port, 0, 1, 65535) }),
      ...(values.model !== undefined && { model: values.model }),
      ...(values.backend !== undefined && { backendUrl: values.backend }),
      ...(apiKey.key && { clientApiKey: apiKey.key }),
      ...(limits && { clientLimits: limits }),
      ...(values['allow-origin'] && { allowedOrigins: checkedOrigins(values['allow-origin']) }),
      ...(!values['no-chain'] && { chainDataDir: join(cocoonHome({ flag: values['data-dir'] }), 'local-chain') }),
    });
    const info = net.describe();
    if (values.json) process.stdout.write(JSON.stringify(info) + '\n');
    else {
      process.stdout.write(
        `Cocoon local network is up.\n  OpenAI endpoint: ${net.openaiUrl}\n` + (net.apiKey ? `  API key:         ${net.apiKey}\n` : '') + `  model(s):        ${net.models.join(', ')}\n` +
          `  workers:         ${net.workers.length}\n  proxy stats:     ${net.proxy.statsUrl}\n` +
          (net.chain ? `  local TON chain: ${net.chain.endpoint} (root ${net.chain.rootAddress})\n` : '') +
          `  price:           ${net.pricing.pricePerToken} nanoTON/token (worker ${net.pricing.workerFeePerToken})\nPress Ctrl-C to stop.\n`,
      );
    }
    await untilSignal(net.stop);
    return 0;
  },
};

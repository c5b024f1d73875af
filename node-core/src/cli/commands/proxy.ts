import { createLogger } from '../../log.ts';
import { DEV_PROXY_MEASUREMENTS, DEV_WORKER_MEASUREMENTS, imageHashOfMeasurements } from '../../network/dev-images.ts';
import { DEFAULT_POW_DIFFICULTY } from '../../protocol/pow.ts';
import { startProxy } from '../../proxy/proxy-runner.ts';
import { intFlag, parseFlags, type CliCommand } from '../command.ts';
import { attestationFlags, roleIdentity, roleVerifier } from '../role-flags.ts';
import { untilSignal } from './up.ts';

const usage = 'cocoon proxy [--port N] [--pow-difficulty BITS (default 20, as the reference)] [--quote fake|tdx] [--policy fake|tdx|any] [--allow-image WORKER_IMAGE_HASH]... [--json]';

export const command: CliCommand = {
  summary: 'run a proxy: accepts attested workers and clients, routes and relays queries',
  usage,
  async run(args) {
    const { values } = parseFlags(args, { ...attestationFlags, port: { type: 'string' }, 'pow-difficulty': { type: 'string' }, json: { type: 'boolean' } }, usage, false);
    const identity = await roleIdentity(values.quote, 'proxy', DEV_PROXY_MEASUREMENTS);
    const proxy = await startProxy({
      identity, port: intFlag('port', values.port, 0, 0, 65535), log: createLogger('proxy'),
      powDifficulty: intFlag('pow-difficulty', values['pow-difficulty'], DEFAULT_POW_DIFFICULTY, 0, 64),
      workerVerifier: roleVerifier(values.policy, values['allow-image'], imageHashOfMeasurements(DEV_WORKER_MEASUREMENTS)),
      clientVerifier: roleVerifier(values.policy, undefined, undefined),
    });
    const info = { clientPort: proxy.endpoint.port, workerPort: proxy.workerEndpoint.port, stats: proxy.statsUrl, pid: process.pid };
    process.stdout.write(values.json ? JSON.stringify(info) + '\n' : `proxy: clients → 127.0.0.1:${info.clientPort}, workers → 127.0.0.1:${info.workerPort}, stats ${info.stats}\n`);
    await untilSignal(proxy.stop);
    return 0;
  },
};

import { createLogger } from '../../log.ts';
import { DEFAULT_POW_DIFFICULTY } from '../../protocol/pow.ts';
import { startProxy } from '../../proxy/proxy-runner.ts';
import { intFlag, parseFlags, type CliCommand } from '../command.ts';
import { attestationFlags, roleAttestation } from '../role-flags.ts';
import { untilSignal } from './up.ts';

const usage = 'cocoon proxy [--port N] [--worker-port N] [--pow-difficulty BITS (default 20, as the reference)] [--quote tdx|fake] [--policy tdx|fake|any] [--allow-image WORKER_IMAGE_HASH]... [--accept-tcb STATUS]... [--pccs URL] [--json]';

export const command: CliCommand = {
  summary: 'run a proxy: accepts attested workers and clients, routes and relays queries',
  usage,
  async run(args) {
    const { values } = parseFlags(args, { ...attestationFlags, port: { type: 'string' }, 'worker-port': { type: 'string' }, 'pow-difficulty': { type: 'string' }, json: { type: 'boolean' } }, usage, false);
    const log = createLogger('proxy');
    const att = await roleAttestation('proxy', values, log);
    const proxy = await startProxy({
      identity: att.identity, port: intFlag('port', values.port, 0, 0, 65535), workerPort: intFlag('worker-port', values['worker-port'], 0, 0, 65535), log,
      powDifficulty: intFlag('pow-difficulty', values['pow-difficulty'], DEFAULT_POW_DIFFICULTY, 0, 64),
      workerVerifier: att.verifierFor('worker'),
      clientVerifier: att.verifierFor('client'),
    });
    const info = { clientPort: proxy.endpoint.port, workerPort: proxy.workerEndpoint.port, stats: proxy.statsUrl, pid: process.pid };
    process.stdout.write(values.json ? JSON.stringify(info) + '\n' : `proxy: clients → 127.0.0.1:${info.clientPort}, workers → 127.0.0.1:${info.workerPort}, stats ${info.stats}\n`);
    await untilSignal(async () => { await proxy.stop(); att.stop(); });
    return 0;
  },
};

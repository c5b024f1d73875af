import { createLogger } from '../../log.ts';
import { DEFAULT_POW_DIFFICULTY } from '../../protocol/pow.ts';
import { startProxy } from '../../proxy/proxy-runner.ts';
import { intFlag, parseFlags, type CliCommand } from '../command.ts';
import { attestationFlags, roleAttestation } from '../role-flags.ts';
import { untilSignal } from './up.ts';
import { SETTLEMENT_USAGE, settlementFlags, settlementWanted } from '../../payments/role-settlement.ts';

const usage = `cocoon proxy [--port N] [--worker-port N] [--pow-difficulty BITS (default 20, as the reference)] [--quote tdx|fake] [--policy tdx|fake|any] [--allow-image WORKER_IMAGE_HASH]... [--accept-tcb STATUS]... [--pccs URL] ${SETTLEMENT_USAGE} [--proxy-key-file FILE] [--json]`;

export const command: CliCommand = {
  summary: 'run a proxy: accepts attested workers and clients, routes and relays queries',
  usage,
  async run(args) {
    const { values } = parseFlags(args, { ...attestationFlags, ...settlementFlags, port: { type: 'string' }, 'worker-port': { type: 'string' }, 'pow-difficulty': { type: 'string' }, json: { type: 'boolean' } }, usage, false);
    const log = createLogger('proxy');
    const chain = settlementWanted('proxy', values);
    const att = await roleAttestation('proxy', values, log);
    // Settling: the ledger, signed charges and payouts, admission and the on-chain long authorization (payments/role-settlement.ts).
    const settlement = chain ? await (await import('../../payments/role-settlement.ts')).proxyRoleSettlement(chain, values, log) : null;
    const proxy = await startProxy({
      ...(settlement && { settlement }),
      identity: att.identity, port: intFlag('port', values.port, 0, 0, 65535), workerPort: intFlag('worker-port', values['worker-port'], 0, 0, 65535), log,
      powDifficulty: intFlag('pow-difficulty', values['pow-difficulty'], DEFAULT_POW_DIFFICULTY, 0, 64),
      workerVerifier: att.verifierFor('worker'),
      clientVerifier: att.verifierFor('client'),
    });
    const info = {
      clientPort: proxy.endpoint.port, workerPort: proxy.workerEndpoint.port, stats: proxy.statsUrl, pid: process.pid,
      ...(settlement && { settlement: { proxyContract: settlement.contractAddress, ledger: settlement.ledger.path } }),
    };
    process.stdout.write(values.json ? JSON.stringify(info) + '\n' : `proxy: clients → 127.0.0.1:${info.clientPort}, workers → 127.0.0.1:${info.workerPort}, stats ${info.stats}\n`);
    await untilSignal(async () => { await proxy.stop(); await settlement?.close({ flush: true }); att.stop(); });
    return 0;
  },
};

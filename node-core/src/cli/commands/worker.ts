import { createOpenAiCompatibleBackend } from '../../inference/backend.ts';
import { startTestEngine } from '../../inference/test-engine.ts';
import { createLogger } from '../../log.ts';
import { startWorker, waitForWorker } from '../../worker/worker-runner.ts';
import { intFlag, parseFlags, type CliCommand } from '../command.ts';
import { attestationFlags, parseHostPort, roleAttestation } from '../role-flags.ts';
import { untilSignal } from './up.ts';
import { SETTLEMENT_USAGE, settlementFlags, settlementWanted } from '../../payments/role-settlement.ts';
import { CocoonError } from '../../errors.ts';
import { readReferenceRootConfig, rootMultipliers } from '../../protocol/root-config-file.ts';

const usage = `cocoon worker --proxy HOST:PORT [--backend URL] [--model M] [--coefficient N] [--max-active N] [--token-delay-ms N] [--connect-timeout-ms N] [--quote tdx|fake] [--policy tdx|fake|any] [--allow-image PROXY_IMAGE_HASH]... [--accept-tcb STATUS]... [--pccs URL] ${SETTLEMENT_USAGE} [--root-config FILE (TON disabled, development: price multipliers from that root config)] [--json]`;

export const command: CliCommand = {
  summary: 'run a worker: serves an inference engine to a proxy (built-in test engine unless --backend)',
  usage: `${usage}\n       cocoon worker unblock-proxy --proxy ADDRESS [--data-dir DIR] [--json]`,
  async run(args) {
    // Clears the flag this worker set on a proxy it stopped trusting (rollback); see unblock-proxy.ts.
    if (args[0] === 'unblock-proxy') return (await import('./unblock-proxy.ts')).unblockProxy('worker', args.slice(1));
    const { values } = parseFlags(args, {
      ...attestationFlags, ...settlementFlags, proxy: { type: 'string', multiple: true }, backend: { type: 'string' }, model: { type: 'string' },
      coefficient: { type: 'string' }, 'max-active': { type: 'string' }, 'token-delay-ms': { type: 'string' }, 'connect-timeout-ms': { type: 'string' }, 'root-config': { type: 'string' }, json: { type: 'boolean' },
    }, usage, false);
    const proxies = (values.proxy ?? [undefined]).map((p) => parseHostPort('proxy', p));
    if (values['root-config'] !== undefined && values.settle) {
      throw new CocoonError('bad_flag', '--root-config runs the worker with TON disabled; it cannot be combined with --settle (drop one of them)');
    }
    const log = createLogger('worker');
    // `--root-config FILE`: TON disabled, as the reference's worker with `--disable-ton FILE` (the
    // same JSON file): no payments, but the adjusted tokens it reports use that root's price
    // multipliers, as a reference worker's do. Development only: refused on testnet and mainnet.
    // Read (and refused when bad) before anything starts.
    const root = values['root-config'] === undefined ? null : readReferenceRootConfig(values['root-config']);
    const engine = values.backend ? null : await startTestEngine({ tokenDelayMs: intFlag('token-delay-ms', values['token-delay-ms'], 0, 0, 10_000), ...(values.model && { model: values.model }), log });
    const backend = createOpenAiCompatibleBackend({ baseUrl: values.backend ?? engine!.url });
    const model = values.model ?? engine?.model ?? (await backend.listModels())[0]!;
    const chain = values['root-config'] !== undefined ? null : settlementWanted('worker', values);
    const att = await roleAttestation('worker', values, log);
    if (root && att.network !== 'local') throw new CocoonError('policy_refused', `--root-config (TON disabled, no payments) is refused on ${att.network}`, { hint: 'on testnet/mainnet the worker reads its root contract from the chain (--settle)' });
    if (root) log.warn({ rootConfig: values['root-config'], version: root.version, multipliers: rootMultipliers(root) }, 'DEVELOPMENT: TON disabled — root configuration from a file, no payments');
    // Settling: the signed payouts it holds, its own count, rollback detection, payouts to its owner (payments/role-settlement.ts).
    const settlement = chain ? await (await import('../../payments/role-settlement.ts')).workerRoleSettlement(chain, values, log) : null;
    const worker = await startWorker({
      ...(settlement && { settlement }),
      ...(root && { multipliers: rootMultipliers(root) }),
      proxies, backend, model, log,
      coefficient: intFlag('coefficient', values.coefficient, 1000, 1, 1_000_000),
      maxActiveRequests: intFlag('max-active', values['max-active'], 32, 1, 10_000),
      identity: att.identity,
      verifier: att.verifierFor('proxy'),
    });
    // Emulated guests (TCG) need longer than a host for the first attested handshake.
    await waitForWorker(worker, intFlag('connect-timeout-ms', values['connect-timeout-ms'], 30_000, 1000, 3_600_000));
    const info = { model, stats: worker.statsUrl, engine: engine?.url ?? values.backend, pid: process.pid };
    process.stdout.write(values.json ? JSON.stringify(info) + '\n' : `worker serving ${model}, connected; stats ${info.stats}\n`);
    await untilSignal(async () => { await worker.stop(); await settlement?.close({ flush: false }); await engine?.stop(); att.stop(); });
    return 0;
  },
};

import { resolveApiKey } from '../../client/api-key.ts';
import { startClient } from '../../client/client-runner.ts';
import { cocoonHome } from '../../cocoon-home.ts';
import { CocoonError } from '../../errors.ts';
import { createLogger } from '../../log.ts';
import { LIMIT_FLAG_SPEC, loadClientLimits } from '../../payments/client-limits.ts';
import { intFlag, parseFlags, type CliCommand } from '../command.ts';
import { attestationFlags, parseHostPort, roleAttestation } from '../role-flags.ts';
import { untilSignal } from './up.ts';
import { SETTLEMENT_USAGE, settlementFlags, settlementWanted } from '../../payments/role-settlement.ts';

const usage = `cocoon client --proxy HOST:PORT [--port N] [--api-key KEY | --api-key-file FILE | --no-api-key] [--allow-origin ORIGIN]... [--max-cost-per-request TON] [--max-cost-per-session TON] [--max-price-coefficient X] [--limits-file FILE] [--keep-answers N] [--keep-answer-days D] [--quote none|tdx|fake] [--policy tdx|fake|any] [--allow-image PROXY_IMAGE_HASH]... [--accept-tcb STATUS]... [--pccs URL] ${SETTLEMENT_USAGE} [--json]`;

export const command: CliCommand = {
  summary: 'run a client: attested link to a proxy and an OpenAI-compatible API on 127.0.0.1',
  usage: `${usage}\n       cocoon client unblock-proxy --proxy ADDRESS [--data-dir DIR] [--json]`,
  async run(args) {
    // Clears the flag this client set on a proxy it stopped trusting (rollback); see unblock-proxy.ts.
    if (args[0] === 'unblock-proxy') return (await import('./unblock-proxy.ts')).unblockProxy('client', args.slice(1));
    const { values } = parseFlags(args, {
      ...attestationFlags, proxy: { type: 'string' }, port: { type: 'string' }, json: { type: 'boolean' },
      'api-key': { type: 'string' }, 'api-key-file': { type: 'string' }, 'no-api-key': { type: 'boolean' },
      'allow-origin': { type: 'string', multiple: true }, ...settlementFlags,
      'keep-answers': { type: 'string' }, 'keep-answer-days': { type: 'string' },
      ...LIMIT_FLAG_SPEC,
    }, usage, false);
    // The client's own caps, checked here at the boundary (a bad amount stops the start with the flag named).
    const limits = loadClientLimits(values, cocoonHome({ flag: values['data-dir'] }));
    const log = createLogger('client');
    const att = await roleAttestation('client', values, log);
    const apiKey = resolveApiKey({
      network: att.network, dataDir: cocoonHome({ flag: values['data-dir'] }),
      ...(values['api-key'] !== undefined && { apiKey: values['api-key'] }),
      ...(values['api-key-file'] !== undefined && { apiKeyFile: values['api-key-file'] }),
      ...(values['no-api-key'] && { noApiKey: true }),
    });
    if (!apiKey.key && att.network !== 'local') log.warn({ network: att.network }, '--no-api-key: any local process (and any page that reaches this port) can spend this client\'s TON');
    const chain = settlementWanted('client', values);
    // Settling: the long authorization from the owner's wallet, signed charges checked against what it received (payments/role-settlement.ts).
    // The answer log (/v1/cocoon/answers) is kept in the payment store: the newest N answers, none older than D days.
    const answerRetention = {
      ...(values['keep-answers'] !== undefined && { maxAnswers: intFlag('keep-answers', values['keep-answers'], 1000, 1, 1_000_000) }),
      ...(values['keep-answer-days'] !== undefined && { maxAgeDays: intFlag('keep-answer-days', values['keep-answer-days'], 30, 1, 36_500) }),
    };
    const paying = chain ? await (await import('../../payments/role-settlement.ts')).clientRoleSettlement(chain, values, log, process.env, answerRetention) : null;
    const client = await startClient({
      ...(paying && { settlement: paying.settlement, pricing: paying.pricing }),
      proxy: parseHostPort('proxy', values.proxy), port: intFlag('port', values.port, 0, 0, 65535), log,
      identity: att.identity,
      verifier: att.verifierFor('proxy'),
      network: att.network,
      apiKey: apiKey.key,
      ...(limits && { limits }),
      ...(values['allow-origin'] && { allowedOrigins: checkedOrigins(values['allow-origin']) }),
    });
    await client.waitConnected(30_000);
    const info = { openai: client.openaiUrl, ...(apiKey.key && { apiKey: apiKey.key }), ...(apiKey.source && apiKey.source !== 'flag' && { apiKeyFile: apiKey.source }), pid: process.pid };
    process.stdout.write(values.json
      ? JSON.stringify(info) + '\n'
      : `client: OpenAI endpoint ${client.openaiUrl}\n` + (apiKey.key ? `client: API key required (Authorization: Bearer …)${info.apiKeyFile ? `, kept in ${info.apiKeyFile}` : ''}\n` : ''));
    await untilSignal(async () => { await client.stop(); await paying?.settlement.close({ flush: false }); att.stop(); });
    return 0;
  },
};

/** Origins as browsers send them: scheme://host[:port], nothing else. */
export function checkedOrigins(origins: string[]): string[] {
  return origins.map((o) => {
    let url: URL | null = null;
    try {
      url = new URL(o);
    } catch {
      url = null;
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.origin !== o) {
      throw new CocoonError('bad_flag', `--allow-origin must be an origin such as https://app.example or http://localhost:3000, got "${o}"`);
    }
    return o;
  });
}

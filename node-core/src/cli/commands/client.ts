import { resolveApiKey } from '../../client/api-key.ts';
import { startClient } from '../../client/client-runner.ts';
import { cocoonHome } from '../../cocoon-home.ts';
import { CocoonError } from '../../errors.ts';
import { createLogger } from '../../log.ts';
import { intFlag, parseFlags, type CliCommand } from '../command.ts';
import { attestationFlags, parseHostPort, roleAttestation } from '../role-flags.ts';
import { untilSignal } from './up.ts';

const usage = 'cocoon client --proxy HOST:PORT [--port N] [--api-key KEY | --api-key-file FILE | --no-api-key] [--allow-origin ORIGIN]... [--data-dir DIR] [--quote none|tdx|fake] [--policy tdx|fake|any] [--allow-image PROXY_IMAGE_HASH]... [--accept-tcb STATUS]... [--pccs URL] [--json]';

export const command: CliCommand = {
  summary: 'run a client: attested link to a proxy and an OpenAI-compatible API on 127.0.0.1',
  usage,
  async run(args) {
    const { values } = parseFlags(args, {
      ...attestationFlags, proxy: { type: 'string' }, port: { type: 'string' }, json: { type: 'boolean' },
      'api-key': { type: 'string' }, 'api-key-file': { type: 'string' }, 'no-api-key': { type: 'boolean' },
      'allow-origin': { type: 'string', multiple: true }, 'data-dir': { type: 'string' },
    }, usage, false);
    const log = createLogger('client');
    const att = await roleAttestation('client', values, log);
    const apiKey = resolveApiKey({
      network: att.network, dataDir: cocoonHome({ flag: values['data-dir'] }),
      ...(values['api-key'] !== undefined && { apiKey: values['api-key'] }),
      ...(values['api-key-file'] !== undefined && { apiKeyFile: values['api-key-file'] }),
      ...(values['no-api-key'] && { noApiKey: true }),
    });
    if (!apiKey.key && att.network !== 'local') log.warn({ network: att.network }, '--no-api-key: any local process (and any page that reaches this port) can spend this client\'s TON');
    const client = await startClient({
      proxy: parseHostPort('proxy', values.proxy), port: intFlag('port', values.port, 0, 0, 65535), log,
      identity: att.identity,
      verifier: att.verifierFor('proxy'),
      network: att.network,
      apiKey: apiKey.key,
      ...(values['allow-origin'] && { allowedOrigins: checkedOrigins(values['allow-origin']) }),
    });
    await client.waitConnected(30_000);
    const info = { openai: client.openaiUrl, ...(apiKey.key && { apiKey: apiKey.key }), ...(apiKey.source && apiKey.source !== 'flag' && { apiKeyFile: apiKey.source }), pid: process.pid };
    process.stdout.write(values.json
      ? JSON.stringify(info) + '\n'
      : `client: OpenAI endpoint ${client.openaiUrl}\n` + (apiKey.key ? `client: API key required (Authorization: Bearer …)${info.apiKeyFile ? `, kept in ${info.apiKeyFile}` : ''}\n` : ''));
    await untilSignal(async () => { await client.stop(); att.stop(); });
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

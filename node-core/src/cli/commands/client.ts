import { startClient } from '../../client/client-runner.ts';
import { createLogger } from '../../log.ts';
import { intFlag, parseFlags, type CliCommand } from '../command.ts';
import { attestationFlags, parseHostPort, roleAttestation } from '../role-flags.ts';
import { untilSignal } from './up.ts';

const usage = 'cocoon client --proxy HOST:PORT [--port N] [--quote none|tdx|fake] [--policy tdx|fake|any] [--allow-image PROXY_IMAGE_HASH]... [--accept-tcb STATUS]... [--pccs URL] [--json]';

export const command: CliCommand = {
  summary: 'run a client: attested link to a proxy and an OpenAI-compatible API on 127.0.0.1',
  usage,
  async run(args) {
    const { values } = parseFlags(args, { ...attestationFlags, proxy: { type: 'string' }, port: { type: 'string' }, json: { type: 'boolean' } }, usage, false);
    const log = createLogger('client');
    const att = await roleAttestation('client', values, log);
    const client = await startClient({
      proxy: parseHostPort('proxy', values.proxy), port: intFlag('port', values.port, 0, 0, 65535), log,
      identity: att.identity,
      verifier: att.verifierFor('proxy'),
    });
    await client.waitConnected(30_000);
    process.stdout.write(values.json ? JSON.stringify({ openai: client.openaiUrl, pid: process.pid }) + '\n' : `client: OpenAI endpoint ${client.openaiUrl}\n`);
    await untilSignal(async () => { await client.stop(); att.stop(); });
    return 0;
  },
};

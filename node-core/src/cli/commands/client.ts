import { startClient } from '../../client/client-runner.ts';
import { createLogger } from '../../log.ts';
import { DEV_CLIENT_MEASUREMENTS, DEV_PROXY_MEASUREMENTS, imageHashOfMeasurements } from '../../network/dev-images.ts';
import { intFlag, parseFlags, type CliCommand } from '../command.ts';
import { attestationFlags, parseHostPort, roleIdentity, roleVerifier } from '../role-flags.ts';
import { untilSignal } from './up.ts';

const usage = 'cocoon client --proxy HOST:PORT [--port N] [--quote fake|tdx] [--policy fake|tdx|any] [--allow-image PROXY_IMAGE_HASH]... [--json]';

export const command: CliCommand = {
  summary: 'run a client: attested link to a proxy and an OpenAI-compatible API on 127.0.0.1',
  usage,
  async run(args) {
    const { values } = parseFlags(args, { ...attestationFlags, proxy: { type: 'string' }, port: { type: 'string' }, json: { type: 'boolean' } }, usage, false);
    const client = await startClient({
      proxy: parseHostPort('proxy', values.proxy), port: intFlag('port', values.port, 0, 0, 65535), log: createLogger('client'),
      identity: await roleIdentity(values.quote, 'client', DEV_CLIENT_MEASUREMENTS),
      verifier: roleVerifier(values.policy, values['allow-image'], imageHashOfMeasurements(DEV_PROXY_MEASUREMENTS)),
    });
    await client.waitConnected(30_000);
    process.stdout.write(values.json ? JSON.stringify({ openai: client.openaiUrl, pid: process.pid }) + '\n' : `client: OpenAI endpoint ${client.openaiUrl}\n`);
    await untilSignal(client.stop);
    return 0;
  },
};

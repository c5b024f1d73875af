import { startTestEngine } from '../../inference/test-engine.ts';
import { intFlag, parseFlags, type CliCommand } from '../command.ts';
import { untilSignal } from './up.ts';

const usage = 'cocoon engine [--port N] [--model M] [--token-delay-ms N] [--json]';

export const command: CliCommand = {
  summary: 'run the built-in deterministic test engine (OpenAI-compatible) alone',
  usage,
  async run(args) {
    const { values } = parseFlags(args, { port: { type: 'string' }, model: { type: 'string' }, 'token-delay-ms': { type: 'string' }, json: { type: 'boolean' } }, usage, false);
    const engine = await startTestEngine({
      port: intFlag('port', values.port, 0, 0, 65535),
      tokenDelayMs: intFlag('token-delay-ms', values['token-delay-ms'], 0, 0, 10_000),
      ...(values.model && { model: values.model }),
    });
    process.stdout.write(values.json ? JSON.stringify({ url: engine.url, openai: `${engine.url}/v1`, model: engine.model }) + '\n' : `test engine serving ${engine.model} at ${engine.url}/v1 (Ctrl-C to stop)\n`);
    await untilSignal(engine.stop);
    return 0;
  },
};

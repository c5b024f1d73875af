import { CocoonError } from '../../../node-core/src/errors.ts';
import { intFlag, parseFlags, type CliCommand } from '../../../node-core/src/cli/command.ts';
import { untilSignal } from '../../../node-core/src/cli/commands/up.ts';
import { cocoonHome } from '../../../node-core/src/cocoon-home.ts';
import { startWebMode } from '../web/web-mode.ts';

const usage = 'cocoon app --web [--port N] [--json] [--data-dir DIR] [--token-delay-ms N] [--terminal] [--host-root DIR] [--td-config WORKER_CONFIG] [--no-td]';

export const command: CliCommand = {
  summary: 'run the app in web mode (UI over HTTP + WebSocket on 127.0.0.1 with an access token)',
  usage,
  async run(args) {
    const { values } = parseFlags(args, {
      web: { type: 'boolean' }, port: { type: 'string' }, json: { type: 'boolean' }, 'data-dir': { type: 'string' }, 'token-delay-ms': { type: 'string' },
      terminal: { type: 'boolean' }, 'host-root': { type: 'string' }, 'td-config': { type: 'string' }, 'no-td': { type: 'boolean' },
    }, usage, false);
    if (!values.web) throw new CocoonError('bad_flag', 'only web mode is available from the CLI; pass --web (npm start opens the Electron app)', { hint: `usage: ${usage}` });
    const mode = await startWebMode({
      dataDir: cocoonHome({ flag: values['data-dir'] }),
      ...(values.terminal && { terminal: true }),
      ...(values['host-root'] !== undefined && { hostRoot: values['host-root'] }),
      ...(values['td-config'] !== undefined && { tdConfigFile: values['td-config'] }),
      ...(values['no-td'] && { td: false as const }),
      network: { tokenDelayMs: intFlag('token-delay-ms', values['token-delay-ms'], 15, 0, 10_000) },
      ...(values.port !== undefined && { port: intFlag('port', values.port, 0, 1, 65535) }),
    });
    process.stdout.write(values.json
      ? JSON.stringify({ url: mode.url, openai: mode.network.openaiUrl, pid: process.pid, chain: mode.network.chain?.endpoint ?? null, tonconnectBridge: mode.walletSession.localBridgeUrl }) + '\n'
      : `Cocoon Desktop (web mode) is ready. Open:\n  ${mode.url}\nOver SSH: ssh -L ${mode.web.port}:127.0.0.1:${mode.web.port} HOST, then open the same URL locally.\nCtrl-C stops.\n`);
    await untilSignal(mode.stop);
    return 0;
  },
};

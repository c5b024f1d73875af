import { CocoonError } from '../../errors.ts';
import { parseFlags, type CliCommand } from '../command.ts';

const usage = 'cocoon why [--config WORKER_CONFIG] [--host-root DIR | --no-host] [--image-hash H] [--proxy HOST:PORT]... [--network N] [--timeout-s N] [--json]';

export const command: CliCommand = {
  summary: "why can't my host join? host checks, image allowlist, chain endpoint, each proxy's answer — each with what to do",
  usage,
  async run(args) {
    const { values } = parseFlags(args, {
      config: { type: 'string' }, 'host-root': { type: 'string' }, 'no-host': { type: 'boolean' }, 'image-hash': { type: 'string' },
      proxy: { type: 'string', multiple: true }, network: { type: 'string' }, 'timeout-s': { type: 'string' }, json: { type: 'boolean' },
    }, usage, false);
    const { runWhy, formatWhy } = await import('../../why/why.ts');
    const { loadWorkerConfig } = await import('../../td/config.ts');
    const { parseHash } = await import('../../image/allowlist.ts');
    const config = values.config ? loadWorkerConfig(values.config) : undefined;
    let chain;
    if (!config || values.network) {
      const { resolveChainConfig } = await import('../../chain/config.ts');
      try {
        chain = resolveChainConfig(values.network ? { ...process.env, COCOON_NETWORK: values.network as string } : process.env);
      } catch (err) {
        // No chain at all is a finding of the report, not a crash.
        if (!(err instanceof CocoonError && err.code === 'no_chain')) throw err;
      }
    }
    const timeoutS = values['timeout-s'] === undefined ? 15 : Number(values['timeout-s']);
    if (!(timeoutS > 0 && timeoutS <= 300)) throw new CocoonError('bad_flag', `--timeout-s must be 1..300, got "${values['timeout-s']}"`);
    const report = await runWhy({
      hostRoot: values['no-host'] ? null : (values['host-root'] as string | undefined) ?? '/',
      ...(config && { config }), ...(chain && { chain }),
      ...(values['image-hash'] !== undefined && { imageHash: parseHash(values['image-hash'] as string, '--image-hash') }),
      ...(values.proxy && { proxies: values.proxy as string[] }),
      timeoutMs: timeoutS * 1000,
    });
    process.stdout.write(values.json ? JSON.stringify(report) + '\n' : formatWhy(report));
    return report.ready ? 0 : 1;
  },
};

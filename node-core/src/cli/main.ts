import { CocoonError, errorMessage } from '../errors.ts';
import { tuneHeap } from '../heap-tuning.ts';
import type { CliCommand } from './command.ts';

/**
 * Command table. Each command lives in its own module, loaded only when used so that
 * `cocoon attest ...` does not pay for loading the TON sandbox or React.
 * The desktop app's commands (`app`, `start`) are added by the product's entry point
 * (app/main/cli/cocoon.mjs), the one place that knows both node-core and the app: node-core itself
 * never imports app/, so this CLI alone runs anywhere node-core does (a TD guest, a server).
 */
export type CommandTable = Record<string, () => Promise<CliCommand>>;

const nodeCommands: CommandTable = {
  up: async () => (await import('./commands/up.ts')).command,
  proxy: async () => (await import('./commands/proxy.ts')).command,
  worker: async () => (await import('./commands/worker.ts')).command,
  client: async () => (await import('./commands/client.ts')).command,
  attest: async () => (await import('./commands/attest.ts')).command,
  chain: async () => (await import('./commands/chain.ts')).command,
  root: async () => (await import('./commands/root.ts')).command,
  contracts: async () => (await import('./commands/contracts.ts')).command,
  engine: async () => (await import('./commands/engine.ts')).command,
  image: async () => (await import('./commands/image.ts')).command,
  doctor: async () => (await import('./commands/doctor.ts')).command,
  gpu: async () => (await import('./commands/gpu.ts')).command,
  td: async () => (await import('./commands/td.ts')).command,
  why: async () => (await import('./commands/why.ts')).command,
  status: async () => (await import('./commands/status.ts')).command,
  settle: async () => (await import('./commands/settle.ts')).command,
};
let commands: CommandTable = nodeCommands;

async function printHelp(): Promise<void> {
  const lines = ['usage: cocoon <command> [flags]', '', 'commands:'];
  for (const [name, load] of Object.entries(commands)) {
    try {
      const cmd = await load();
      lines.push(`  ${name.padEnd(10)} ${cmd.summary}`);
    } catch {
      lines.push(`  ${name.padEnd(10)} (not available in this build)`);
    }
  }
  process.stdout.write(lines.join('\n') + '\n');
}

export async function main(argv: string[], extraCommands: CommandTable = {}): Promise<number> {
  // Roles run for days under load: keep V8 out of back-to-back full collections (heap-tuning.ts).
  tuneHeap();
  commands = { ...nodeCommands, ...extraCommands };
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    await printHelp();
    return name === undefined ? 2 : 0;
  }
  const load = commands[name];
  if (!load) {
    process.stderr.write(`cocoon: unknown command "${name}". Run "cocoon help" for the list.\n`);
    return 2;
  }
  try {
    const cmd = await load();
    if (rest.includes('--help') || rest.includes('-h')) {
      process.stdout.write(`${cmd.summary}\nusage: ${cmd.usage}\n`);
      return 0;
    }
    return await cmd.run(rest);
  } catch (err) {
    // Errors reach the person as one or two readable lines; stacks only with COCOON_DEBUG=1.
    if (err instanceof CocoonError) {
      process.stderr.write(`cocoon ${name}: ${err.message}\n${err.hint ? `  hint: ${err.hint}\n` : ''}`);
    } else {
      process.stderr.write(`cocoon ${name}: ${errorMessage(err)}\n`);
    }
    if (process.env.COCOON_DEBUG === '1') console.error(err);
    return err instanceof CocoonError && err.code === 'bad_flag' ? 2 : 1;
  }
}

// Entry of the development guest's worker bundle: the same `cocoon worker` command, bundled by
// build-worker.mjs into one file so the guest (often under TCG emulation) neither transpiles
// TypeScript nor reads thousands of files over 9p at start.
import { command } from '../../node-core/src/cli/commands/worker.ts';

process.exitCode = await command.run(process.argv.slice(2));

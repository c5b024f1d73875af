#!/usr/bin/env node
// The `cocoon` command of the product: node-core's CLI plus the desktop app's commands (`app`,
// `start`). This entry point is the composition root, the one place that knows both; node-core's
// own entry (node-core/bin/cocoon.mjs) runs the node commands alone. Sources are TypeScript, run
// through tsx's loader so the CLI works right after `npm install` with no build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../../../node-core/src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2), {
  app: async () => (await import('./app-command.ts')).command,
  start: async () => (await import('./start-command.ts')).command,
});

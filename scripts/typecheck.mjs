#!/usr/bin/env node
// Typechecks each runtime's TypeScript project (see tsconfig.base.json); exits non-zero if any fails.
import { spawnSync } from 'node:child_process';

const projects = ['tsconfig.json', 'app/renderer/tsconfig.json', 'tsconfig.e2e.json'];
let failed = 0;
for (const p of projects) {
  const r = spawnSync('npx', ['tsc', '--noEmit', '-p', p], { stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`typecheck failed: ${p}`);
    failed++;
  }
}
process.exit(failed ? 1 : 0);

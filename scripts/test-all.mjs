#!/usr/bin/env node
// `npm test`: strict typecheck, then every suite (unit, contract, integration, browser) in one
// vitest run. Prints, last, one line "tests: N passed, N failed" summing all suites.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, existsSync } from 'node:fs';

const extra = process.argv.slice(2);
const run = (cmd, args) => spawnSync(cmd, args, { stdio: 'inherit', env: process.env }).status ?? 1;

console.log('== typecheck (tsc --noEmit, one project per runtime)');
const tscStatus = run(process.execPath, ['scripts/typecheck.mjs']);
console.log('== layering (contracts ← node-core ← app; the renderer only through app/shared)');
const depsStatus = run(process.execPath, ['scripts/lint-deps.mjs']);

mkdirSync('.test-results', { recursive: true });
const jsonPath = '.test-results/vitest.json';
console.log('== tests (vitest: unit, contract, integration, browser)');
const vitestStatus = run('npx', [
  'vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${jsonPath}`, ...extra,
]);

let passed = 0;
let failed = 0;
if (existsSync(jsonPath)) {
  const report = JSON.parse(readFileSync(jsonPath, 'utf8'));
  passed = report.numPassedTests ?? 0;
  failed = report.numFailedTests ?? 0;
  // A file that fails to load counts as a failure even though it ran no test.
  for (const file of report.testResults ?? []) {
    if (file.status === 'failed' && (file.assertionResults ?? []).length === 0) failed += 1;
  }
}
if (tscStatus !== 0) {
  console.log('typecheck failed (counted as 1 failure)');
  failed += 1;
}
if (depsStatus !== 0) {
  console.log('layering check failed (counted as 1 failure)');
  failed += 1;
}
if (vitestStatus !== 0 && failed === 0) failed = 1; // the runner itself failed
console.log(`tests: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);

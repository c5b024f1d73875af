#!/usr/bin/env node
/**
 * `npm run lint:deps`: the repository's layering rules, checked on every import and re-export.
 *   contracts  ←  node-core  ←  app/main  →  app/shared  ←  app/renderer
 * plus: test helpers stay out of shipped code, and the page and preload take only types from the contract
 * (app/shared's small pure modules, such as charge-state.ts, may be imported as values).
 * Own code rather than dependency-cruiser: that tool parses TypeScript through the compiler's JS
 * API, which TypeScript 7 (the native compiler this project uses) no longer ships, so it silently
 * skipped every .ts/.tsx file. Import specifiers are plain enough to read directly.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, normalize, relative } from 'node:path';

const ROOTS = ['app', 'node-core', 'contracts'];
const SKIP = /(^|\/)(node_modules|dist|build|out|test-artifacts|bench-results)(\/|$)/;
const BUILTINS = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

/** Each rule: files it applies to, and what they must not import (a repo path or a package). */
const RULES = [
  { name: 'contracts are the lowest layer', from: /^contracts\//, forbid: (t) => /^(node-core|app)\//.test(t.path ?? '') },
  { name: 'node-core never imports the app (compose at app/main/cli/cocoon.mjs)', from: /^node-core\//, forbid: (t) => /^app\//.test(t.path ?? '') },
  { name: 'the renderer reaches the app only through app/shared', from: /^app\/renderer\/src\//, forbid: (t) => /^(node-core|contracts|app\/main|app\/preload)\//.test(t.path ?? '') },
  { name: 'the renderer runs in a browser: no Node built-ins', from: /^app\/renderer\/src\//, forbid: (t) => t.builtin },
  { name: 'the app API contract is a leaf', from: /^app\/shared\//, forbid: (t) => /^(app\/main|app\/renderer|app\/preload|contracts)\//.test(t.path ?? '') },
  { name: 'the app API contract names node-core types only (import type)', from: /^app\/shared\//, forbid: (t) => /^node-core\//.test(t.path ?? '') && !t.typeOnly },
  // A value import would pull zod (and the schemas) into the page's and the preload's bundles; names are spelled out there, typed by the contract.
  { name: 'the renderer and the preload take only types from the app API contract', from: /^app\/(renderer\/src|preload)\//, forbid: (t) => /^app\/shared\/api-contract\.ts$/.test(t.path ?? '') && !t.typeOnly },
  { name: 'test helpers (node-core/src/testing, app/testing) serve tests and benches only', from: /^(?!.*(\.test\.tsx?|\.bench\.ts)$)(?!.*\/(testing|bench)\/)/, forbid: (t) => /^(node-core\/src\/testing|app\/testing)\//.test(t.path ?? '') },
  { name: 'electron stays in the shell (app/main/electron, app/preload)', from: /^(?!app\/(main\/electron|preload)\/)/, forbid: (t) => t.spec === 'electron' && !t.typeOnly },
];

function* files(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (SKIP.test(p)) continue;
    if (statSync(p).isDirectory()) yield* files(p);
    else if (/\.(ts|tsx|mjs|js)$/.test(name) && !name.endsWith('.d.ts')) yield p;
  }
}

const IMPORT = /^\s*(import|export)\s+(type\s+)?(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/gm;
let violations = 0;
let checked = 0;
for (const root of ROOTS) {
  for (const file of files(root)) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(IMPORT)) {
      const spec = m[3] ?? m[4];
      const target = {
        spec,
        typeOnly: Boolean(m[2]),
        builtin: BUILTINS.has(spec),
        path: spec.startsWith('.') ? relative('.', normalize(join(dirname(file), spec))) : null,
      };
      checked++;
      for (const rule of RULES) {
        if (rule.from.test(file) && rule.forbid(target)) {
          // The pattern's leading \s* may swallow blank lines before the import: count from its first word.
          const line = text.slice(0, m.index + m[0].length - m[0].trimStart().length).split('\n').length;
          console.error(`${file}:${line}: imports ${spec} — ${rule.name}`);
          violations++;
        }
      }
    }
  }
}
if (violations) {
  console.error(`layering: ${violations} violation(s) in ${checked} imports`);
  process.exit(1);
}
console.log(`layering: ok (${checked} imports checked)`);

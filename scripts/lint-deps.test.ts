import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/** `npm run lint:deps` against this repository and against small trees that break each rule. */
const SCRIPT = fileURLToPath(new URL('./lint-deps.mjs', import.meta.url));
const REPO = dirname(dirname(SCRIPT));

function lint(cwd: string): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [SCRIPT], { cwd, encoding: 'utf8' });
  return { status: r.status, out: r.stdout + r.stderr };
}

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'lint-deps-'));
  for (const dir of ['app', 'node-core', 'contracts']) mkdirSync(join(root, dir), { recursive: true });
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

describe('lint-deps', () => {
  it('passes on this repository', () => {
    const r = lint(REPO);
    expect(r.out).toMatch(/^layering: ok/);
    expect(r.status).toBe(0);
  });

  it('names each broken rule with file and line', () => {
    const r = lint(tree({
      'contracts/a.ts': "import { x } from '../node-core/src/x.ts';\n",
      'node-core/src/b.ts': "\nimport { y } from '../../app/main/y.ts';\n",
      'node-core/src/c.ts': "import { seededRng } from './testing/fuzz.ts';\n",
      'node-core/src/c.test.ts': "import { seededRng } from './testing/fuzz.ts';\n",
      'app/renderer/src/d.ts': "import { readFileSync } from 'node:fs';\nimport { REQUEST_NAMES } from '../../shared/api-contract.ts';\nimport type { RequestName } from '../../shared/api-contract.ts';\n",
      'app/shared/e.ts': "import { CocoonError } from '../../node-core/src/errors.ts';\n",
      'app/main/f.ts': "import { app } from 'electron';\n",
    }));
    expect(r.status).toBe(1);
    expect(r.out).toContain('contracts/a.ts:1: imports ../node-core/src/x.ts — contracts are the lowest layer');
    expect(r.out).toContain('node-core/src/b.ts:2: imports ../../app/main/y.ts — node-core never imports the app');
    expect(r.out).toContain('node-core/src/c.ts:1: imports ./testing/fuzz.ts — test helpers');
    expect(r.out).not.toContain('c.test.ts');
    expect(r.out).toContain('app/renderer/src/d.ts:1: imports node:fs — the renderer runs in a browser');
    expect(r.out).toContain('app/renderer/src/d.ts:2: imports ../../shared/api-contract.ts — the renderer and the preload take only types');
    expect(r.out).not.toContain('d.ts:3');
    expect(r.out).toContain('app/shared/e.ts:1: imports ../../node-core/src/errors.ts — the app API contract names node-core types only');
    expect(r.out).toContain("app/main/f.ts:1: imports electron — electron stays in the shell");
    expect(r.out).toMatch(/layering: 7 violation\(s\)/);
  });
});

import { defineConfig } from 'vitest/config';

// One runner for every suite. Suites are told apart by folder and file name:
//   unit         *.test.ts beside the code (node-core, app/main, app/renderer logic)
//   contract     contracts/**/*.test.ts (real TVM through @ton/sandbox)
//   integration  *.int.test.ts (real loopback TLS, real processes)
//   browser      *.e2e.test.ts (Debian Chromium through playwright-core against web mode)
export default defineConfig({
  test: {
    include: ['{app,node-core,contracts,td-image,scripts}/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default'],
  },
});

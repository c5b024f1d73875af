#!/usr/bin/env node
// `npm run bench -- <name>`: runs one benchmark (or all with no name). Each prints a table and
// writes JSON to bench-results/<name>.json so figures quoted in notes can be rerun.
import { register } from 'tsx/esm/api';

register();
const benches = {
  relay: '../node-core/bench/relay.bench.ts',
  attest: '../node-core/bench/attest.bench.ts',
  app: '../app/bench/app.bench.ts',
  chain: '../node-core/bench/chain.bench.ts',
  fairness: '../node-core/bench/fairness.bench.ts',
  soak: '../node-core/bench/soak.bench.ts',
  scale: '../node-core/bench/scale.bench.ts',
  ledger: '../node-core/bench/ledger.bench.ts',
  'idle-gc': '../node-core/bench/idle-gc.bench.ts',
};
const [name, ...args] = process.argv.slice(2);
// The soak and idle-gc run for minutes: only when asked for by name.
const names = name ? [name] : Object.keys(benches).filter((n) => n !== 'soak' && n !== 'idle-gc');
for (const n of names) {
  const path = benches[n];
  if (!path) {
    console.error(`unknown benchmark "${n}"; known: ${Object.keys(benches).join(', ')}`);
    process.exit(2);
  }
  const mod = await import(new URL(path, import.meta.url).href);
  await mod.run(args);
}

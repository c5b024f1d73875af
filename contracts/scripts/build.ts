/**
 * Compiles every contract (filling the contracts/build/ cache) and prints its code hash:
 *   npx tsx contracts/scripts/build.ts [--json]
 */
import { CONTRACT_NAMES, compileContract } from '../compile.ts';

const json = process.argv.includes('--json');
const out: Record<string, { codeHash: string; bits: number; cells: number }> = {};
for (const name of CONTRACT_NAMES) {
  const c = await compileContract(name);
  const cells = new Set<string>();
  const walk = (cell: typeof c.code) => {
    const h = cell.hash().toString('hex');
    if (cells.has(h)) return;
    cells.add(h);
    cell.refs.forEach(walk);
  };
  walk(c.code);
  out[name] = { codeHash: c.codeHashHex.toLowerCase(), bits: c.code.bits.length, cells: cells.size };
}
if (json) process.stdout.write(JSON.stringify(out) + '\n');
else for (const [name, v] of Object.entries(out)) process.stdout.write(`${name.padEnd(7)} ${v.codeHash} (${v.cells} cells)\n`);

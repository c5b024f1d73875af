/**
 * Child process for the ledger crash test: records answers `from`, `from+1`, … into the ledger
 * file forever and prints "ack N" after each commit returns, the way a proxy acknowledges an
 * answer only after the ledger has it. The parent kills it with SIGKILL at a random instant.
 */
import { ProxyLedger } from '../proxy-ledger.ts';
import { TEST_PRICING, usageFor } from './ledger-usage.ts';

const [path, fromArg] = process.argv.slice(2);
const ledger = ProxyLedger.open(path!, { pricing: TEST_PRICING });
let n = Number(fromArg);
const write = (line: string) => process.stdout.write(line + '\n');
write('ready');
for (;;) {
  ledger.recordAnswer(usageFor(n));
  write(`ack ${n}`);
  n++;
  // Yield now and then so stdout drains and the kill can land anywhere in the loop.
  if (n % 16 === 0) await new Promise((r) => setImmediate(r));
}

import { compileContract } from '../compile.ts';
for (const n of process.argv.slice(2)) { try { const c = await compileContract(n as any); console.log(n, c.codeHashHex, c.code.bits.length); } catch (e) { console.log(n, (e as Error).message); } }

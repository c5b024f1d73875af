/**
 * Compiles the Tolk contracts with @ton/tolk-js (WebAssembly, no downloaded binaries).
 *
 * Why compile on demand instead of committing BOCs: the compiler is already a runtime dependency,
 * a committed artifact can silently go stale against its source, and the same compiler version
 * always yields the same code (so the same addresses). Results are cached in the gitignored
 * `contracts/build/` keyed by a hash of the sources and the compiler version, so only the first
 * run after a change pays for compilation (~1 s per contract).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync, existsSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Cell } from '@ton/core';
import { runTolkCompiler, getTolkCompilerVersion } from '@ton/tolk-js';
import { protocolTolk } from './wrappers/protocol.ts';

export const CONTRACT_NAMES = ['root', 'proxy', 'client', 'worker'] as const;
export type ContractName = (typeof CONTRACT_NAMES)[number];

const here = dirname(fileURLToPath(import.meta.url));
const srcDir = join(here, 'src');
const buildDir = join(here, 'build');

export interface CompiledContract {
  name: ContractName;
  code: Cell;
  codeHashHex: string;
}

const memo = new Map<ContractName, Promise<CompiledContract>>();

function readSource(path: string): string {
  if (path === 'protocol.tolk' || path.endsWith('/protocol.tolk')) return protocolTolk();
  return readFileSync(join(srcDir, path.replace(/^\.\//, '')), 'utf8');
}

async function compileUncached(name: ContractName): Promise<CompiledContract> {
  const version = await getTolkCompilerVersion();
  const sourceFiles = ['common.tolk', `${name}.tolk`];
  const key = createHash('sha256');
  key.update(version).update(protocolTolk());
  for (const f of sourceFiles) key.update(f).update(readSource(f));
  const digest = key.digest('hex').slice(0, 16);
  const cachePath = join(buildDir, `${name}.${digest}.boc`);
  if (existsSync(cachePath)) {
    const code = Cell.fromBoc(readFileSync(cachePath))[0]!;
    return { name, code, codeHashHex: code.hash().toString('hex') };
  }
  const result = await runTolkCompiler({
    entrypointFileName: `${name}.tolk`,
    fsReadCallback: readSource,
    optimizationLevel: 2,
  });
  if (result.status !== 'ok') {
    // contracts/ sits below node-core and does not know its error type: a plain Error with the code.
    throw Object.assign(new Error(`Tolk compilation of ${name}.tolk failed: ${result.message}; fix the contract source in contracts/src/`), { code: 'contract_compile_failed' });
  }
  const code = Cell.fromBoc(Buffer.from(result.codeBoc64, 'base64'))[0]!;
  mkdirSync(buildDir, { recursive: true });
  // Write-then-rename so a concurrent reader never sees a half-written cache file.
  const tmp = `${cachePath}.${process.pid}.tmp`;
  writeFileSync(tmp, code.toBoc());
  renameSync(tmp, cachePath);
  return { name, code, codeHashHex: result.codeHashHex };
}

/** Compiled code of one contract (memoised per process, cached on disk across processes). */
export function compileContract(name: ContractName): Promise<CompiledContract> {
  let p = memo.get(name);
  if (!p) {
    p = compileUncached(name);
    p.catch(() => memo.delete(name));
    memo.set(name, p);
  }
  return p;
}

export interface ContractCodes {
  root: Cell;
  proxy: Cell;
  client: Cell;
  worker: Cell;
}

export async function compileAll(): Promise<ContractCodes> {
  const [root, proxy, client, worker] = await Promise.all(CONTRACT_NAMES.map((n) => compileContract(n)));
  return { root: root!.code, proxy: proxy!.code, client: client!.code, worker: worker!.code };
}

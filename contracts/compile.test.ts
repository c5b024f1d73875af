import { describe, it, expect } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { CONTRACT_NAMES, compileContract } from './compile.ts';
import { ContractError, Op, protocolTolk } from './wrappers/protocol.ts';

describe('contract compilation', () => {
  it('compiles every contract and caches the result by source hash', async () => {
    for (const name of CONTRACT_NAMES) {
      const c = await compileContract(name);
      expect(c.code.hash().toString('hex')).toBe(c.codeHashHex.toLowerCase());
    }
    const cached = readdirSync(join(import.meta.dirname, 'build')).filter((f) => f.endsWith('.boc'));
    for (const name of CONTRACT_NAMES) expect(cached.some((f) => f.startsWith(`${name}.`))).toBe(true);
  });

  it('generates the Tolk protocol constants from the one TS module, without duplicates', () => {
    const tolk = protocolTolk();
    expect(tolk).toContain(`const OP_EXT_CLIENT_CHARGE_SIGNED = 0x${Op.extClientChargeSigned.toString(16)}`);
    expect(tolk).toContain(`const ERR_STALE_COUNTER = ${ContractError.staleCounter}`);
    const ops = Object.values(Op);
    expect(new Set(ops).size).toBe(ops.length);
    const errs = Object.values(ContractError);
    expect(new Set(errs).size).toBe(errs.length);
  });

  it('no Tolk source re-types an opcode or error code by hand', () => {
    for (const name of [...CONTRACT_NAMES, 'common']) {
      const src = readFileSync(join(import.meta.dirname, 'src', `${name}.tolk`), 'utf8');
      expect(src).not.toMatch(/throw\s+\d/);
      expect(src).not.toMatch(/==\s*0x[0-9a-f]{8}/i);
    }
  });
});

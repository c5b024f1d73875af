/**
 * The image hash the root contract allowlists, from the definition the reference node uses:
 * SHA-256 over MRTD, MRCONFIGID, MROWNER, MROWNERCONFIG, RTMR0, RTMR1, RTMR2, RTMR3 (48 bytes
 * each) and a zeroed 64-byte REPORTDATA, concatenated in that order. Platform and TDX-module
 * fields (TEE_TCB_SVN, MRSEAM, attributes) are not part of it: they are the TCB's business.
 *
 * Implemented here from that definition so that `image measure` does not depend on the quote
 * parser; node-core/src/attestation computes the same value from a quote, and the two must agree
 * (image-hash.test.ts checks this one against the definition written out byte by byte).
 */
import { createHash } from 'node:crypto';
import { CocoonError } from '../errors.ts';

export interface ImageRegisters {
  mrTd: Buffer;
  mrConfigId: Buffer;
  mrOwner: Buffer;
  mrOwnerConfig: Buffer;
  rtmr0: Buffer;
  rtmr1: Buffer;
  rtmr2: Buffer;
  rtmr3: Buffer;
}

const ORDER: Array<keyof ImageRegisters> = ['mrTd', 'mrConfigId', 'mrOwner', 'mrOwnerConfig', 'rtmr0', 'rtmr1', 'rtmr2', 'rtmr3'];

export function imageHash(r: ImageRegisters): Buffer {
  const h = createHash('sha256');
  for (const name of ORDER) {
    if (r[name].length !== 48) throw new CocoonError('bad_measurement', `${name} must be 48 bytes, got ${r[name].length}`);
    h.update(r[name]);
  }
  h.update(Buffer.alloc(64));
  return h.digest();
}

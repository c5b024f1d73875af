/**
 * TDX firmware (TDVF / OVMF built for TDX) metadata and the MRTD it produces.
 *
 * Facts used (TDVF design guide, QEMU `hw/i386/tdvf.c`, the TDX module's TDH.MEM.PAGE.ADD /
 * TDH.MR.EXTEND definitions):
 * - the firmware ends with OVMF's GUIDed table: the footer GUID sits 48..32 bytes before the end,
 *   preceded by the table's total length (u16); entries run backwards, each `data ‖ u16 length ‖
 *   GUID`, the length covering all three;
 * - the TDX metadata entry holds a u32: the distance from the end of the image to the TDVF
 *   descriptor (`"TDVF"`, length, version 1, section count, then 32-byte sections);
 * - the VMM adds every page of every section to the TD (unless the section is PAGE.AUG, added
 *   later by the guest) and, for sections with the MR.EXTEND attribute, extends MRTD with the
 *   page's contents in 256-byte chunks; MRTD is SHA-384 over the 128-byte operation records and
 *   the chunks, in that order.
 */
import { createHash } from 'node:crypto';
import { CocoonError } from '../errors.ts';

export const TDVF_SECTION_TYPES = ['BFV', 'CFV', 'TD_HOB', 'TEMP_MEM', 'PERM_MEM', 'PAYLOAD', 'PAYLOAD_PARAM', 'TD_INFO', 'TD_PARAMS'] as const;
export type TdvfSectionType = (typeof TDVF_SECTION_TYPES)[number];

export interface TdvfSection {
  dataOffset: number;
  rawDataSize: number;
  memoryAddress: bigint;
  memoryDataSize: bigint;
  type: TdvfSectionType;
  /** Bit 0: MR.EXTEND (contents measured into MRTD); bit 1: PAGE.AUG (not added at build time). */
  attributes: number;
}

/**
 * Order in which the VMM issues page adds and extends. KVM's TDX support in Linux ≥ 6.16 with
 * QEMU ≥ 9 adds one page and extends it before the next (`single-pass`); QEMU 8's out-of-tree TDX
 * patches added all pages of a section first (`two-pass`).
 */
export type PageAddOrder = 'single-pass' | 'two-pass';

const PAGE_SIZE = 0x1000;
const EXTEND_CHUNK = 0x100;
const ATTR_MR_EXTEND = 1;
const ATTR_PAGE_AUG = 2;
const TABLE_FOOTER_GUID = '96b582de-1fb2-45f7-baea-a366c55a082d';
const TDX_METADATA_OFFSET_GUID = 'e47a6535-984a-4798-865e-4685a7bf8ec2';

/** A GUID in EFI's on-disk byte order: the first three fields little-endian, the rest as written. */
export function guidBytes(guid: string): Buffer {
  const parts = guid.split('-');
  const le = (hex: string) => Buffer.from(hex, 'hex').reverse();
  return Buffer.concat([le(parts[0]!), le(parts[1]!), le(parts[2]!), Buffer.from(parts[3]! + parts[4]!, 'hex')]);
}

function bad(message: string): CocoonError {
  return new CocoonError('bad_firmware', message, {
    hint: 'pass the TDX build of OVMF (e.g. OVMF.inteltdx.fd / OVMF.fd from a TDX-enabled edk2 build), the same file QEMU gets with -bios',
  });
}

/** Finds the TDVF descriptor through OVMF's GUIDed table and returns its sections. */
export function parseTdvf(fw: Buffer): TdvfSection[] {
  if (fw.length < 64) throw bad(`firmware is ${fw.length} bytes, too small to be a TDX firmware image`);
  const footerEnd = fw.length - 32;
  if (!fw.subarray(footerEnd - 16, footerEnd).equals(guidBytes(TABLE_FOOTER_GUID))) {
    throw bad('no OVMF GUIDed table footer 32 bytes before the end of the firmware: not an OVMF/TDVF image');
  }
  const tableLength = fw.readUInt16LE(footerEnd - 18);
  const tableStart = footerEnd - tableLength;
  if (tableLength < 18 || tableStart < 0) throw bad(`OVMF GUIDed table length ${tableLength} is out of range`);
  let end = footerEnd - 18;
  let metadataOffset: number | undefined;
  while (end - 18 >= tableStart) {
    const entryLength = fw.readUInt16LE(end - 18);
    if (entryLength < 18 || end - entryLength < tableStart) throw bad(`OVMF GUIDed table entry length ${entryLength} is out of range`);
    if (fw.subarray(end - 16, end).equals(guidBytes(TDX_METADATA_OFFSET_GUID))) {
      if (entryLength < 22) throw bad('TDX metadata table entry has no offset');
      metadataOffset = fw.readUInt32LE(end - 22);
      break;
    }
    end -= entryLength;
  }
  if (metadataOffset === undefined) throw bad('the firmware has no TDX metadata entry: it is OVMF built without TDX support');
  const at = fw.length - metadataOffset;
  if (metadataOffset > fw.length || at + 16 > fw.length) throw bad(`TDX metadata offset ${metadataOffset} points outside the firmware`);
  if (fw.toString('latin1', at, at + 4) !== 'TDVF') throw bad('TDX metadata does not start with the "TDVF" signature');
  const version = fw.readUInt32LE(at + 8);
  if (version !== 1) throw bad(`TDVF metadata version ${version} is not supported (expected 1)`);
  const count = fw.readUInt32LE(at + 12);
  if (count === 0 || at + 16 + 32 * count > fw.length) throw bad(`TDVF metadata lists ${count} sections, which do not fit the firmware`);
  const sections: TdvfSection[] = [];
  for (let i = 0; i < count; i++) {
    const o = at + 16 + 32 * i;
    const typeIndex = fw.readUInt32LE(o + 24);
    const type = TDVF_SECTION_TYPES[typeIndex];
    if (!type) throw bad(`TDVF section ${i} has unknown type ${typeIndex}`);
    const s: TdvfSection = {
      dataOffset: fw.readUInt32LE(o),
      rawDataSize: fw.readUInt32LE(o + 4),
      memoryAddress: fw.readBigUInt64LE(o + 8),
      memoryDataSize: fw.readBigUInt64LE(o + 16),
      type,
      attributes: fw.readUInt32LE(o + 28),
    };
    if (s.memoryAddress % BigInt(PAGE_SIZE) !== 0n || s.memoryDataSize % BigInt(PAGE_SIZE) !== 0n) {
      throw bad(`TDVF section ${i} (${type}) is not page aligned`);
    }
    if (BigInt(s.rawDataSize) > s.memoryDataSize && type !== 'TD_INFO') throw bad(`TDVF section ${i} (${type}) has more raw data than memory`);
    if (s.dataOffset + s.rawDataSize > fw.length) throw bad(`TDVF section ${i} (${type}) lies outside the firmware`);
    sections.push(s);
  }
  return sections;
}

/** MRTD for a firmware image: SHA-384 over the page-add and extend records the VMM issues. */
export function computeMrtd(fw: Buffer, order: PageAddOrder = 'single-pass'): Buffer {
  const sections = parseTdvf(fw);
  const h = createHash('sha384');
  const record = (op: string, gpa: bigint) => {
    const r = Buffer.alloc(128);
    r.write(op, 0, 'latin1');
    r.writeBigUInt64LE(gpa, 16);
    h.update(r);
  };
  for (const s of sections) {
    const pages = Number(s.memoryDataSize / BigInt(PAGE_SIZE));
    // What QEMU copies into the section's memory: the raw bytes, then zeros up to its size.
    const contents = (s.attributes & ATTR_MR_EXTEND) !== 0 ? sectionMemory(fw, s) : undefined;
    const add = (page: number) => {
      if ((s.attributes & ATTR_PAGE_AUG) === 0) record('MEM.PAGE.ADD', s.memoryAddress + BigInt(page * PAGE_SIZE));
    };
    const extend = (page: number) => {
      if (!contents) return;
      for (let off = page * PAGE_SIZE; off < (page + 1) * PAGE_SIZE; off += EXTEND_CHUNK) {
        record('MR.EXTEND', s.memoryAddress + BigInt(off));
        h.update(contents.subarray(off, off + EXTEND_CHUNK));
      }
    };
    if (order === 'two-pass') {
      for (let p = 0; p < pages; p++) add(p);
      for (let p = 0; p < pages; p++) extend(p);
    } else {
      for (let p = 0; p < pages; p++) {
        add(p);
        extend(p);
      }
    }
  }
  return h.digest();
}

function sectionMemory(fw: Buffer, s: TdvfSection): Buffer {
  const mem = Buffer.alloc(Number(s.memoryDataSize));
  fw.copy(mem, 0, s.dataOffset, s.dataOffset + Math.min(s.rawDataSize, mem.length));
  return mem;
}

/** The configuration firmware volume (UEFI variables) as TDVF measures it into RTMR0. */
export function cfvDigest(fw: Buffer): Buffer | undefined {
  const cfv = parseTdvf(fw).find((s) => s.type === 'CFV');
  return cfv ? createHash('sha384').update(fw.subarray(cfv.dataOffset, cfv.dataOffset + cfv.rawDataSize)).digest() : undefined;
}

#!/usr/bin/env node
// Writes the synthetic measurement fixtures in this folder, deterministically (see README.md):
// a small TDVF-shaped firmware, a PE32+ "bzImage" with a Linux setup header, an initrd and a
// worker configuration. The expected values in vectors.json were produced from these files by
// independent implementations, not by our code.
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const here = import.meta.dirname;

/** Deterministic filler: SHA-256 in counter mode over a label. */
function filler(label, length) {
  const out = Buffer.alloc(length);
  for (let i = 0, off = 0; off < length; i++, off += 32) {
    createHash('sha256').update(`${label}:${i}`).digest().copy(out, off);
  }
  return out;
}

function guid(text) {
  const p = text.split('-');
  const le = (h) => Buffer.from(h, 'hex').reverse();
  return Buffer.concat([le(p[0]), le(p[1]), le(p[2]), Buffer.from(p[3] + p[4], 'hex')]);
}

function firmware() {
  const size = 0x40000;
  const fw = filler('firmware', size);
  // Sections: CFV (variables, measured into RTMR0 not MRTD), BFV (code, extended into MRTD),
  // TD HOB and temporary memory (added, not extended).
  const sections = [
    { dataOffset: 0, rawSize: 0x8000, gpa: 0xffc00000n, memSize: 0x8000n, type: 1, attributes: 0 },
    { dataOffset: 0x8000, rawSize: 0x38000, gpa: 0xffc08000n, memSize: 0x38000n, type: 0, attributes: 1 },
    { dataOffset: 0, rawSize: 0, gpa: 0x809000n, memSize: 0x2000n, type: 2, attributes: 0 },
    { dataOffset: 0, rawSize: 0, gpa: 0x80b000n, memSize: 0x10000n, type: 3, attributes: 0 },
  ];
  const descAt = 0x3f000;
  guid('e9eaf9f3-168e-44d5-a8eb-7f4d8738f6ae').copy(fw, descAt - 16);
  fw.write('TDVF', descAt, 'latin1');
  fw.writeUInt32LE(16 + 32 * sections.length, descAt + 4);
  fw.writeUInt32LE(1, descAt + 8);
  fw.writeUInt32LE(sections.length, descAt + 12);
  sections.forEach((s, i) => {
    const o = descAt + 16 + 32 * i;
    fw.writeUInt32LE(s.dataOffset, o);
    fw.writeUInt32LE(s.rawSize, o + 4);
    fw.writeBigUInt64LE(s.gpa, o + 8);
    fw.writeBigUInt64LE(s.memSize, o + 16);
    fw.writeUInt32LE(s.type, o + 24);
    fw.writeUInt32LE(s.attributes, o + 28);
  });
  // OVMF GUIDed table ending 32 bytes before the end: [TDX metadata entry][another entry][footer].
  const footerEnd = size - 32;
  fw.fill(0, footerEnd);
  const tdxEntry = Buffer.alloc(22);
  tdxEntry.writeUInt32LE(size - descAt, 0);
  tdxEntry.writeUInt16LE(22, 4);
  guid('e47a6535-984a-4798-865e-4685a7bf8ec2').copy(tdxEntry, 6);
  const otherEntry = Buffer.alloc(22);
  otherEntry.writeUInt32LE(0x12345678, 0);
  otherEntry.writeUInt16LE(22, 4);
  guid('00f771de-1a7e-4fcb-890e-68c77e2fb44e').copy(otherEntry, 6);
  const footer = Buffer.alloc(18);
  footer.writeUInt16LE(22 + 22 + 18, 0);
  guid('96b582de-1fb2-45f7-baea-a366c55a082d').copy(footer, 2);
  Buffer.concat([tdxEntry, otherEntry, footer]).copy(fw, footerEnd - 62);
  return fw;
}

function kernel() {
  const size = 0x9300;
  const k = filler('kernel', size);
  k.fill(0, 0, 0x1000);
  k.write('MZ', 0, 'latin1');
  k.writeUInt32LE(0x40, 0x3c);
  // PE32+ header at 0x40, like an x86 bzImage's.
  k.write('PE\0\0', 0x40, 'latin1');
  const coff = 0x44;
  k.writeUInt16LE(0x8664, coff);
  k.writeUInt16LE(3, coff + 2);
  k.writeUInt16LE(240, coff + 16);
  k.writeUInt16LE(0x0206, coff + 18);
  const opt = coff + 20;
  k.writeUInt16LE(0x20b, opt);
  k.writeUInt32LE(0x9200, opt + 4); // SizeOfCode
  k.writeUInt32LE(0x3200, opt + 16); // AddressOfEntryPoint
  k.writeUInt32LE(0x1000, opt + 32); // SectionAlignment
  k.writeUInt32LE(0x200, opt + 36); // FileAlignment
  k.writeUInt32LE(0xa000, opt + 56); // SizeOfImage
  k.writeUInt32LE(0x1000, opt + 60); // SizeOfHeaders
  k.writeUInt32LE(0x1234abcd, opt + 64); // CheckSum: excluded from the digest
  k.writeUInt16LE(10, opt + 68); // Subsystem: EFI application
  k.writeUInt32LE(16, opt + 108); // NumberOfRvaAndSizes
  // Section table, deliberately not in file order.
  const table = opt + 240;
  const sec = (i, name, raw, size) => {
    const o = table + 40 * i;
    k.write(name, o, 'latin1');
    k.writeUInt32LE(size, o + 8);
    k.writeUInt32LE(raw, o + 12);
    k.writeUInt32LE(size, o + 16);
    k.writeUInt32LE(raw, o + 20);
    k.writeUInt32LE(0x60000020, o + 36);
  };
  sec(0, '.text', 0x3200, 0x6000);
  sec(1, '.setup', 0x1000, 0x2000);
  sec(2, '.reloc', 0x3000, 0x200);
  // Linux setup header (boot protocol 2.15) after the section table, as in a real bzImage.
  k.writeUInt8(0x1e, 0x1f1);
  k.write('HdrS', 0x202, 'latin1');
  k.writeUInt16LE(0x020f, 0x206);
  k.writeUInt8(0x01, 0x211); // LOADED_HIGH
  k.writeUInt32LE(0x7fffffff, 0x22c); // initrd_addr_max
  k.writeUInt16LE(0x007f, 0x236); // xloadflags incl. CAN_BE_LOADED_ABOVE_4G
  // 0x100 bytes after the last section are data outside any section.
  return k;
}

const files = {
  'firmware.fd': firmware(),
  'kernel.efi': kernel(),
  'initrd.img': filler('initrd', 5000),
  'worker-config.json': Buffer.from(JSON.stringify({ model: 'Qwen/Qwen3-0.6B', engine: 'vllm', rootAddress: 'EQ_example', maxActiveRequests: 8 }, null, 2) + '\n'),
};
for (const [name, data] of Object.entries(files)) writeFileSync(join(here, name), data);
console.log(Object.keys(files).join(' '));

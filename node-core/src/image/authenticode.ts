/**
 * The PE/COFF Authenticode digest, as edk2 measures an EFI application before starting it (the
 * Linux kernel's EFI stub, for a direct kernel boot) and as code-signing tools sign it.
 *
 * The digest covers the headers without the CheckSum field and the certificate-table directory
 * entry, then each section's raw data in file order, then whatever follows the sections except
 * the certificate table itself (Microsoft PE/COFF specification, "Calculating the PE Image Hash").
 */
import { createHash } from 'node:crypto';
import { CocoonError } from '../errors.ts';

const SECURITY_DIRECTORY = 4;

function bad(message: string): CocoonError {
  return new CocoonError('bad_kernel', message, { hint: 'pass the kernel as a PE/COFF EFI image (an x86 bzImage built with CONFIG_EFI_STUB)' });
}

function read32(b: Buffer, at: number, what: string): number {
  if (at < 0 || at + 4 > b.length) throw bad(`PE image truncated: ${what} at offset ${at} is past its end`);
  return b.readUInt32LE(at);
}

function read16(b: Buffer, at: number, what: string): number {
  if (at < 0 || at + 2 > b.length) throw bad(`PE image truncated: ${what} at offset ${at} is past its end`);
  return b.readUInt16LE(at);
}

/** Authenticode digest of a PE/COFF image with `algorithm` (`sha384` for TDX RTMRs, `sha256` for most signatures). */
export function authenticodeDigest(image: Buffer, algorithm: 'sha256' | 'sha384' = 'sha384'): Buffer {
  if (image.length < 0x40 || image.toString('latin1', 0, 2) !== 'MZ') throw bad('no MZ header: not a PE/COFF image');
  const pe = read32(image, 0x3c, 'e_lfanew');
  if (read32(image, pe, 'PE signature') !== 0x00004550) throw bad('no "PE\\0\\0" signature where the DOS header points');
  const coff = pe + 4;
  const sectionCount = read16(image, coff + 2, 'NumberOfSections');
  const optionalSize = read16(image, coff + 16, 'SizeOfOptionalHeader');
  const opt = coff + 20;
  const magic = read16(image, opt, 'optional header magic');
  if (magic !== 0x10b && magic !== 0x20b) throw bad(`unknown optional header magic 0x${magic.toString(16)}`);
  const checksumAt = opt + 64;
  const sizeOfHeaders = read32(image, opt + 60, 'SizeOfHeaders');
  const directoryCount = read32(image, opt + (magic === 0x20b ? 108 : 92), 'NumberOfRvaAndSizes');
  const directories = opt + (magic === 0x20b ? 112 : 96);
  if (sizeOfHeaders > image.length) throw bad(`SizeOfHeaders ${sizeOfHeaders} is past the end of the image`);

  const h = createHash(algorithm);
  h.update(image.subarray(0, checksumAt));
  let certSize = 0;
  if (directoryCount > SECURITY_DIRECTORY) {
    const certEntry = directories + SECURITY_DIRECTORY * 8;
    if (certEntry + 8 > sizeOfHeaders) throw bad('certificate table directory entry lies outside the headers');
    h.update(image.subarray(checksumAt + 4, certEntry));
    h.update(image.subarray(certEntry + 8, sizeOfHeaders));
    certSize = read32(image, certEntry + 4, 'certificate table size');
  } else {
    h.update(image.subarray(checksumAt + 4, sizeOfHeaders));
  }

  const table = opt + optionalSize;
  const sections: Array<{ offset: number; size: number }> = [];
  for (let i = 0; i < sectionCount; i++) {
    const size = read32(image, table + 40 * i + 16, 'SizeOfRawData');
    const offset = read32(image, table + 40 * i + 20, 'PointerToRawData');
    if (size === 0) continue;
    if (offset + size > image.length) throw bad(`section ${i} raw data (${offset}+${size}) is past the end of the image`);
    sections.push({ offset, size });
  }
  sections.sort((a, b) => a.offset - b.offset);
  let hashed = sizeOfHeaders;
  for (const s of sections) {
    h.update(image.subarray(s.offset, s.offset + s.size));
    hashed += s.size;
  }
  if (image.length > hashed + certSize) h.update(image.subarray(hashed, image.length - certSize));
  return h.digest();
}

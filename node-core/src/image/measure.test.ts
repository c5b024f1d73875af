/**
 * Measurements against vectors produced by independent implementations (testdata/measure/README.md
 * says which and how), plus the properties the vectors cannot show.
 */
import { describe, it, expect } from 'vitest';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { authenticodeDigest } from './authenticode.ts';
import { imageHash } from './image-hash.ts';
import { below4gMemory, qemuPatchedKernel, rtmr1Events, rtmr2Events } from './linux-boot.ts';
import { measureImage, parseMemorySize } from './measure.ts';
import { replay, rtmr3Events } from './rtmr.ts';
import { computeMrtd, parseTdvf } from './tdvf.ts';

const dir = join(import.meta.dirname, '..', '..', '..', 'testdata', 'measure');
const read = (name: string) => readFileSync(join(dir, name));
const vectors = JSON.parse(read('vectors.json').toString()) as {
  authenticode: { file: string; sha384: string; unsignedFile: string };
  mrtd: { file: string; twoPass: string };
  rtmr1KernelEvent: { kernel: string; initrd: string; cmdline: string; byMemoryBytes: Record<string, string> };
};
const sha384 = (b: Buffer | string) => createHash('sha384').update(b).digest();

describe('Authenticode digest', () => {
  it('matches osslsigncode on a signed PE (certificate table skipped)', () => {
    expect(authenticodeDigest(read(vectors.authenticode.file), 'sha384').toString('hex')).toBe(vectors.authenticode.sha384);
  });
  it('is the same for the unsigned image: checksum and certificate entry are excluded', () => {
    expect(authenticodeDigest(read(vectors.authenticode.unsignedFile), 'sha384').toString('hex')).toBe(vectors.authenticode.sha384);
  });
  it('changes when a section byte changes', () => {
    const k = Buffer.from(read('kernel.efi'));
    k[0x5000] = k[0x5000]! ^ 1;
    expect(authenticodeDigest(k, 'sha384').toString('hex')).not.toBe(vectors.authenticode.sha384);
  });
  it('refuses a file that is not PE', () => {
    expect(() => authenticodeDigest(Buffer.alloc(4096))).toThrow(/MZ/);
  });
});

describe('MRTD from TDVF metadata', () => {
  const fw = read(vectors.mrtd.file);
  it('finds the four sections through the GUIDed table', () => {
    expect(parseTdvf(fw).map((s) => s.type)).toEqual(['CFV', 'BFV', 'TD_HOB', 'TEMP_MEM']);
  });
  it('matches the independent two-pass computation', () => {
    expect(computeMrtd(fw, 'two-pass').toString('hex')).toBe(vectors.mrtd.twoPass);
  });
  it('single-pass (current KVM/QEMU) hashes the same records interleaved per page', () => {
    // Built by hand from the records' definition: for each page, MEM.PAGE.ADD then 16 MR.EXTENDs.
    const h = createHash('sha384');
    const rec = (op: string, gpa: bigint) => {
      const r = Buffer.alloc(128);
      r.write(op);
      r.writeBigUInt64LE(gpa, 16);
      h.update(r);
    };
    for (const s of parseTdvf(fw)) {
      for (let p = 0n; p < s.memoryDataSize / 4096n; p++) {
        rec('MEM.PAGE.ADD', s.memoryAddress + p * 4096n);
        if (s.attributes & 1) {
          for (let c = 0n; c < 16n; c++) {
            rec('MR.EXTEND', s.memoryAddress + p * 4096n + c * 256n);
            const at = s.dataOffset + Number(p * 4096n + c * 256n);
            h.update(fw.subarray(at, at + 256));
          }
        }
      }
    }
    const single = computeMrtd(fw, 'single-pass');
    expect(single.toString('hex')).toBe(h.digest('hex'));
    expect(single.toString('hex')).not.toBe(vectors.mrtd.twoPass);
  });
  it('changes with one byte of measured code, not with the unmeasured variable store', () => {
    const code = Buffer.from(fw);
    code[0x9000] = code[0x9000]! ^ 1;
    expect(computeMrtd(code, 'two-pass').toString('hex')).not.toBe(vectors.mrtd.twoPass);
    const vars = Buffer.from(fw);
    vars[0x100] = vars[0x100]! ^ 1;
    expect(computeMrtd(vars, 'two-pass').toString('hex')).toBe(vectors.mrtd.twoPass);
  });
  it('refuses firmware without TDX metadata, saying so', () => {
    expect(() => computeMrtd(Buffer.alloc(0x10000))).toThrow(/not an OVMF\/TDVF image/);
    const noTdx = Buffer.from(fw);
    noTdx.fill(0, fw.length - 32 - 62, fw.length - 32 - 40); // wipe the TDX entry's GUID
    expect(() => computeMrtd(noTdx)).toThrow(/GUIDed table entry length|no TDX metadata/);
  });
});

describe('direct kernel boot: RTMR1 and RTMR2', () => {
  const v = vectors.rtmr1KernelEvent;
  const kernel = read(v.kernel);
  const initrd = read(v.initrd);
  for (const [memory, expected] of Object.entries(v.byMemoryBytes)) {
    it(`kernel event matches the independent QEMU-patch model at ${Number(memory) / 2 ** 30} GiB`, () => {
      expect(rtmr1Events(kernel, initrd.length, v.cmdline, BigInt(memory))[0]!.digest).toBe(expected);
    });
  }
  it('puts the initrd where QEMU does: below low memory minus the ACPI area, page aligned', () => {
    const patched = qemuPatchedKernel(kernel, initrd.length, v.cmdline, 1n << 30n);
    expect(patched.readUInt32LE(0x218)).toBe((2 ** 30 - 0x28000 - 1 - initrd.length) & ~4095);
    expect(patched.readUInt32LE(0x21c)).toBe(initrd.length);
    expect(patched[0x210]).toBe(0xb0);
    expect(below4gMemory(64n << 30n)).toBe(2 ** 31);
    expect(below4gMemory(0xa0000000n)).toBe(0xa0000000);
  });
  it('RTMR2 measures the command line as UTF-16 with OVMF\'s initrd option, then the initrd', () => {
    const events = rtmr2Events(v.cmdline, initrd);
    expect(events[0]!.digest).toBe(sha384(Buffer.from(`${v.cmdline} initrd=initrd\0`, 'utf16le')).toString('hex'));
    expect(events[1]!.digest).toBe(sha384(initrd).toString('hex'));
    expect(rtmr2Events(v.cmdline, Buffer.alloc(0))).toHaveLength(1);
  });
});

describe('RTMR replay and RTMR3', () => {
  it('extends from zero: RTMR = SHA-384(RTMR ‖ digest)', () => {
    const d = sha384('x');
    expect(replay([{ description: 'x', digest: d.toString('hex') }]).toString('hex')).toBe(sha384(Buffer.concat([Buffer.alloc(48), d])).toString('hex'));
  });
  it('RTMR3 names the configuration hash and the end of init', () => {
    const config = read('worker-config.json');
    const events = rtmr3Events(config);
    const hash = createHash('sha256').update(config).digest('hex');
    expect(events.map((e) => e.description)).toEqual([`cocoon:worker-config.sha256=${hash}`, 'cocoon:tdx_inited']);
    expect(events[0]!.digest).toBe(sha384(`cocoon:worker-config.sha256=${hash}`).toString('hex'));
  });
});

describe('image hash', () => {
  it('is SHA-256 over MRTD, MRCONFIGID, MROWNER, MROWNERCONFIG, RTMR0-3 and 64 zero bytes', () => {
    const reg = (n: number) => Buffer.alloc(48, n);
    const expected = createHash('sha256')
      .update(Buffer.concat([reg(1), reg(2), reg(3), reg(4), reg(5), reg(6), reg(7), reg(8), Buffer.alloc(64)]))
      .digest('hex');
    const got = imageHash({ mrTd: reg(1), mrConfigId: reg(2), mrOwner: reg(3), mrOwnerConfig: reg(4), rtmr0: reg(5), rtmr1: reg(6), rtmr2: reg(7), rtmr3: reg(8) });
    expect(got.toString('hex')).toBe(expected);
  });
});

describe('measureImage', () => {
  const base = { firmware: read('firmware.fd'), kernel: read('kernel.efi'), initrd: read('initrd.img'), cmdline: 'console=hvc0', memoryBytes: 64n << 30n, cpus: 8 };
  it('reports RTMR0 as needing a live TD and gives no image hash without it', () => {
    const m = measureImage({ ...base, workerConfig: read('worker-config.json') });
    expect(m.registers.rtmr0).toMatchObject({ value: null, source: 'requires-live-td' });
    expect(m.missing).toEqual(['rtmr0']);
    expect(m.imageHash).toBeNull();
    expect(m.computed).toEqual(['mrtd', 'rtmr1', 'rtmr2', 'rtmr3']);
  });
  it('gives the image hash when RTMR0 is supplied, and it moves with the configuration', () => {
    const rtmr0 = Buffer.alloc(48, 0xab);
    const a = measureImage({ ...base, rtmr0, workerConfig: read('worker-config.json') });
    const b = measureImage({ ...base, rtmr0, workerConfig: Buffer.from('{}') });
    expect(a.imageHash).toMatch(/^[0-9a-f]{64}$/);
    expect(a.imageHash).not.toBe(b.imageHash);
    expect(a.supplied).toEqual(['rtmr0']);
  });
  it('parses QEMU memory sizes', () => {
    expect(parseMemorySize('64G')).toBe(64n << 30n);
    expect(parseMemorySize('2048M')).toBe(2n << 30n);
    expect(() => parseMemorySize('lots')).toThrow(/--memory/);
  });
});

/**
 * RTMR0 and event-log replay against a real TD: testdata/measure/tdx-boot holds a genuine TDX
 * quote and the event log of the same boot (provenance in its README). The log's replay must give
 * the quote's RTMRs, and every RTMR0 event we compute must equal the one the firmware logged.
 */
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseTdxQuote } from '../attestation/tdx-quote.ts';
import { acpiDigestsFromLog, compareWithReport, parseCcelLog, parseEventLog, replayLog, type LogEvent } from './eventlog.ts';
import { measureImage } from './measure.ts';
import { replay, sha384 } from './rtmr.ts';
import { fvAppLoadOption, rtmr0Events, tdHob, uefiVariableData } from './rtmr0.ts';
import { computeMrtd, parseTdvf } from './tdvf.ts';

const dir = join(import.meta.dirname, '..', '..', '..', 'testdata', 'measure');
const read = (name: string) => readFileSync(join(dir, name));
const log = parseEventLog(read('tdx-boot/event-log.json'));
const quote = parseTdxQuote(read('tdx-boot/quote.dat')).measurements;
const vectors = JSON.parse(read('vectors.json').toString()) as { mrtd: { singlePass: string } };

/** The same events in the binary CCEL encoding (TCG crypto-agile log), written from the spec. */
function toCcel(events: LogEvent[], extraSha256 = true): Buffer {
  const spec = Buffer.alloc(24 + 4 + 8 + 1);
  spec.write('Spec ID Event03\0', 0, 'latin1');
  spec.writeUInt32LE(0, 16); // platform class
  spec[20] = 0; spec[21] = 2; spec[22] = 0; spec[23] = 2; // spec version 2.0, uintn size 2 (8 bytes)
  spec.writeUInt32LE(2, 24);
  const algs = Buffer.alloc(8);
  algs.writeUInt16LE(0x000b, 0); algs.writeUInt16LE(32, 2); algs.writeUInt16LE(0x000c, 4); algs.writeUInt16LE(48, 6);
  const specEvent = Buffer.concat([spec.subarray(0, 28), algs, Buffer.from([0])]);
  const header = Buffer.alloc(32);
  header.writeUInt32LE(0, 0); header.writeUInt32LE(3, 4); header.writeUInt32LE(specEvent.length, 28);
  const parts = [header, specEvent];
  for (const e of events) {
    const h = Buffer.alloc(12);
    h.writeUInt32LE(e.rtmr + 1, 0); h.writeUInt32LE(e.type, 4); h.writeUInt32LE(extraSha256 ? 2 : 1, 8);
    parts.push(h);
    if (extraSha256) parts.push(Buffer.from([0x0b, 0x00]), Buffer.alloc(32, 0xee));
    parts.push(Buffer.from([0x0c, 0x00]), Buffer.from(e.digest, 'hex'));
    const data = Buffer.from(e.data, 'hex');
    const size = Buffer.alloc(4);
    size.writeUInt32LE(data.length);
    parts.push(size, data);
  }
  parts.push(Buffer.alloc(64, 0xff)); // unused log area
  return Buffer.concat(parts);
}

describe('event log replay against a real TD quote', () => {
  it('the JSON log replays to the quote\'s RTMR0..3', () => {
    expect(compareWithReport(log, quote).map((c) => c.match)).toEqual([true, true, true, true]);
    expect(replayLog(log)[0]).toBe(quote.rtmr0);
  });
  it('the binary CCEL encoding of the same log replays the same, skipping the SHA-256 bank', () => {
    const binary = parseCcelLog(toCcel(log));
    expect(binary).toEqual(log);
    expect(parseEventLog(toCcel(log))).toEqual(log);
  });
  it('a changed digest is a mismatch on that register only', () => {
    const tampered = log.map((e, i) => (i === 3 ? { ...e, digest: 'ab'.repeat(48) } : e));
    expect(compareWithReport(tampered, quote).map((c) => c.match)).toEqual([false, true, true, true]);
  });
  it('refuses truncated and non-TCG logs with a clear reason', () => {
    const bin = toCcel(log);
    expect(() => parseCcelLog(bin.subarray(0, 200))).toThrow(/truncated/);
    expect(() => parseCcelLog(Buffer.alloc(64))).toThrow(/Spec ID/);
    expect(() => parseEventLog(Buffer.from('[{"imr":7,"digest":"00"}]'))).toThrow(/imr/);
  });
});

describe('RTMR0 computed the way TDVF measures it', () => {
  const logged = log.filter((e) => e.rtmr === 0);
  const fw = read('firmware.fd');
  const acpi = { digests: acpiDigestsFromLog(log) };

  it('the Secure Boot variable events equal the firmware\'s logged data and digests', () => {
    const vars: Array<[string, string]> = [
      ['8be4df61-93ca-11d2-aa0d-00e098032b8c', 'SecureBoot'], ['8be4df61-93ca-11d2-aa0d-00e098032b8c', 'PK'],
      ['8be4df61-93ca-11d2-aa0d-00e098032b8c', 'KEK'], ['d719b2cb-3d3a-4596-a3bc-dad00e67656f', 'db'], ['d719b2cb-3d3a-4596-a3bc-dad00e67656f', 'dbx'],
    ];
    vars.forEach(([guid, name], i) => {
      const data = uefiVariableData(guid, name);
      expect(data.toString('hex')).toBe(logged[2 + i]!.data);
      expect(sha384(data).toString('hex')).toBe(logged[2 + i]!.digest);
    });
  });
  it('Boot0000 is OVMF\'s UiApp load option, as logged', () => {
    const option = fvAppLoadOption(0x109, 'UiApp', '7cb8bdc9-f8eb-4f34-aaea-3ee4af6516a1', '462caa21-7614-4503-836e-8ab6f4662331');
    expect(logged[12]!.data.endsWith(option.toString('hex'))).toBe(true);
    expect(sha384(option).toString('hex')).toBe(logged[12]!.digest);
  });
  it('every event but the firmware-specific TD HOB and CFV equals the log, and with those two the quote\'s RTMR0 follows', () => {
    const ours = rtmr0Events({ firmware: fw, memoryBytes: 2n << 30n, acpi });
    expect(ours).toHaveLength(logged.length);
    expect(ours.slice(2).map((e) => e.digest)).toEqual(logged.slice(2).map((e) => e.digest));
    expect(ours.filter((e) => e.source === 'supplied')).toHaveLength(3);
    // That TD ran another OVMF build (its CFV and TD HOB section layout are not ours to ship).
    const withTheirFirmware = [logged[0]!, logged[1]!, ...ours.slice(2)].map((e) => ({ description: '', digest: e.digest }));
    expect(replay(withTheirFirmware).toString('hex')).toBe(quote.rtmr0);
  });
  it('ACPI blobs given as files are measured as their SHA-384, in loader, RSDP, tables order', () => {
    const blobs = { loader: Buffer.alloc(4096, 1), rsdp: Buffer.alloc(20, 2), tables: Buffer.alloc(9000, 3) };
    const events = rtmr0Events({ firmware: fw, memoryBytes: 2n << 30n, acpi: blobs });
    expect(events.slice(8, 11).map((e) => e.digest)).toEqual([blobs.loader, blobs.rsdp, blobs.tables].map((b) => sha384(b).toString('hex')));
    expect(() => rtmr0Events({ firmware: fw, memoryBytes: 2n << 30n, acpi: { digests: ['00'] } })).toThrow(/three SHA-384/);
  });
  it('SecureBoot "disabled" measures one zero byte of data', () => {
    const events = rtmr0Events({ firmware: fw, memoryBytes: 2n << 30n, acpi, secureBoot: 'disabled' });
    expect(events[2]!.digest).toBe(sha384(uefiVariableData('8be4df61-93ca-11d2-aa0d-00e098032b8c', 'SecureBoot', Buffer.from([0]))).toString('hex'));
  });
});

describe('TD HOB', () => {
  const fw = read('firmware.fd');
  const parse = (hob: Buffer) => {
    const ranges = [];
    for (let at = 56; at < hob.length; at += 48) {
      ranges.push({ type: hob.readUInt32LE(at + 24), start: hob.readBigUInt64LE(at + 32), length: hob.readBigUInt64LE(at + 40) });
    }
    return ranges;
  };
  it('covers all memory, low RAM then RAM above 4 GiB, with the firmware\'s TD_HOB and TEMP_MEM accepted', () => {
    const hob = tdHob(fw, 64n << 30n);
    expect(hob.readUInt16LE(0)).toBe(1);
    expect(hob.readUInt32LE(8)).toBe(9);
    const hobBase = parseTdvf(fw).find((s) => s.type === 'TD_HOB')!.memoryAddress;
    expect(hob.readBigUInt64LE(48)).toBe(hobBase + BigInt(hob.length) + 8n);
    const ranges = parse(hob);
    expect(ranges.reduce((n, r) => n + r.length, 0n)).toBe(64n << 30n);
    expect(ranges.filter((r) => r.type === 0).map((r) => [r.start, r.length])).toEqual([[0x809000n, 0x2000n], [0x80b000n, 0x10000n]]);
    expect(ranges.at(-1)).toEqual({ type: 7, start: 1n << 32n, length: 62n << 30n });
  });
  it('small guests have no RAM above 4 GiB, and the digest moves with memory size', () => {
    const ranges = parse(tdHob(fw, 1n << 30n));
    expect(ranges.at(-1)!.start + ranges.at(-1)!.length).toBe(1n << 30n);
    expect(sha384(tdHob(fw, 1n << 30n))).not.toEqual(sha384(tdHob(fw, 2n << 30n)));
  });
});

describe('measureImage with RTMR0 computed', () => {
  const base = { firmware: read('firmware.fd'), kernel: read('kernel.efi'), initrd: read('initrd.img'), cmdline: 'console=hvc0', memoryBytes: 64n << 30n, cpus: 8, workerConfig: read('worker-config.json') };
  it('computes every register and the image hash, with the ACPI part marked as supplied', () => {
    const m = measureImage({ ...base, acpi: { digests: acpiDigestsFromLog(log) } });
    expect(m.missing).toEqual([]);
    expect(m.computed).toEqual(['mrtd', 'rtmr0', 'rtmr1', 'rtmr2', 'rtmr3']);
    expect(m.imageHash).toMatch(/^[0-9a-f]{64}$/);
    expect(m.registers.rtmr0.dependsOn.join(' ')).toMatch(/ACPI digests from a same-machine TD event log \(supplied\)/);
    expect(m.registers.rtmr0.value).toBe(replay(m.events.rtmr0).toString('hex'));
  });
  it('refuses --rtmr0 together with the inputs to compute it', () => {
    expect(() => measureImage({ ...base, rtmr0: Buffer.alloc(48), acpi: { digests: acpiDigestsFromLog(log) } })).toThrow(/not both/);
  });
});

describe('MRTD single-pass', () => {
  it('matches the independent transcript (Python records + coreutils sha384sum)', () => {
    expect(computeMrtd(read('firmware.fd'), 'single-pass').toString('hex')).toBe(vectors.mrtd.singlePass);
  });
});

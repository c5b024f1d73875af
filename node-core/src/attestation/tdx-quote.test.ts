import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseTdxQuote, verifyTdxQuote } from './tdx-quote.ts';

const dir = new URL('../../../testdata/tdx/', import.meta.url);
const expected = JSON.parse(readFileSync(new URL('expected.json', dir), 'utf8')) as Record<string, Record<string, string | number>>;
const load = (name: string) => readFileSync(new URL(name, dir));
const verifyBytes = (bytes: Buffer) => verifyTdxQuote(parseTdxQuote(bytes));

describe.each(['quote-a.dat', 'quote-b.dat'])('real TDX quote %s', (name) => {
  const quote = load(name);
  const want = expected[name]!;

  it('verifies offline to the pinned Intel root and matches expected.json', () => {
    const q = parseTdxQuote(quote);
    expect(() => verifyTdxQuote(q)).not.toThrow();
    expect(q.version).toBe(want.version);
    expect(`0x${q.teeType.toString(16)}`).toBe(want.teeType);
    expect(q.measurements.mrTd).toBe(want.mrtd);
    for (const r of ['rtmr0', 'rtmr1', 'rtmr2', 'rtmr3'] as const) expect(q.measurements[r]).toBe(want[r]);
    expect(q.measurements.reportData).toBe(want.reportData);
    expect(q.imageHash).toBe(want.imageHash);
  });

  // One flip in every signed or signing region: header, body, signature, attestation key,
  // QE report, its signature, QE auth data, and each certificate of the PCK chain.
  const q = parseTdxQuote(quote);
  const offsetOf = (sub: Buffer) => sub.byteOffset - quote.byteOffset;
  const chainStart = quote.indexOf('-----BEGIN CERTIFICATE-----');
  const certStarts = [...quote.toString('latin1').matchAll(/-----BEGIN CERTIFICATE-----\n?/g)].map((m) => m.index! + m[0].length + 100);
  const regions: Record<string, number[]> = {
    header: [0, 8, 30, 47],
    body: [48, 48 + 136, 48 + 330, 48 + 583],
    signature: [offsetOf(q.signature), offsetOf(q.signature) + 63],
    attestationKey: [offsetOf(q.attestationKey), offsetOf(q.attestationKey) + 40],
    qeReport: [offsetOf(q.qeReport), offsetOf(q.qeReport) + 200, offsetOf(q.qeReport) + 330],
    qeReportSignature: [offsetOf(q.qeReportSignature) + 5],
    qeAuthData: [offsetOf(q.qeAuthData) + 1],
    certificates: certStarts,
  };
  expect(chainStart).toBeGreaterThan(0);
  for (const [region, offsets] of Object.entries(regions)) {
    it(`fails when one byte of the ${region} changes`, () => {
      for (const off of offsets) {
        const bad = Buffer.from(quote);
        bad[off] = bad[off]! ^ (region === 'certificates' ? 0x01 : 0x80);
        expect(() => verifyBytes(bad), `offset ${off}`).toThrow();
      }
    });
  }

  it('fails cleanly on every truncation', () => {
    for (let len = 0; len < 5000; len += 37) {
      expect(() => verifyBytes(quote.subarray(0, Math.min(len, 4900)))).toThrow();
    }
  });
});

import { createHash } from 'node:crypto';
import type { TdMeasurements } from './report.ts';

/**
 * TDX TD report body (TDREPORT's TEE TCB info + TD info as carried in a DCAP v4 quote body), 584 bytes:
 *
 *   offset size field             offset size field
 *        0   16 TEE_TCB_SVN          184   48 MRCONFIGID
 *       16   48 MRSEAM               232   48 MROWNER
 *       64   48 MRSIGNERSEAM         280   48 MROWNERCONFIG
 *      112    8 SEAMATTRIBUTES       328   48 RTMR0
 *      120    8 TDATTRIBUTES         376   48 RTMR1
 *      128    8 XFAM                 424   48 RTMR2
 *      136   48 MRTD                 472   48 RTMR3
 *                                    520   64 REPORTDATA
 *
 * Image hash, as the reference node software defines it (and as the root contract's allowlists
 * hold it): SHA-256 over MRTD ‖ MRCONFIGID ‖ MROWNER ‖ MROWNERCONFIG ‖ RTMR0 ‖ RTMR1 ‖ RTMR2 ‖ RTMR3
 * ‖ 64 zero bytes (REPORTDATA zeroed) — 448 bytes. The TDX module and platform fields (TEE_TCB_SVN,
 * MRSEAM, …) are left out so a TDX module update does not change an image's hash.
 */
export const TD_REPORT_BODY_SIZE = 584;
export const REPORT_DATA_OFFSET = 520;

const field = (body: Buffer, offset: number, size: number) => body.subarray(offset, offset + size).toString('hex');

export function parseTdReportBody(body: Buffer): TdMeasurements {
  if (body.length !== TD_REPORT_BODY_SIZE) throw new Error(`TD report body must be ${TD_REPORT_BODY_SIZE} bytes, got ${body.length}`);
  return {
    teeTcbSvn: field(body, 0, 16),
    mrSeam: field(body, 16, 48),
    mrSignerSeam: field(body, 64, 48),
    seamAttributes: field(body, 112, 8),
    tdAttributes: field(body, 120, 8),
    xfam: field(body, 128, 8),
    mrTd: field(body, 136, 48),
    mrConfigId: field(body, 184, 48),
    mrOwner: field(body, 232, 48),
    mrOwnerConfig: field(body, 280, 48),
    rtmr0: field(body, 328, 48),
    rtmr1: field(body, 376, 48),
    rtmr2: field(body, 424, 48),
    rtmr3: field(body, 472, 48),
    reportData: field(body, 520, 64),
  };
}

const IMAGE_FIELDS = ['mrTd', 'mrConfigId', 'mrOwner', 'mrOwnerConfig', 'rtmr0', 'rtmr1', 'rtmr2', 'rtmr3'] as const;

/** The reference's image hash of a set of measurements (absent ones count as zero). */
export function imageHashOfMeasurements(m: Partial<TdMeasurements>): string {
  const h = createHash('sha256');
  for (const f of IMAGE_FIELDS) {
    const v = m[f] === undefined ? Buffer.alloc(48) : Buffer.from(m[f]!, 'hex');
    if (v.length !== 48) throw new Error(`${f} must be 48 bytes`);
    h.update(v);
  }
  return h.update(Buffer.alloc(64)).digest('hex');
}

export function imageHashOf(body: Buffer): string {
  return imageHashOfMeasurements(parseTdReportBody(body));
}

/**
 * Why a TD must not be trusted with secrets, or undefined: a debug TD (TDATTRIBUTES.DEBUG, bit 0)
 * lets the host read its memory; SEAMATTRIBUTES must be zero for a production TDX module, whose
 * signer (MRSIGNERSEAM) is then Intel's and reported as zero.
 */
export function debugRefusal(m: TdMeasurements): string | undefined {
  const tdAttributes = Buffer.from(m.tdAttributes, 'hex');
  if (tdAttributes[0]! & 0x01) return 'debug TD refused: TDATTRIBUTES.DEBUG is set, so the host can read the TD\'s memory';
  if (/[^0]/.test(m.seamAttributes)) return `debug TDX module refused: SEAMATTRIBUTES is ${m.seamAttributes}, not zero`;
  if (/[^0]/.test(m.mrSignerSeam)) return 'TDX module not signed by Intel: MRSIGNERSEAM is not zero';
  return undefined;
}

/** Builds a body from measurements (tests and tools); unspecified fields are zero. */
export function buildTdReportBody(m: Partial<TdMeasurements>, reportData: Buffer): Buffer {
  const body = Buffer.alloc(TD_REPORT_BODY_SIZE);
  const put = (hex: string | undefined, offset: number, size: number) => {
    if (hex === undefined) return;
    const b = Buffer.from(hex, 'hex');
    if (b.length !== size) throw new Error(`measurement at offset ${offset} must be ${size} bytes`);
    b.copy(body, offset);
  };
  put(m.teeTcbSvn, 0, 16); put(m.mrSeam, 16, 48); put(m.mrSignerSeam, 64, 48); put(m.seamAttributes, 112, 8);
  put(m.tdAttributes, 120, 8); put(m.xfam, 128, 8); put(m.mrTd, 136, 48); put(m.mrConfigId, 184, 48);
  put(m.mrOwner, 232, 48); put(m.mrOwnerConfig, 280, 48);
  put(m.rtmr0, 328, 48); put(m.rtmr1, 376, 48); put(m.rtmr2, 424, 48); put(m.rtmr3, 472, 48);
  if (reportData.length !== 64) throw new Error('REPORTDATA must be 64 bytes');
  reportData.copy(body, REPORT_DATA_OFFSET);
  return body;
}

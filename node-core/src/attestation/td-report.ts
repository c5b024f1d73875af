import { createHash } from 'node:crypto';
import type { TdMeasurements } from './report.ts';

/**
 * TDX TD report body (TDREPORT's TDINFO + TEE info as carried in a DCAP v4 quote body), 584 bytes:
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
 * Image hash = SHA-256(body[0..520]): every measurement field in quote order, REPORTDATA excluded,
 * so anyone holding a quote can recompute it with `head -c` and `sha256sum` on the body bytes.
 */
export const TD_REPORT_BODY_SIZE = 584;
export const REPORT_DATA_OFFSET = 520;

const field = (body: Buffer, offset: number, size: number) => body.subarray(offset, offset + size).toString('hex');

export function parseTdReportBody(body: Buffer): TdMeasurements {
  if (body.length !== TD_REPORT_BODY_SIZE) throw new Error(`TD report body must be ${TD_REPORT_BODY_SIZE} bytes, got ${body.length}`);
  return {
    mrSeam: field(body, 16, 48),
    mrTd: field(body, 136, 48),
    rtmr0: field(body, 328, 48),
    rtmr1: field(body, 376, 48),
    rtmr2: field(body, 424, 48),
    rtmr3: field(body, 472, 48),
    tdAttributes: field(body, 120, 8),
    xfam: field(body, 128, 8),
    reportData: field(body, 520, 64),
  };
}

export function imageHashOf(body: Buffer): string {
  return createHash('sha256').update(body.subarray(0, REPORT_DATA_OFFSET)).digest('hex');
}

/** Builds a body from measurements (development quotes); unspecified fields are zero. */
export function buildTdReportBody(m: Partial<TdMeasurements>, reportData: Buffer): Buffer {
  const body = Buffer.alloc(TD_REPORT_BODY_SIZE);
  const put = (hex: string | undefined, offset: number, size: number) => {
    if (hex === undefined) return;
    const b = Buffer.from(hex, 'hex');
    if (b.length !== size) throw new Error(`measurement at offset ${offset} must be ${size} bytes`);
    b.copy(body, offset);
  };
  put(m.mrSeam, 16, 48); put(m.tdAttributes, 120, 8); put(m.xfam, 128, 8); put(m.mrTd, 136, 48);
  put(m.rtmr0, 328, 48); put(m.rtmr1, 376, 48); put(m.rtmr2, 424, 48); put(m.rtmr3, 472, 48);
  if (reportData.length !== 64) throw new Error('REPORTDATA must be 64 bytes');
  reportData.copy(body, REPORT_DATA_OFFSET);
  return body;
}

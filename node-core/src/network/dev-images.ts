import { buildTdReportBody, imageHashOf } from '../attestation/td-report.ts';
import type { TdMeasurements } from '../attestation/report.ts';

/**
 * Measurements of the development "images" that the local network's fake quotes carry. They
 * stand where the root contract's allowed proxy and worker image hashes stand on a real network:
 * the local proxy only admits the dev worker image, the client only the dev proxy image.
 */
export const DEV_PROXY_MEASUREMENTS: Partial<TdMeasurements> = { mrTd: 'd0'.repeat(48), rtmr0: 'a0'.repeat(48), rtmr1: 'a1'.repeat(48), rtmr2: 'a2'.repeat(48) };
export const DEV_WORKER_MEASUREMENTS: Partial<TdMeasurements> = { mrTd: 'd1'.repeat(48), rtmr0: 'b0'.repeat(48), rtmr1: 'b1'.repeat(48), rtmr2: 'b2'.repeat(48) };
export const DEV_CLIENT_MEASUREMENTS: Partial<TdMeasurements> = { mrTd: 'd2'.repeat(48) };

export function imageHashOfMeasurements(m: Partial<TdMeasurements>): string {
  return imageHashOf(buildTdReportBody(m, Buffer.alloc(64)));
}

import { describe, expect, it } from 'vitest';
import { createPolicy } from './policy.ts';
import type { TdMeasurements } from './report.ts';

const z48 = '00'.repeat(48);
const m: TdMeasurements = {
  teeTcbSvn: '00'.repeat(16), mrSeam: z48, mrSignerSeam: z48, seamAttributes: '00'.repeat(8), tdAttributes: '00'.repeat(8), xfam: '00'.repeat(8),
  mrTd: 'aa'.repeat(48), mrConfigId: z48, mrOwner: z48, mrOwnerConfig: z48,
  rtmr0: '01'.repeat(48), rtmr1: '02'.repeat(48), rtmr2: '03'.repeat(48), rtmr3: '04'.repeat(48), reportData: '00'.repeat(64),
};
const image = 'ab'.repeat(32);

describe('attestation policy allowlists', () => {
  it('accepts everything when no allowlist is set, and reports imageAllowed as null', () => {
    const p = createPolicy({ name: 'tdx' });
    expect(p.refuse(image, m)).toBeUndefined();
    expect(p.imageAllowed(image)).toBeNull();
  });

  it('refuses an image hash, MRTD or RTMR outside its list, naming it', () => {
    expect(createPolicy({ name: 'tdx', allowedImageHashes: ['cd'.repeat(32)] }).refuse(image, m)).toMatch(/image hash/);
    expect(createPolicy({ name: 'tdx', allowedMrTd: ['bb'.repeat(48)] }).refuse(image, m)).toMatch(/MRTD/);
    expect(createPolicy({ name: 'tdx', allowedRtmr: { rtmr2: ['ff'.repeat(48)] } }).refuse(image, m)).toMatch(/RTMR2/);
    expect(createPolicy({ name: 'tdx', allowedImageHashes: [image.toUpperCase()], allowedMrTd: [m.mrTd], allowedRtmr: { rtmr0: [m.rtmr0] } }).refuse(image, m)).toBeUndefined();
  });

  it('takes new image allowlists at run time (from the root contract) and bumps its version', () => {
    const p = createPolicy({ name: 'fake', allowedImageHashes: [image] });
    const v = p.version;
    p.setAllowedImageHashes(['cd'.repeat(32)]);
    expect(p.version).toBe(v + 1);
    expect(p.imageAllowed(image)).toBe(false);
  });
});

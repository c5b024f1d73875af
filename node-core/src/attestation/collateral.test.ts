import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseCollateral, tcbStatusWithCollateral } from './collateral.ts';

const quote = readFileSync(new URL('../../../testdata/tdx/quote-a.dat', import.meta.url));
// Right shape, wrong content: the CRLs and signatures are not Intel's, so nothing may verify.
const bogus = {
  pck_crl_issuer_chain: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n',
  root_ca_crl: '3000', pck_crl: '3000',
  tcb_info_issuer_chain: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n',
  tcb_info: '{"tcbInfo":{}}', tcb_info_signature: '00'.repeat(64),
  qe_identity_issuer_chain: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n',
  qe_identity: '{"enclaveIdentity":{}}', qe_identity_signature: '00'.repeat(64),
};

describe('collateral', () => {
  it('refuses text that is not JSON, naming the problem', () => {
    expect(() => parseCollateral('not json')).toThrow(/collateral is not JSON/);
  });

  it('names a missing or ill-typed field', () => {
    const { tcb_info: _, ...missing } = bogus;
    expect(() => parseCollateral(JSON.stringify(missing))).toThrow(/"tcb_info"/);
    expect(() => parseCollateral(JSON.stringify({ ...bogus, pck_crl: 'zz' }))).toThrow(/"pck_crl" must be hex/);
  });

  it('accepts the PCCS v4 shape and then fails verification of collateral not signed by Intel', async () => {
    const c = parseCollateral(JSON.stringify(bogus));
    await expect(tcbStatusWithCollateral(quote, c)).rejects.toThrow(/collateral pck_crl_issuer_chain is not PEM certificates: \S+/);
  });
});

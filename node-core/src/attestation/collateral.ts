import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { QuoteVerifier, type Collateral } from '@phala/dcap-qvl';
import { z } from 'zod';
import { errorMessage } from '../errors.ts';
import { QuoteError } from './tdx-quote.ts';

/**
 * TCB status from Intel PCS v4 collateral (TCB info, QE identity, PCK and root CRLs with their
 * issuer chains), evaluated by @phala/dcap-qvl with our pinned Intel SGX Root CA. The library is
 * used here and not for the offline path because its verify needs collateral on every call.
 * The collateral file is the JSON object dcap-qvl's getCollateral returns (PCCS v4 fields).
 */
const hexOrBytes = z.union([z.string().regex(/^[0-9a-fA-F]*$/, 'must be hex'), z.array(z.number().int().min(0).max(255))]);
const CollateralSchema = z.object({
  pck_crl_issuer_chain: z.string().min(1),
  root_ca_crl: hexOrBytes,
  pck_crl: hexOrBytes,
  tcb_info_issuer_chain: z.string().min(1),
  tcb_info: z.string().min(1),
  tcb_info_signature: hexOrBytes,
  qe_identity_issuer_chain: z.string().min(1),
  qe_identity: z.string().min(1),
  qe_identity_signature: hexOrBytes,
});

const ROOT_DER = new X509Certificate(readFileSync(new URL('./intel-sgx-root-ca.pem', import.meta.url))).raw;

/** Validates collateral JSON text; throws QuoteError naming the bad field. */
export function parseCollateral(text: string): Collateral {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new QuoteError(`collateral is not JSON: ${errorMessage(err)}`);
  }
  const r = CollateralSchema.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new QuoteError(`collateral field "${issue.path.join('.') || '(root)'}" ${issue.message}; expected PCCS v4 collateral (pck_crl, root_ca_crl, tcb_info, qe_identity and their signatures / issuer chains)`);
  }
  return r.data as Collateral;
}

/** Full DCAP verification with collateral; returns Intel's TCB status or throws QuoteError with the library's reason. */
export function tcbStatusWithCollateral(quote: Buffer, collateral: Collateral, now: Date = new Date()): { tcbStatus: string; advisoryIds: string[] } {
  try {
    const v = QuoteVerifier.newWithRootCa(ROOT_DER).verify(quote, collateral, Math.floor(now.getTime() / 1000));
    return { tcbStatus: v.status, advisoryIds: v.advisory_ids };
  } catch (err) {
    throw new QuoteError(`collateral verification failed: ${errorMessage(err)}`);
  }
}

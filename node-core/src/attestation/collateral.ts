import 'reflect-metadata';
import { webcrypto, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { QuoteVerifier, getCollateral, type Collateral } from '@phala/dcap-qvl';
import * as x509 from '@peculiar/x509';
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

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[1]);

const ROOT_DER = new X509Certificate(readFileSync(new URL('./intel-sgx-root-ca.pem', import.meta.url))).raw;

/** Validates collateral JSON text; throws QuoteError naming the bad field. */
export function parseCollateral(text: string): Collateral {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new QuoteError(`collateral is not JSON: ${errorMessage(err)}`);
  }
  // PCCS serves CRLs as DER (hex here) but PEM is common when collateral is assembled by hand.
  if (json && typeof json === 'object') {
    for (const k of ['root_ca_crl', 'pck_crl'] as const) {
      const v = (json as Record<string, unknown>)[k];
      const m = typeof v === 'string' ? /^\s*-----BEGIN X509 CRL-----([A-Za-z0-9+/=\s]+)-----END X509 CRL-----\s*$/.exec(v) : null;
      if (m) (json as Record<string, unknown>)[k] = Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64').toString('hex');
    }
  }
  const r = CollateralSchema.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new QuoteError(`collateral field "${issue.path.join('.') || '(root)'}" ${issue.message}; expected PCCS v4 collateral (pck_crl, root_ca_crl, tcb_info, qe_identity and their signatures / issuer chains)`);
  }
  return r.data as Collateral;
}

/**
 * Reads the collateral bundle from a file path or an http(s) URL serving the same JSON (e.g. a
 * cache in front of a PCCS). Bounded in time and size so a hung or hostile server cannot stall us.
 */
export async function loadCollateral(source: string, timeoutMs = 10_000): Promise<Collateral> {
  if (!/^https?:\/\//i.test(source)) {
    let text: string;
    try {
      text = readFileSync(source, 'utf8');
    } catch (err) {
      throw new QuoteError(`cannot read collateral file ${source}: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`);
    }
    return parseCollateral(text);
  }
  let res: Response;
  try {
    res = await fetch(source, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    throw new QuoteError(`cannot fetch collateral from ${source}: ${errorMessage((err as { cause?: unknown }).cause ?? err)}`);
  }
  if (!res.ok) throw new QuoteError(`collateral server ${source} answered HTTP ${res.status}`);
  const text = await res.text();
  if (text.length > 4 * 1024 * 1024) throw new QuoteError(`collateral from ${source} is over 4 MiB; not PCCS collateral`);
  return parseCollateral(text);
}

/**
 * Fetches collateral for a quote from a PCCS (or Intel PCS) v4 API: the PCK CRL, TCB info for the
 * quote's FMSPC, QE identity and root CA CRL, with their issuer chains from the response headers.
 * dcap-qvl's client does the requests; the result is validated like a bundle file.
 */
export async function fetchCollateralFromPccs(pccsUrl: string, quote: Buffer, timeoutMs = 20_000): Promise<Collateral> {
  if (!/^https?:\/\//i.test(pccsUrl)) throw new QuoteError(`PCCS URL must be http(s), got "${pccsUrl}"`);
  let fetched: Collateral;
  try {
    fetched = await Promise.race([
      getCollateral(pccsUrl.replace(/\/+$/, ''), quote),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs).unref()),
    ]);
  } catch (err) {
    throw new QuoteError(`cannot fetch collateral from PCCS ${pccsUrl}: ${errorMessage((err as { cause?: unknown }).cause ?? err)}`);
  }
  return parseCollateral(JSON.stringify(fetched));
}

const bytesOf = (v: string | number[] | Uint8Array): Buffer => (typeof v === 'string' ? Buffer.from(v, 'hex') : Buffer.from(v));

/**
 * dcap-qvl only matches serial numbers against whatever CRLs it is given: it checks neither their
 * signature, issuer nor nextUpdate, and silently skips one it cannot parse — so a forged, stale or
 * garbage CRL would hide a revocation. We check both CRLs here before handing them on.
 */
async function verifyCrls(collateral: Collateral, rootDer: Buffer, now: Date): Promise<void> {
  const root = new x509.X509Certificate(new Uint8Array(rootDer));
  let pckCrlIssuer: x509.X509Certificate | undefined;
  try {
    const pem = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/.exec(collateral.pck_crl_issuer_chain);
    pckCrlIssuer = pem ? new x509.X509Certificate(pem[0]) : undefined;
  } catch (err) {
    throw new QuoteError(`collateral pck_crl_issuer_chain is not PEM certificates: ${errorMessage(err)}`);
  }
  if (!pckCrlIssuer) throw new QuoteError('collateral pck_crl_issuer_chain holds no certificate');
  if (pckCrlIssuer.issuer !== root.subject || !(await pckCrlIssuer.verify({ publicKey: root, date: now }))) {
    throw new QuoteError('collateral pck_crl_issuer_chain is not issued by the pinned Intel SGX Root CA (or is expired)');
  }
  const check = async (name: string, der: Buffer, issuer: x509.X509Certificate): Promise<void> => {
    let crl: x509.X509Crl;
    try {
      crl = new x509.X509Crl(new Uint8Array(der));
    } catch (err) {
      throw new QuoteError(`collateral ${name} is not a DER CRL: ${errorMessage(err)}`);
    }
    if (crl.issuer !== issuer.subject || !(await crl.verify({ publicKey: issuer }))) throw new QuoteError(`collateral ${name} is not signed by ${issuer.subject}`);
    if (crl.thisUpdate > now || (crl.nextUpdate && crl.nextUpdate < now)) throw new QuoteError(`collateral ${name} is not current (valid ${crl.thisUpdate.toISOString()}..${crl.nextUpdate?.toISOString()}); fetch fresh collateral`);
  };
  await check('root_ca_crl', bytesOf(collateral.root_ca_crl), root);
  await check('pck_crl', bytesOf(collateral.pck_crl), pckCrlIssuer);
}

/**
 * Full DCAP verification with collateral; returns Intel's TCB status or throws QuoteError with the
 * reason. `rootDer` defaults to the pinned Intel root; tests inject their own hierarchy.
 */
export async function tcbStatusWithCollateral(quote: Buffer, collateral: Collateral, now: Date = new Date(), rootDer: Buffer = ROOT_DER): Promise<{ tcbStatus: string; advisoryIds: string[] }> {
  await verifyCrls(collateral, rootDer, now);
  try {
    const v = QuoteVerifier.newWithRootCa(rootDer).verify(quote, collateral, Math.floor(now.getTime() / 1000));
    return { tcbStatus: v.status, advisoryIds: v.advisory_ids };
  } catch (err) {
    throw new QuoteError(`collateral verification failed: ${errorMessage(err)}`);
  }
}

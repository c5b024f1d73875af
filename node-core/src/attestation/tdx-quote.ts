import { X509Certificate, createHash, createPublicKey, verify as verifySignature } from 'node:crypto';
import { readFileSync } from 'node:fs';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { TD_REPORT_BODY_SIZE, imageHashOf, parseTdReportBody } from './td-report.ts';
import type { TdMeasurements } from './report.ts';

/**
 * Intel TDX DCAP quote (v4, ECDSA-256 attestation key) parsing and offline verification:
 *   1. quote signature (ECDSA P-256, raw r||s) over header||body by the attestation key;
 *   2. QE report signature by the PCK leaf certificate's key;
 *   3. QE report REPORTDATA[0..32] = SHA-256(attestation key || QE auth data), rest zero;
 *   4. PCK chain (leaf → platform/processor CA → root) each signed by the next, within validity,
 *      ending at the pinned Intel SGX Root CA (compared byte for byte), CA and key-usage rules;
 *   5. the QE report is from Intel's TD quoting enclave (TD_QE_IDENTITY).
 * Parsing is canonical: size fields must match their parts exactly (see parseTdxQuote).
 * Written on node:crypto rather than @phala/dcap-qvl because that library's verify requires
 * collateral for every call; this path must work offline and report tcbStatus "unknown" then.
 */
const HEADER_SIZE = 48;
const QE_REPORT_SIZE = 384;
const CERT_TYPE_QE_REPORT = 6;
const CERT_TYPE_PCK_CHAIN = 5;
const TEE_TYPE_TDX = 0x81;

const INTEL_ROOT = new X509Certificate(readFileSync(new URL('./intel-sgx-root-ca.pem', import.meta.url)));

export interface ParsedTdxQuote {
  version: number;
  attestationKeyType: number;
  teeType: number;
  header: Buffer;
  body: Buffer;
  measurements: TdMeasurements;
  imageHash: string;
  signature: Buffer;
  attestationKey: Buffer;
  qeReport: Buffer;
  qeReportSignature: Buffer;
  qeAuthData: Buffer;
  pckChain: X509Certificate[];
}

export class QuoteError extends Error {
  override readonly name = 'QuoteError';
}

export function parseTdxQuote(quote: Buffer): ParsedTdxQuote {
  const need = (end: number, what: string) => {
    if (quote.length < end) throw new QuoteError(`quote truncated: ${what} needs ${end} bytes, quote has ${quote.length}`);
  };
  need(HEADER_SIZE, 'header');
  const version = quote.readUInt16LE(0);
  const attestationKeyType = quote.readUInt16LE(2);
  const teeType = quote.readUInt32LE(4);
  if (version !== 4) throw new QuoteError(`unsupported quote version ${version} (this verifier handles v4)`);
  if (teeType !== TEE_TYPE_TDX) throw new QuoteError(`not a TDX quote (TEE type 0x${teeType.toString(16)})`);
  if (attestationKeyType !== 2) throw new QuoteError(`unsupported attestation key type ${attestationKeyType} (expected 2, ECDSA-256)`);
  const bodyEnd = HEADER_SIZE + TD_REPORT_BODY_SIZE;
  need(bodyEnd + 4, 'TD report body');
  // Canonical layout: every size field must equal what its part holds, nothing may overlap or be
  // left over. The only slack allowed is zero padding after the signature data, which genuine
  // quote generators append (both test quotes end in 70 zero bytes).
  const sigDataLen = quote.readUInt32LE(bodyEnd);
  const sigStart = bodyEnd + 4;
  const sigEnd = sigStart + sigDataLen;
  need(sigEnd, 'signature data');
  if (quote.subarray(sigEnd).some((b) => b !== 0)) throw new QuoteError(`quote has ${quote.length - sigEnd} non-padding bytes after its signature data`);
  let o = sigStart;
  const within = (end: number, what: string) => {
    if (end > sigEnd) throw new QuoteError(`quote ${what} runs past the signature data (${end} > ${sigEnd})`);
  };
  within(o + 64 + 64 + 6, 'signature and attestation key');
  const signature = quote.subarray(o, o + 64);
  const attestationKey = quote.subarray(o + 64, o + 128);
  o += 128;
  const certType = quote.readUInt16LE(o);
  const certSize = quote.readUInt32LE(o + 2);
  o += 6;
  if (certType !== CERT_TYPE_QE_REPORT) throw new QuoteError(`unexpected certification data type ${certType} (expected 6, QE report)`);
  if (o + certSize !== sigEnd) throw new QuoteError(`QE report certification data size ${certSize} does not fill the signature data exactly`);
  within(o + QE_REPORT_SIZE + 64 + 2, 'QE report');
  const qeReport = quote.subarray(o, o + QE_REPORT_SIZE);
  const qeReportSignature = quote.subarray(o + QE_REPORT_SIZE, o + QE_REPORT_SIZE + 64);
  o += QE_REPORT_SIZE + 64;
  const authLen = quote.readUInt16LE(o);
  within(o + 2 + authLen + 6, 'QE auth data');
  const qeAuthData = quote.subarray(o + 2, o + 2 + authLen);
  o += 2 + authLen;
  const chainType = quote.readUInt16LE(o);
  const chainSize = quote.readUInt32LE(o + 2);
  o += 6;
  if (chainType !== CERT_TYPE_PCK_CHAIN) throw new QuoteError(`unexpected certification data type ${chainType} (expected 5, PCK chain)`);
  if (o + chainSize !== sigEnd) throw new QuoteError(`PCK certificate chain size ${chainSize} does not end where the signature data ends`);
  const pem = quote.subarray(o, o + chainSize).toString('latin1');
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length !== 3) throw new QuoteError(`PCK certificate chain has ${blocks.length} certificates; expected 3 (PCK, PCK CA, root)`);
  if (pem.replace(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g, '').replace(/[\s\0]/g, '') !== '') throw new QuoteError('PCK certificate chain holds data besides its certificates');
  let pckChain: X509Certificate[];
  try {
    pckChain = blocks.map((b) => new X509Certificate(b));
  } catch (err) {
    throw new QuoteError(`PCK certificate chain is malformed: ${(err as Error).message}`);
  }
  const header = quote.subarray(0, HEADER_SIZE);
  const body = quote.subarray(HEADER_SIZE, bodyEnd);
  return {
    version, attestationKeyType, teeType, header, body,
    measurements: parseTdReportBody(body), imageHash: imageHashOf(body),
    signature, attestationKey, qeReport, qeReportSignature, qeAuthData, pckChain,
  };
}

/** P-256 public key from the quote's raw 64-byte X||Y. */
function p256Key(raw: Buffer) {
  return createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: raw.subarray(0, 32).toString('base64url'), y: raw.subarray(32, 64).toString('base64url') }, format: 'jwk' });
}

/**
 * Intel's identity of the TDX quoting enclave (TD_QE), as Intel PCS publishes it
 * (/tdx/certification/v4/qe/identity): without this check anyone whose PCE certifies an enclave
 * with PROVISIONKEY could certify their own attestation key and sign TD reports of any content.
 * Collateral, when present, re-checks it with Intel's signed, current identity (collateral.ts).
 */
export const TD_QE_IDENTITY = {
  mrSigner: 'dc9e2a7c6f948f17474e34a7fc43ed030f7c1563f1babddf6340c82e0e54a8c5',
  isvProdId: 2,
  miscSelect: 0x00000000, miscSelectMask: 0xffffffff,
  attributes: '11000000000000000000000000000000', attributesMask: 'fbffffffffffffff0000000000000000',
  /** Lowest ISVSVN Intel lists as a TCB level (older QEs are OutOfDate or worse). */
  minIsvSvn: 4,
};

export function checkQeIdentity(qeReport: Buffer): void {
  const mrSigner = qeReport.subarray(128, 160).toString('hex');
  if (mrSigner !== TD_QE_IDENTITY.mrSigner) throw new QuoteError(`quoting enclave is not Intel's TD QE (MRSIGNER ${mrSigner})`);
  const prodId = qeReport.readUInt16LE(256);
  if (prodId !== TD_QE_IDENTITY.isvProdId) throw new QuoteError(`quoting enclave ISVPRODID is ${prodId}, not Intel's TD QE (${TD_QE_IDENTITY.isvProdId})`);
  if ((qeReport.readUInt32LE(16) & TD_QE_IDENTITY.miscSelectMask) !== TD_QE_IDENTITY.miscSelect) throw new QuoteError('quoting enclave MISCSELECT does not match Intel\'s TD QE');
  const attrs = qeReport.subarray(48, 64);
  const mask = Buffer.from(TD_QE_IDENTITY.attributesMask, 'hex');
  const want = Buffer.from(TD_QE_IDENTITY.attributes, 'hex');
  if (attrs.some((b, i) => (b & mask[i]!) !== want[i])) throw new QuoteError(`quoting enclave attributes ${attrs.toString('hex')} do not match Intel's TD QE (a debug enclave?)`);
  const svn = qeReport.readUInt16LE(258);
  if (svn < TD_QE_IDENTITY.minIsvSvn) throw new QuoteError(`quoting enclave ISVSVN ${svn} is below Intel's lowest TD QE TCB level (${TD_QE_IDENTITY.minIsvSvn})`);
}

const describe = (c: X509Certificate) => c.subject.split('\n').join(', ');

/** Validity of every certificate in the PCK chain at `now` (also re-run on verifier cache hits). */
export function checkPckChainDates(chain: X509Certificate[], now: Date): void {
  for (const cert of chain) {
    if (now < new Date(cert.validFrom) || now > new Date(cert.validTo)) throw new QuoteError(`certificate "${describe(cert)}" is not valid at ${now.toISOString()}`);
  }
}

/** CA and key-usage rules: the leaf signs but is no CA; the issuers are CAs allowed to sign certificates. */
function checkPckChainUsage(chain: X509Certificate[]): void {
  chain.forEach((cert, i) => {
    const parsed = new x509.X509Certificate(new Uint8Array(cert.raw));
    const ku = parsed.getExtension(x509.KeyUsagesExtension);
    const bc = parsed.getExtension(x509.BasicConstraintsExtension);
    if (i === 0) {
      if (bc?.ca) throw new QuoteError(`PCK certificate "${describe(cert)}" is a CA certificate, not a PCK leaf`);
      if (ku && !(ku.usages & (x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.nonRepudiation))) throw new QuoteError(`PCK certificate "${describe(cert)}" key usage does not allow signatures`);
    } else {
      if (!bc?.ca) throw new QuoteError(`certificate "${describe(cert)}" issues others in the PCK chain but is not a CA`);
      if (!ku || !(ku.usages & x509.KeyUsageFlags.keyCertSign)) throw new QuoteError(`certificate "${describe(cert)}" is not allowed to sign certificates (key usage)`);
      if (bc.pathLength !== undefined && bc.pathLength < i - 1) throw new QuoteError(`certificate "${describe(cert)}" path length constraint is exceeded`);
    }
  });
}

export interface VerifyQuoteOptions {
  now?: Date;
  /** TESTS ONLY: a stand-in Intel root. Refused outside vitest so no build can trust another root. */
  testOnlyRootDer?: Buffer;
}

export function trustedRoot(testOnlyRootDer: Buffer | undefined): X509Certificate {
  if (!testOnlyRootDer) return INTEL_ROOT;
  if (process.env.VITEST !== 'true') throw new QuoteError('a stand-in Intel root is only accepted inside the test runner');
  return new X509Certificate(testOnlyRootDer);
}

/** Throws QuoteError naming the first check that fails. */
export function verifyTdxQuote(q: ParsedTdxQuote, opts: Date | VerifyQuoteOptions = {}): void {
  const { now = new Date(), testOnlyRootDer } = opts instanceof Date ? { now: opts } : opts;
  const root = trustedRoot(testOnlyRootDer);
  const ok = verifySignature('sha256', Buffer.concat([q.header, q.body]), { key: p256Key(q.attestationKey), dsaEncoding: 'ieee-p1363' }, q.signature);
  if (!ok) throw new QuoteError('quote signature does not verify with the attestation key');
  const binding = createHash('sha256').update(q.attestationKey).update(q.qeAuthData).digest();
  const qeReportData = q.qeReport.subarray(320, 384);
  if (!qeReportData.subarray(0, 32).equals(binding) || qeReportData.subarray(32).some((b) => b !== 0)) {
    throw new QuoteError('QE report data does not bind the attestation key and QE auth data');
  }
  const [pck] = q.pckChain;
  if (!verifySignature('sha256', q.qeReport, { key: pck!.publicKey, dsaEncoding: 'ieee-p1363' }, q.qeReportSignature)) {
    throw new QuoteError('QE report signature does not verify with the PCK certificate');
  }
  checkPckChainDates(q.pckChain, now);
  for (let i = 0; i < q.pckChain.length; i++) {
    const cert = q.pckChain[i]!;
    const issuer = q.pckChain[i + 1] ?? cert;
    if (!cert.verify(issuer.publicKey)) throw new QuoteError(`certificate "${describe(cert)}" is not signed by its issuer`);
  }
  if (!q.pckChain.at(-1)!.raw.equals(root.raw)) throw new QuoteError('PCK chain does not end at the pinned Intel SGX Root CA');
  checkPckChainUsage(q.pckChain);
  checkQeIdentity(q.qeReport);
}

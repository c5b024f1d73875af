import { X509Certificate, createHash, createPublicKey, verify as verifySignature } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { TD_REPORT_BODY_SIZE, imageHashOf, parseTdReportBody } from './td-report.ts';
import type { TdMeasurements } from './report.ts';

/**
 * Intel TDX DCAP quote (v4, ECDSA-256 attestation key) parsing and offline verification:
 *   1. quote signature (ECDSA P-256, raw r||s) over header||body by the attestation key;
 *   2. QE report signature by the PCK leaf certificate's key;
 *   3. QE report REPORTDATA[0..32] = SHA-256(attestation key || QE auth data), rest zero;
 *   4. PCK chain (leaf → platform/processor CA → root) each signed by the next, within validity,
 *      ending at the pinned Intel SGX Root CA (compared byte for byte).
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
  const sigDataLen = quote.readUInt32LE(bodyEnd);
  let o = bodyEnd + 4;
  need(o + sigDataLen, 'signature data');
  need(o + 64 + 64 + 6, 'signature and attestation key');
  const signature = quote.subarray(o, o + 64);
  const attestationKey = quote.subarray(o + 64, o + 128);
  o += 128;
  const certType = quote.readUInt16LE(o);
  const certSize = quote.readUInt32LE(o + 2);
  o += 6;
  if (certType !== CERT_TYPE_QE_REPORT) throw new QuoteError(`unexpected certification data type ${certType} (expected 6, QE report)`);
  need(o + certSize, 'QE report certification data');
  need(o + QE_REPORT_SIZE + 64 + 2, 'QE report');
  const qeReport = quote.subarray(o, o + QE_REPORT_SIZE);
  const qeReportSignature = quote.subarray(o + QE_REPORT_SIZE, o + QE_REPORT_SIZE + 64);
  o += QE_REPORT_SIZE + 64;
  const authLen = quote.readUInt16LE(o);
  need(o + 2 + authLen + 6, 'QE auth data');
  const qeAuthData = quote.subarray(o + 2, o + 2 + authLen);
  o += 2 + authLen;
  const chainType = quote.readUInt16LE(o);
  const chainSize = quote.readUInt32LE(o + 2);
  o += 6;
  if (chainType !== CERT_TYPE_PCK_CHAIN) throw new QuoteError(`unexpected certification data type ${chainType} (expected 5, PCK chain)`);
  need(o + chainSize, 'PCK certificate chain');
  const pem = quote.subarray(o, o + chainSize).toString('latin1');
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length < 2) throw new QuoteError('PCK certificate chain has fewer than 2 certificates');
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

/** Throws QuoteError naming the first check that fails. */
export function verifyTdxQuote(q: ParsedTdxQuote, now: Date = new Date()): void {
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
  for (let i = 0; i < q.pckChain.length; i++) {
    const cert = q.pckChain[i]!;
    const issuer = q.pckChain[i + 1] ?? cert;
    if (now < new Date(cert.validFrom) || now > new Date(cert.validTo)) {
      throw new QuoteError(`certificate "${cert.subject.split('\n').join(', ')}" is not valid at ${now.toISOString()}`);
    }
    if (!cert.verify(issuer.publicKey)) throw new QuoteError(`certificate "${cert.subject.split('\n').join(', ')}" is not signed by its issuer`);
  }
  if (!q.pckChain.at(-1)!.raw.equals(INTEL_ROOT.raw)) throw new QuoteError('PCK chain does not end at the pinned Intel SGX Root CA');
}

import { createHash } from 'node:crypto';
import { errorMessage } from '../errors.ts';
import type { AttestationPolicy } from './policy.ts';
import { isFakeQuote, parseFakeQuote } from './quote-provider.ts';
import { parseRaTlsCert, type ParsedRaTlsCert } from './ratls-cert.ts';
import type { AttestationReport } from './report.ts';
import { imageHashOf, parseTdReportBody } from './td-report.ts';
import { parseTdxQuote, verifyTdxQuote } from './tdx-quote.ts';

/**
 * Verifies a peer's RA-TLS certificate under a policy. Never throws for a bad peer: the report
 * says valid:false and why. Verified certificates are cached by their hash (bounded), so repeated
 * handshakes with the same peer skip quote verification; validity times and the policy version
 * are re-checked on every hit.
 */
export interface PeerVerifier {
  verify(certDer: Buffer, opts?: { chainLength?: number }): Promise<AttestationReport>;
}

export function createPeerVerifier(policy: AttestationPolicy, opts: { now?: () => Date; cacheSize?: number } = {}): PeerVerifier {
  const now = opts.now ?? (() => new Date());
  const cacheSize = opts.cacheSize ?? 1024;
  const cache = new Map<string, { report: AttestationReport; notBefore: number; notAfter: number; policyVersion: number }>();

  return {
    async verify(certDer, verifyOpts = {}) {
      if ((verifyOpts.chainLength ?? 1) > 1) return invalid(policy, 'peer sent a certificate chain; RA-TLS peers must present one self-signed certificate');
      const key = createHash('sha256').update(certDer).digest('base64');
      const t = now().getTime();
      const hit = cache.get(key);
      if (hit && hit.policyVersion === policy.version && t >= hit.notBefore && t <= hit.notAfter) return hit.report;
      const report = await verifyUncached(certDer, policy, now());
      if (report.valid && report.certificate) {
        if (cache.size >= cacheSize) cache.delete(cache.keys().next().value!);
        cache.set(key, { report, notBefore: Date.parse(report.certificate.notBefore), notAfter: Date.parse(report.certificate.notAfter), policyVersion: policy.version });
      }
      return report;
    },
  };
}

function invalid(policy: AttestationPolicy, error: string, partial: Partial<AttestationReport> = {}): AttestationReport {
  return { valid: false, policy: policy.name, quoteKind: 'none', imageHash: null, imageAllowed: null, measurements: null, tcbStatus: 'unknown', certificate: null, ...partial, error };
}

async function verifyUncached(der: Buffer, policy: AttestationPolicy, now: Date): Promise<AttestationReport> {
  let cert: ParsedRaTlsCert;
  try {
    cert = await parseRaTlsCert(der);
  } catch (err) {
    return invalid(policy, `not an RA-TLS certificate: ${errorMessage(err)}`);
  }
  const certificate = { subject: cert.subject, notBefore: cert.notBefore.toISOString(), notAfter: cert.notAfter.toISOString(), publicKey: cert.publicKey.toString('hex') };
  const base: Partial<AttestationReport> = { certificate };
  // The structural checks hold under every policy but `any`.
  const structural = (): string | undefined => {
    if (!cert.isEd25519) return 'certificate key is not Ed25519';
    if (!cert.selfSignatureValid) return 'certificate is not validly self-signed';
    if (cert.unknownCriticalExtensions.length) return `certificate has unknown critical extension(s) ${cert.unknownCriticalExtensions.join(', ')}`;
    if (now < cert.notBefore || now > cert.notAfter) return `certificate is not valid at ${now.toISOString()} (valid ${certificate.notBefore} to ${certificate.notAfter})`;
    if (cert.claims.public_key !== cert.publicKey.toString('hex')) return 'claims do not carry the certificate public key';
    return undefined;
  };

  let body: Buffer;
  let quoteKind: 'tdx' | 'fake';
  let quoteError: string | undefined;
  try {
    if (isFakeQuote(cert.quote)) {
      quoteKind = 'fake';
      body = parseFakeQuote(cert.quote).body;
    } else {
      quoteKind = 'tdx';
      const q = parseTdxQuote(cert.quote);
      body = q.body;
      try {
        verifyTdxQuote(q, now);
      } catch (err) {
        quoteError = errorMessage(err);
      }
    }
  } catch (err) {
    if (policy.name === 'any') return { valid: true, policy: policy.name, quoteKind: 'none', imageHash: null, imageAllowed: null, measurements: null, tcbStatus: 'unknown', certificate };
    return invalid(policy, `quote rejected: ${errorMessage(err)}`, base);
  }
  const measurements = parseTdReportBody(body);
  const imageHash = imageHashOf(body);
  const filled: AttestationReport = { valid: false, policy: policy.name, quoteKind, imageHash, imageAllowed: policy.imageAllowed(imageHash), measurements, tcbStatus: 'unknown', certificate };
  if (policy.name === 'any') return { ...filled, valid: true };
  const fail = (error: string): AttestationReport => ({ ...filled, error });
  const s = structural();
  if (s) return fail(s);
  if (quoteError) return fail(`quote verification failed: ${quoteError}`);
  const expected = createHash('sha512').update(cert.claimsBytes).digest('hex');
  if (measurements.reportData !== expected) return fail('quote REPORTDATA does not match SHA-512 of the claims: the quote belongs to another key');
  if (policy.name === 'tdx' && quoteKind !== 'tdx') return fail('development (fake) quote refused by the tdx policy');
  const refused = policy.refuse(imageHash, measurements);
  if (refused) return fail(refused);
  return { ...filled, valid: true };
}

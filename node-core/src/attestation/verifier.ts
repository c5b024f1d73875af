import { createHash } from 'node:crypto';
import { errorMessage } from '../errors.ts';
import { collateralNextUpdate } from './collateral-cache.ts';
import { tcbStatusWithCollateral } from './collateral.ts';
import type { AttestationPolicy } from './policy.ts';
import { fakeQuoteBody, isFakeQuote } from './quote-provider.ts';
import { MAX_CERT_LIFETIME_SECONDS, parseRaTlsCert, reportDataFor, type ParsedRaTlsCert } from './ratls-cert.ts';
import type { AttestationReport, NodeRole, RefusalCode, TcbStatus } from './report.ts';
import { debugRefusal, imageHashOf, parseTdReportBody } from './td-report.ts';
import { parseTdxQuote, verifyTdxQuote, type ParsedTdxQuote } from './tdx-quote.ts';

/**
 * Verifies a peer's RA-TLS certificate under a policy, for the role the peer must have (the role
 * served on the port it reached, or the role we dialled). Never throws for a bad peer: the report
 * says valid:false, why (`error`) and a short `code`. Verified certificates are cached by their
 * hash (bounded); an entry is used only while the certificate, every PCK certificate and the
 * collateral are all still valid and the policy's allowlists have not changed since.
 *
 * Clients are not attested (they run on users' machines; the reference's client presents a plain
 * certificate): on a port that serves clients only the certificate itself is checked.
 */
export interface PeerVerifier {
  verify(certDer: Buffer, opts?: { chainLength?: number }): Promise<AttestationReport>;
  readonly policy: AttestationPolicy;
  readonly expectedRole: NodeRole | undefined;
  /**
   * Present on live policies (live-policy.ts): keep re-checking an accepted peer; `close` is
   * called with the reason when it is no longer allowed. The TLS layer calls this for every
   * accepted connection, so roles get re-checks without code of their own. Returns "stop watching".
   */
  watch?(certDer: Buffer, close: (reason: string) => void): () => void;
}

export interface PeerVerifierOptions {
  /** The role the peer must have; undefined: any role (tools such as `attest cert`). */
  expectedRole?: NodeRole;
  now?: () => Date;
  cacheSize?: number;
}

const CLOCK_SLACK_S = 120;

export function createPeerVerifier(policy: AttestationPolicy, opts: PeerVerifierOptions = {}): PeerVerifier {
  const now = opts.now ?? (() => new Date());
  const cacheSize = opts.cacheSize ?? 1024;
  const cache = new Map<string, { report: AttestationReport; notBefore: number; validUntil: number; policyVersion: number }>();

  return {
    policy,
    expectedRole: opts.expectedRole,
    async verify(certDer, verifyOpts = {}) {
      if ((verifyOpts.chainLength ?? 1) > 1) return invalid(policy, 'bad_certificate', 'peer sent a certificate chain; RA-TLS peers must present one self-signed certificate');
      const key = createHash('sha256').update(certDer).digest('base64');
      const t = now().getTime();
      const hit = cache.get(key);
      if (hit && hit.policyVersion === policy.version && t >= hit.notBefore && t <= hit.validUntil) return hit.report;
      cache.delete(key);
      const { report, validUntil } = await verifyUncached(certDer, policy, opts.expectedRole, now());
      if (report.valid && report.certificate) {
        if (cache.size >= cacheSize) cache.delete(cache.keys().next().value!);
        cache.set(key, { report, notBefore: Date.parse(report.certificate.notBefore), validUntil, policyVersion: policy.version });
      }
      return report;
    },
  };
}

function invalid(policy: AttestationPolicy, code: RefusalCode, error: string, partial: Partial<AttestationReport> = {}): AttestationReport {
  return { valid: false, policy: policy.name, quoteKind: 'none', imageHash: null, imageAllowed: null, measurements: null, tcbStatus: 'unknown', certificate: null, ...partial, error, code };
}

/** Certificate checks that hold under every policy but `any`. */
function certificateProblem(cert: ParsedRaTlsCert, now: Date): { code: RefusalCode; error: string } | undefined {
  const bad = (error: string) => ({ code: 'bad_certificate' as const, error });
  if (!cert.isEd25519) return bad('certificate key is not Ed25519');
  if (!cert.selfSignatureValid) return bad('certificate is not validly self-signed');
  if (cert.unknownCriticalExtensions.length) return bad(`certificate has unknown critical extension(s) ${cert.unknownCriticalExtensions.join(', ')}`);
  if (cert.usageProblem) return bad(cert.usageProblem);
  if (cert.role === 'invalid') return bad('certificate role extension names no Cocoon role');
  const lifetime = (cert.notAfter.getTime() - cert.notBefore.getTime()) / 1000;
  if (lifetime > MAX_CERT_LIFETIME_SECONDS + CLOCK_SLACK_S) return bad(`certificate lifetime is ${Math.round(lifetime / 86_400)} days; at most ${MAX_CERT_LIFETIME_SECONDS / 86_400} are accepted (quotes carry no time, so certificates must be short-lived)`);
  if (now < cert.notBefore || now > cert.notAfter) return { code: 'certificate_expired', error: `certificate is not valid at ${now.toISOString()} (valid ${cert.notBefore.toISOString()} to ${cert.notAfter.toISOString()})` };
  if (cert.claims && !cert.claims.equals(cert.publicKey)) return bad('claims do not carry the certificate public key');
  return undefined;
}

async function verifyUncached(der: Buffer, policy: AttestationPolicy, expectedRole: NodeRole | undefined, now: Date): Promise<{ report: AttestationReport; validUntil: number }> {
  const out = (report: AttestationReport, validUntil = 0) => ({ report, validUntil });
  let cert: ParsedRaTlsCert;
  try {
    cert = await parseRaTlsCert(der);
  } catch (err) {
    return out(invalid(policy, 'bad_certificate', `not an RA-TLS certificate: ${errorMessage(err)}`));
  }
  const certificate = { subject: cert.subject, notBefore: cert.notBefore.toISOString(), notAfter: cert.notAfter.toISOString(), publicKey: cert.publicKey.toString('hex') };
  const role = cert.role === 'invalid' ? null : cert.role;
  const base: AttestationReport = { valid: false, policy: policy.name, quoteKind: cert.quote ? (isFakeQuote(cert.quote) ? 'fake' : 'tdx') : 'none', imageHash: null, imageAllowed: null, measurements: null, tcbStatus: 'unknown', role, certificate };
  let validUntil = cert.notAfter.getTime();
  const fail = (code: RefusalCode, error: string, extra: Partial<AttestationReport> = {}) => out({ ...base, ...extra, valid: false, error, code });

  if (policy.name === 'any') return out({ ...base, valid: true, ...(cert.quote && quoteFacts(cert.quote, policy)) }, validUntil);
  const problem = certificateProblem(cert, now);
  if (problem) return fail(problem.code, problem.error);
  if (expectedRole && role && role !== expectedRole) return fail('wrong_role', `peer is a ${role} but this ${expectedRole === 'client' ? 'port serves clients' : `connection expects a ${expectedRole}`}`);
  // Clients are not attested (see above): a certificate that passed the checks above is enough.
  if (expectedRole === 'client') return out({ ...base, valid: true }, validUntil);
  if (!cert.quote || !cert.claims) return fail('no_quote', `peer presented a certificate without a quote; the ${policy.name} policy requires attestation`);

  // The quote.
  let body: Buffer;
  let parsed: ParsedTdxQuote | undefined;
  if (isFakeQuote(cert.quote)) {
    if (policy.name !== 'fake') return fail('development_quote', 'peer presented a development (fake) quote; the tdx policy requires a real TDX quote');
    body = fakeQuoteBody(cert.quote);
  } else {
    try {
      parsed = parseTdxQuote(cert.quote);
      verifyTdxQuote(parsed, { now, ...(policy.testOnlyRootDer && { testOnlyRootDer: policy.testOnlyRootDer }) });
      body = parsed.body;
    } catch (err) {
      const code: RefusalCode = /quoting enclave/.test(errorMessage(err)) ? 'qe_identity' : /not valid at/.test(errorMessage(err)) ? 'certificate_expired' : 'bad_quote';
      return fail(code, `quote verification failed: ${errorMessage(err)}`);
    }
    for (const c of parsed.pckChain) validUntil = Math.min(validUntil, Date.parse(c.validTo));
  }
  const measurements = parseTdReportBody(body);
  const imageHash = imageHashOf(body);
  const facts = { measurements, imageHash, imageAllowed: policy.imageAllowed(imageHash) };
  if (!Buffer.from(measurements.reportData, 'hex').equals(reportDataFor(cert.publicKey))) {
    return fail('report_data_mismatch', 'quote REPORTDATA is not SHA-512 of the certificate key: the quote belongs to another key', facts);
  }
  if (parsed) {
    const debug = debugRefusal(measurements);
    if (debug) return fail('debug_td', debug, facts);
  }
  if (policy.name === 'tdx' && policy.requireImageAllowlist && !policy.hasImageAllowlist()) return fail('image_not_allowed', 'the tdx policy has no image allowlist for this role (configure the root contract or --allow-image); refusing every image', facts);
  const refused = policy.refuse(imageHash, measurements);
  if (refused) return fail('image_not_allowed', refused, facts);

  let tcbStatus: TcbStatus = 'unknown';
  if (parsed) {
    const collateral = await policy.collateral?.get(cert.quote);
    if (collateral) {
      try {
        tcbStatus = (await tcbStatusWithCollateral(cert.quote, collateral, now, policy.testOnlyRootDer)).tcbStatus as TcbStatus;
      } catch (err) {
        const msg = errorMessage(err);
        return fail(/Revoked|revoked/.test(msg) ? 'tcb_status' : 'bad_quote', `TCB evaluation failed: ${msg}`, { ...facts, ...(/Revoked/.test(msg) && { tcbStatus: 'Revoked' as const }) });
      }
      validUntil = Math.min(validUntil, collateralNextUpdate(collateral));
      if (!policy.acceptTcb.has(tcbStatus)) return fail('tcb_status', `platform TCB status is ${tcbStatus}; this policy accepts ${[...policy.acceptTcb].join(', ')}`, { ...facts, tcbStatus });
    } else if (policy.requireCollateral && policy.name === 'tdx') {
      return fail('no_collateral', 'no current collateral (TCB info, QE identity, CRLs) for the peer\'s platform, so its TCB status and revocation cannot be checked; check the PCCS URL (--pccs)', facts);
    }
  }
  return out({ ...base, ...facts, tcbStatus, valid: true }, validUntil);
}

/** What an `any` policy still reports about a quote it does not judge. */
function quoteFacts(quote: Buffer, policy: AttestationPolicy): Partial<AttestationReport> {
  try {
    const body = isFakeQuote(quote) ? fakeQuoteBody(quote) : parseTdxQuote(quote).body;
    const imageHash = imageHashOf(body);
    return { measurements: parseTdReportBody(body), imageHash, imageAllowed: policy.imageAllowed(imageHash) };
  } catch {
    return {};
  }
}

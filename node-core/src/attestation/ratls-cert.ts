import 'reflect-metadata';
import { createHash, randomBytes, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import type { QuoteProvider } from './quote-provider.ts';
import type { NodeRole } from './report.ts';

/**
 * RA-TLS certificates in the reference node software's format (tee/cocoon/tdx.cpp), so reference
 * peers accept ours and we accept theirs:
 *
 *   - self-signed, Ed25519 key, 1-day validity;
 *   - Basic Constraints CA:FALSE, Key Usage digitalSignature, Extended Key Usage serverAuth +
 *     clientAuth (all critical), Subject Key Identifier;
 *   - `1.3.6.1.4.1.12345.1` (critical): the quote, raw bytes;
 *   - `1.3.6.1.4.1.12345.2` (critical): the user claims = the raw 32-byte Ed25519 public key;
 *   - the quote's REPORTDATA = SHA-512(claims), binding the quote to this key.
 *
 * Ours add one NON-critical extension, `OID_ROLE` (in our own arc, a UUID OID under 2.25), holding
 * the role name; the reference skips non-critical extensions, so compatibility holds. It is signed
 * by the certificate key but not measured: the port a peer reached and the role's image allowlist
 * are what protect a role; the extension only lets a peer that dialled the wrong port be told so.
 *
 * A certificate without the quote and claims extensions is the "plain" certificate the reference
 * uses where it is not in a TD (its client, and its router without a configured certificate).
 */
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[1]);

export const OID_QUOTE = '1.3.6.1.4.1.12345.1';
export const OID_CLAIMS = '1.3.6.1.4.1.12345.2';
/**
 * Cocoon Desktop's own, unregistered arc under 2.25 (X.667), from the first 48 bits of the random
 * UUID 456602a9-bc55-4e61-944f-08c4119a827b: the full 128-bit UUID arc cannot be carried by asn1js
 * (it reads it back as "2.25"), 48 bits can.
 */
export const OID_ROLE = '2.25.76304433658965.1';
const ED25519 = { name: 'Ed25519' };
/** Longest certificate lifetime we issue and accept (the reference issues 1 day). */
export const MAX_CERT_LIFETIME_SECONDS = 7 * 86_400;
const ROLES: readonly NodeRole[] = ['client', 'proxy', 'worker'];

export interface RaTlsIdentity {
  certPem: string;
  keyPem: string;
  certDer: Buffer;
  /** Raw 32-byte Ed25519 public key. */
  publicKey: Buffer;
  quoteKind: 'tdx' | 'fake' | 'none';
  role?: NodeRole;
}

export interface RaTlsOptions {
  /** Where the quote comes from; null: a plain certificate without attestation (clients). */
  provider: QuoteProvider | null;
  role?: NodeRole;
  validitySeconds?: number;
  commonName?: string;
}

/** The reference's user claims: the raw public key; REPORTDATA is their SHA-512. */
export function claimsOf(publicKey: Buffer): Buffer {
  return Buffer.from(publicKey);
}

export function reportDataFor(publicKey: Buffer): Buffer {
  return createHash('sha512').update(claimsOf(publicKey)).digest();
}

export async function createRaTlsIdentity(opts: RaTlsOptions): Promise<RaTlsIdentity> {
  const validity = opts.validitySeconds ?? 86_400;
  if (!(validity > 0 && validity <= MAX_CERT_LIFETIME_SECONDS)) throw new Error(`certificate validity must be 1..${MAX_CERT_LIFETIME_SECONDS} s`);
  const keys = (await webcrypto.subtle.generateKey(ED25519, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const publicKey = Buffer.from(await webcrypto.subtle.exportKey('raw', keys.publicKey));
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth], true),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    // The names the reference puts in its certificates (localhost, 127.0.0.1 as a DNS name, ::1):
    // its router checks the dialed host against them and hangs up on a mismatch.
    new x509.SubjectAlternativeNameExtension([
      { type: 'dns', value: 'localhost' }, { type: 'dns', value: '127.0.0.1' }, { type: 'ip', value: '127.0.0.1' }, { type: 'ip', value: '::1' },
    ]),
  ];
  if (opts.provider) {
    const quote = await opts.provider.getQuote(reportDataFor(publicKey));
    extensions.push(new x509.Extension(OID_QUOTE, true, new Uint8Array(quote)), new x509.Extension(OID_CLAIMS, true, new Uint8Array(claimsOf(publicKey))));
  }
  if (opts.role) extensions.push(new x509.Extension(OID_ROLE, false, new Uint8Array(Buffer.from(opts.role, 'utf8'))));
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomBytes(16).toString('hex').replace(/^[89a-f]/, '1'),
    name: `CN=${(opts.commonName ?? `cocoon-${opts.role ?? 'node'}`).replace(/[,=+<>#;"\\]/g, '_')}`,
    // A minute of slack for peers whose clocks run slightly behind.
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + validity * 1000),
    signingAlgorithm: ED25519,
    keys,
    extensions,
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  return {
    certPem: cert.toString('pem'),
    keyPem: `-----BEGIN PRIVATE KEY-----\n${pkcs8.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '')}\n-----END PRIVATE KEY-----\n`,
    certDer: Buffer.from(cert.rawData),
    publicKey,
    quoteKind: opts.provider?.kind ?? 'none',
    ...(opts.role && { role: opts.role }),
  };
}

export interface ParsedRaTlsCert {
  subject: string;
  notBefore: Date;
  notAfter: Date;
  publicKey: Buffer;
  /** null for a plain certificate. */
  quote: Buffer | null;
  claims: Buffer | null;
  /** Our role extension: a role, null when absent, 'invalid' when present but not a role. */
  role: NodeRole | null | 'invalid';
  selfSignatureValid: boolean;
  unknownCriticalExtensions: string[];
  /** Basic Constraints / Key Usage say this is a CA or not a signing key. */
  usageProblem: string | undefined;
  isEd25519: boolean;
}

// Critical extensions OpenSSL handles itself (so the reference accepts them) plus the two RA-TLS ones.
const KNOWN_CRITICAL = new Set([OID_QUOTE, OID_CLAIMS, '2.5.29.19', '2.5.29.15', '2.5.29.37', '2.5.29.17', '2.5.29.14', '2.5.29.35']);

export async function parseRaTlsCert(der: Buffer): Promise<ParsedRaTlsCert> {
  const cert = new x509.X509Certificate(new Uint8Array(der));
  const isEd25519 = cert.publicKey.algorithm.name === 'Ed25519';
  const spki = Buffer.from(cert.publicKey.rawData as ArrayBuffer);
  const one = (oid: string) => {
    const found = cert.extensions.filter((e) => e.type === oid);
    if (found.length > 1) throw new Error(`certificate carries extension ${oid} more than once`);
    return found[0];
  };
  const quoteExt = one(OID_QUOTE);
  const claimsExt = one(OID_CLAIMS);
  if (!!quoteExt !== !!claimsExt) throw new Error('certificate has one of the RA-TLS quote / claims extensions but not the other');
  const roleExt = one(OID_ROLE);
  const roleText = roleExt && Buffer.from(roleExt.value).toString('utf8');
  const bc = cert.getExtension(x509.BasicConstraintsExtension);
  const ku = cert.getExtension(x509.KeyUsagesExtension);
  const usageProblem = bc?.ca ? 'certificate is a CA certificate (Basic Constraints CA:TRUE)'
    : ku && !(ku.usages & x509.KeyUsageFlags.digitalSignature) ? 'certificate key usage does not allow digital signatures'
      : undefined;
  return {
    subject: cert.subject,
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    publicKey: spki.subarray(spki.length - 32),
    quote: quoteExt ? Buffer.from(quoteExt.value) : null,
    claims: claimsExt ? Buffer.from(claimsExt.value) : null,
    role: roleText === undefined ? null : (ROLES as readonly string[]).includes(roleText) ? (roleText as NodeRole) : 'invalid',
    selfSignatureValid: isEd25519 && cert.subject === cert.issuer && (await cert.verify({ signatureOnly: true })),
    unknownCriticalExtensions: cert.extensions.filter((e) => e.critical && !KNOWN_CRITICAL.has(e.type)).map((e) => e.type),
    usageProblem,
    isEd25519,
  };
}

import 'reflect-metadata';
import { createHash, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import type { QuoteProvider } from './quote-provider.ts';

/**
 * RA-TLS certificates: self-signed Ed25519, short-lived, with two critical extensions — the quote
 * and the user claims. Claims are canonical JSON that include the certificate's public key, and
 * the quote's REPORTDATA is SHA-512(claims), so a quote cannot be moved to another key.
 */
x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export const OID_QUOTE = '1.3.6.1.4.1.12345.1';
export const OID_CLAIMS = '1.3.6.1.4.1.12345.2';
const ED25519 = { name: 'Ed25519' };

export interface RaTlsIdentity {
  certPem: string;
  keyPem: string;
  certDer: Buffer;
  /** Raw 32-byte Ed25519 public key. */
  publicKey: Buffer;
  quoteKind: 'tdx' | 'fake';
}

export interface RaTlsOptions {
  provider: QuoteProvider;
  claims?: Record<string, string>;
  validitySeconds?: number;
  commonName?: string;
}

/** Canonical claims bytes: sorted keys, so the same claims always hash the same. */
export function encodeClaims(claims: Record<string, string>): Buffer {
  const sorted = Object.fromEntries(Object.entries(claims).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return Buffer.from(JSON.stringify(sorted), 'utf8');
}

export async function createRaTlsIdentity(opts: RaTlsOptions): Promise<RaTlsIdentity> {
  const keys = (await webcrypto.subtle.generateKey(ED25519, true, ['sign', 'verify'])) as CryptoKeyPair;
  const publicKey = Buffer.from(await webcrypto.subtle.exportKey('raw', keys.publicKey));
  const claims = encodeClaims({ ...opts.claims, public_key: publicKey.toString('hex') });
  const quote = await opts.provider.getQuote(createHash('sha512').update(claims).digest());
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: createHash('sha256').update(publicKey).digest('hex').slice(0, 16),
    name: `CN=${(opts.commonName ?? 'cocoon-node').replace(/[,=+<>#;"\\]/g, '_')}`,
    // A minute of slack for peers whose clocks run slightly behind.
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + (opts.validitySeconds ?? 86_400) * 1000),
    signingAlgorithm: ED25519,
    keys,
    extensions: [new x509.Extension(OID_QUOTE, true, new Uint8Array(quote)), new x509.Extension(OID_CLAIMS, true, new Uint8Array(claims))],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  return {
    certPem: cert.toString('pem'),
    keyPem: `-----BEGIN PRIVATE KEY-----\n${pkcs8.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '')}\n-----END PRIVATE KEY-----\n`,
    certDer: Buffer.from(cert.rawData),
    publicKey,
    quoteKind: opts.provider.kind,
  };
}

export interface ParsedRaTlsCert {
  subject: string;
  notBefore: Date;
  notAfter: Date;
  publicKey: Buffer;
  quote: Buffer;
  claimsBytes: Buffer;
  claims: Record<string, string>;
  selfSignatureValid: boolean;
  unknownCriticalExtensions: string[];
  isEd25519: boolean;
}

export async function parseRaTlsCert(der: Buffer): Promise<ParsedRaTlsCert> {
  const cert = new x509.X509Certificate(new Uint8Array(der));
  const isEd25519 = cert.publicKey.algorithm.name === 'Ed25519';
  const spki = Buffer.from(cert.publicKey.rawData as ArrayBuffer);
  const quoteExt = cert.extensions.find((e) => e.type === OID_QUOTE);
  const claimsExt = cert.extensions.find((e) => e.type === OID_CLAIMS);
  if (!quoteExt || !claimsExt) throw new Error('certificate lacks the RA-TLS quote or claims extension');
  const claimsBytes = Buffer.from(claimsExt.value);
  let claims: Record<string, string>;
  try {
    claims = JSON.parse(claimsBytes.toString('utf8'));
  } catch {
    throw new Error('RA-TLS claims are not valid JSON');
  }
  const known = new Set([OID_QUOTE, OID_CLAIMS]);
  return {
    subject: cert.subject,
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    publicKey: spki.subarray(spki.length - 32),
    quote: Buffer.from(quoteExt.value),
    claimsBytes,
    claims,
    selfSignatureValid: isEd25519 && cert.subject === cert.issuer && (await cert.verify({ signatureOnly: true })),
    unknownCriticalExtensions: cert.extensions.filter((e) => e.critical && !known.has(e.type)).map((e) => e.type),
    isEd25519,
  };
}

import 'reflect-metadata';
import { createHash, generateKeyPairSync, KeyObject, sign, webcrypto } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import * as x509 from '@peculiar/x509';
import { beforeAll, describe, expect, it } from 'vitest';
import { createLivePolicy } from './live-policy.ts';
import { createPolicy, type PolicySpec } from './policy.ts';
import { fakeQuoteProvider, type QuoteProvider } from './quote-provider.ts';
import { createRaTlsIdentity, OID_CLAIMS, OID_QUOTE, reportDataFor } from './ratls-cert.ts';
import { decodeRefusal, encodeRefusal } from './refusal.ts';
import { connectRaTls, createRaTlsServer, refusalOf } from './tls.ts';
import { LOCAL_POW_DIFFICULTY } from '../protocol/pow.ts';
import { parseTdxQuote, verifyTdxQuote } from './tdx-quote.ts';
import { createPeerVerifier } from './verifier.ts';

// Issue 9, finding by finding. Hostile-hardware cases use a TEST-ONLY stand-in Intel hierarchy
// (root → PCK CA → PCK leaf) that re-signs quote-a's header, TD report and QE report after the
// change under test; `testOnlyRootDer` is refused outside vitest (checked below).
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[1]);
const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
const real = readFileSync(new URL('../../../testdata/tdx/quote-a.dat', import.meta.url));
const day = 86_400_000;
type Pair = { cryptoKey: webcrypto.CryptoKeyPair; key: KeyObject };
let root: x509.X509Certificate, pckCa: x509.X509Certificate, pck: x509.X509Certificate, rootKey: Pair, pckCaKey: Pair, pckKey: Pair;
let rootDer: Buffer;

async function keyPair(): Promise<Pair> {
  const cryptoKey = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  return { cryptoKey, key: KeyObject.from(cryptoKey.privateKey as never) };
}
const p1363 = (key: KeyObject, data: Buffer) => sign('sha256', data, { key, dsaEncoding: 'ieee-p1363' });
async function issue(name: string, key: Pair, issuer: { cert: x509.X509Certificate; key: Pair } | undefined, ca: boolean, days = 365): Promise<x509.X509Certificate> {
  const now = Date.now();
  const base = {
    serialNumber: createHash('sha256').update(name).digest('hex').slice(0, 8), subject: `CN=${name}`, notBefore: new Date(now - day), notAfter: new Date(now + days * day), signingAlgorithm: alg,
    extensions: ca ? [new x509.BasicConstraintsExtension(true, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true)] : [new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true)],
  };
  if (!issuer) return x509.X509CertificateGenerator.createSelfSigned({ ...base, name: `CN=${name}`, keys: key.cryptoKey });
  return x509.X509CertificateGenerator.create({ ...base, issuer: issuer.cert.subject, publicKey: key.cryptoKey.publicKey, signingKey: issuer.key.cryptoKey.privateKey });
}

interface Hostile { reportData?: Buffer; tdAttributes?: number; qeMrSigner?: Buffer; chain?: x509.X509Certificate[]; signer?: KeyObject }
/** quote-a with the given changes, re-signed by the stand-in hierarchy (a host owner's forgery kit). */
function hostileQuote(h: Hostile = {}): Buffer {
  const header = Buffer.from(real.subarray(0, 48));
  const body = Buffer.from(real.subarray(48, 632));
  if (h.reportData) h.reportData.copy(body, 520);
  if (h.tdAttributes !== undefined) body[120] = h.tdAttributes;
  const att = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = att.publicKey.export({ format: 'jwk' });
  const attKey = Buffer.concat([Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
  const qeReport = Buffer.from(real.subarray(770, 1154));
  if (h.qeMrSigner) h.qeMrSigner.copy(qeReport, 128);
  const qeAuth = real.subarray(1220, 1220 + real.readUInt16LE(1218));
  createHash('sha256').update(attKey).update(qeAuth).digest().copy(qeReport, 320);
  qeReport.fill(0, 352, 384);
  const pem = Buffer.from((h.chain ?? [pck, pckCa, root]).map((c) => c.toString('pem')).join('\n') + '\n');
  const c5 = Buffer.alloc(6); c5.writeUInt16LE(5, 0); c5.writeUInt32LE(pem.length, 2);
  const al = Buffer.alloc(2); al.writeUInt16LE(qeAuth.length, 0);
  const body6 = Buffer.concat([qeReport, p1363(h.signer ?? pckKey.key, qeReport), al, qeAuth, c5, pem]);
  const c6 = Buffer.alloc(6); c6.writeUInt16LE(6, 0); c6.writeUInt32LE(body6.length, 2);
  const sig = Buffer.concat([p1363(att.privateKey, Buffer.concat([header, body])), attKey, c6, body6]);
  const len = Buffer.alloc(4); len.writeUInt32LE(sig.length, 0);
  return Buffer.concat([header, body, len, sig]);
}
const IMAGE_A = '04b3afd931d28680af91a15b09d672c40ad6b141f7f9089a8d67d595220f7436';
const hostileProvider = (h: Omit<Hostile, 'reportData'> = {}): QuoteProvider => ({ kind: 'tdx', getQuote: async (reportData) => hostileQuote({ ...h, reportData }) });
const tdx = (extra: Partial<PolicySpec> = {}) => createPolicy({ name: 'tdx', testOnlyRootDer: rootDer, allowedImageHashes: [IMAGE_A], requireCollateral: false, ...extra });

beforeAll(async () => {
  [rootKey, pckCaKey, pckKey] = await Promise.all([keyPair(), keyPair(), keyPair()]);
  root = await issue('Stand-in SGX Root CA', rootKey, undefined, true);
  pckCa = await issue('Stand-in SGX PCK Platform CA', pckCaKey, { cert: root, key: rootKey }, true);
  pck = await issue('Stand-in SGX PCK Certificate', pckKey, { cert: pckCa, key: pckCaKey }, false, 30);
  rootDer = Buffer.from(root.rawData);
}, 60_000);

describe('the stand-in hierarchy itself', () => {
  it('is accepted for a well-formed quote only inside tests, and never by default', async () => {
    const id = await createRaTlsIdentity({ provider: hostileProvider(), role: 'worker' });
    expect(await createPeerVerifier(tdx(), { expectedRole: 'worker' }).verify(id.certDer)).toMatchObject({ valid: true, imageHash: IMAGE_A });
    expect(await createPeerVerifier(tdx({ testOnlyRootDer: undefined })).verify(id.certDer)).toMatchObject({ valid: false, error: expect.stringMatching(/pinned Intel SGX Root CA/) });
    const saved = process.env.VITEST;
    process.env.VITEST = 'false';
    try {
      expect(() => verifyTdxQuote(parseTdxQuote(hostileQuote()), { testOnlyRootDer: rootDer })).toThrow(/only accepted inside the test runner/);
    } finally {
      process.env.VITEST = saved;
    }
  });
});

describe('issue 9 findings', () => {
  it('forged images: development quotes are refused by the default (tdx) policy and fake/any are refused on testnet/mainnet', async () => {
    const dev = await createRaTlsIdentity({ provider: fakeQuoteProvider(), role: 'worker' });
    expect(await createPeerVerifier(createPolicy({ name: 'tdx', allowedImageHashes: [IMAGE_A] })).verify(dev.certDer)).toMatchObject({ valid: false, code: 'development_quote' });
    for (const network of ['testnet', 'mainnet'] as const) {
      for (const name of ['fake', 'any'] as const) expect(() => createPolicy({ name, network })).toThrow(/refused on/);
    }
  });

  it('QE identity: a quote signed by a host-certified enclave that is not Intel\'s TD QE is refused', async () => {
    const id = await createRaTlsIdentity({ provider: hostileProvider({ qeMrSigner: Buffer.alloc(32, 0x42) }) });
    expect(await createPeerVerifier(tdx()).verify(id.certDer)).toMatchObject({ valid: false, code: 'qe_identity' });
  });

  it('no allowlist under tdx: every TD is refused, and without collateral the TCB cannot be judged', async () => {
    const id = await createRaTlsIdentity({ provider: hostileProvider() });
    expect(await createPeerVerifier(createPolicy({ name: 'tdx', testOnlyRootDer: rootDer, requireCollateral: false })).verify(id.certDer)).toMatchObject({ valid: false, code: 'image_not_allowed' });
    expect(await createPeerVerifier(tdx({ requireCollateral: true, collateral: { get: async () => undefined } })).verify(id.certDer)).toMatchObject({ valid: false, code: 'no_collateral' });
  });

  it('debug TDs are refused by the verifier itself', async () => {
    const id = await createRaTlsIdentity({ provider: hostileProvider({ tdAttributes: 0x01 }) });
    // The debug TD's image hash is the same (TDATTRIBUTES is not part of it): only the debug check can stop it.
    expect(await createPeerVerifier(tdx()).verify(id.certDer)).toMatchObject({ valid: false, code: 'debug_td', imageHash: IMAGE_A });
  });

  it('certificate lifetime is bounded: a 100-year certificate is refused', async () => {
    const keys = (await webcrypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
    const pub = Buffer.from(await webcrypto.subtle.exportKey('raw', keys.publicKey));
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: '01', name: 'CN=forever', notBefore: new Date(Date.now() - 1000), notAfter: new Date(Date.now() + 100 * 365 * day), signingAlgorithm: { name: 'Ed25519' }, keys,
      extensions: [new x509.Extension(OID_QUOTE, true, new Uint8Array(hostileQuote({ reportData: reportDataFor(pub) }))), new x509.Extension(OID_CLAIMS, true, new Uint8Array(pub))],
    });
    expect(await createPeerVerifier(tdx()).verify(Buffer.from(cert.rawData))).toMatchObject({ valid: false, code: 'bad_certificate', error: expect.stringMatching(/lifetime/) });
  });

  it('a cache hit re-checks the PCK chain\'s dates', async () => {
    const id = await createRaTlsIdentity({ provider: hostileProvider(), validitySeconds: 7 * 86_400 });
    let now = new Date();
    const v = createPeerVerifier(tdx(), { now: () => now });
    expect((await v.verify(id.certDer)).valid).toBe(true);
    now = new Date(Date.now() + 6 * day);
    expect((await v.verify(id.certDer)).valid).toBe(true);
    // Stand-in PCK leaf expires after 30 days; the certificate is still valid at +6 days, so move the leaf instead:
    const shortPck = await issue('Short-lived PCK', pckKey, { cert: pckCa, key: pckCaKey }, false, 2);
    const id2 = await createRaTlsIdentity({ provider: hostileProvider({ chain: [shortPck, pckCa, root] }), validitySeconds: 7 * 86_400 });
    now = new Date();
    expect((await v.verify(id2.certDer)).valid).toBe(true);
    now = new Date(Date.now() + 3 * day);
    expect(await v.verify(id2.certDer)).toMatchObject({ valid: false, error: expect.stringMatching(/Short-lived PCK.*not valid at/) });
  });

  it('CA and key usage on the PCK chain: a certificate issued by the PCK leaf is not accepted as signer', async () => {
    const rogueKey = await keyPair();
    const rogue = await issue('Rogue signer', rogueKey, { cert: pck, key: pckKey }, false);
    const id = await createRaTlsIdentity({ provider: hostileProvider({ chain: [rogue, pck, root], signer: rogueKey.key }) });
    expect(await createPeerVerifier(tdx()).verify(id.certDer)).toMatchObject({ valid: false, error: expect.stringMatching(/not a CA|not signed by its issuer/) });
  });

  it('the role is checked: a client certificate on the worker port is refused', async () => {
    const client = await createRaTlsIdentity({ provider: hostileProvider(), role: 'client' });
    expect(await createPeerVerifier(tdx(), { expectedRole: 'worker' }).verify(client.certDer)).toMatchObject({ valid: false, code: 'wrong_role' });
  });

  it('canonical parsing: non-zero trailing bytes and a size field off by one are refused', () => {
    expect(() => parseTdxQuote(Buffer.concat([real, Buffer.from([1])]))).toThrow(/non-padding bytes/);
    const bad = Buffer.from(real);
    bad.writeUInt32LE(real.readUInt32LE(632) - 1, 632);
    expect(() => parseTdxQuote(bad)).toThrow(/does not fill|non-padding|end where/);
    expect(() => parseTdxQuote(real)).not.toThrow(); // genuine quotes end in zero padding
  });
});

describe('the refusal reason travels to the refused peer', () => {
  it('round-trips the cocoonx.attestationRefused frame', () => {
    expect(decodeRefusal(encodeRefusal({ code: 'wrong_role', reason: 'x'.repeat(300) }))).toEqual({ code: 'wrong_role', reason: 'x'.repeat(300) });
    expect(decodeRefusal(Buffer.from('GET / HTTP/1.1\r\n\r\n'))).toBeNull();
  });

  it('a worker port refusing a client certificate sends the reason; the client sees it', async () => {
    const server = await createRaTlsIdentity({ provider: fakeQuoteProvider(), role: 'proxy' });
    const client = await createRaTlsIdentity({ provider: fakeQuoteProvider(), role: 'client' });
    const srv = createRaTlsServer({ identity: server, verifier: createPeerVerifier(createPolicy({ name: 'fake' }), { expectedRole: 'worker' }), onSecureConnection: (s) => s.end(), powDifficulty: LOCAL_POW_DIFFICULTY });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    try {
      const { port } = srv.address() as AddressInfo;
      const { socket } = await connectRaTls({ host: '127.0.0.1', port, identity: client, verifier: createPeerVerifier(createPolicy({ name: 'fake' }), { expectedRole: 'proxy' }) });
      const closed = new Promise((r) => socket.on('close', r));
      socket.resume();
      await closed;
      expect(refusalOf(socket)).toMatchObject({ code: 'wrong_role', reason: expect.stringMatching(/client/) });
    } finally {
      srv.close();
    }
  });
});

describe('live allowlists from the root contract', () => {
  it('swaps allowlists when the root version changes and closes connections whose peer is no longer allowed', async () => {
    let root = { version: 1, proxyImages: [IMAGE_A], workerImages: [IMAGE_A] };
    const live = await createLivePolicy({ spec: { name: 'tdx', testOnlyRootDer: rootDer, requireCollateral: false }, read: async () => root, pollMs: 3_600_000 });
    try {
      const worker = await createRaTlsIdentity({ provider: hostileProvider(), role: 'worker' });
      const v = live.verifierFor('worker');
      expect((await v.verify(worker.certDer)).valid).toBe(true);
      const closed: string[] = [];
      v.watch!(worker.certDer, (reason) => closed.push(reason));
      const seen: number[] = [];
      live.subscribe((l) => seen.push(Number(l.version)));
      expect(await live.refresh()).toBe(false);
      expect(closed).toEqual([]);
      root = { version: 2, proxyImages: [IMAGE_A], workerImages: ['ab'.repeat(32)] };
      expect(await live.refresh()).toBe(true);
      expect(seen).toEqual([2]);
      expect(closed).toEqual([expect.stringMatching(/no longer valid: image hash .* not in the allowed list/)]);
      expect(await v.verify(worker.certDer)).toMatchObject({ valid: false, code: 'image_not_allowed' });
    } finally {
      live.stop();
    }
  });
});

import { createHash } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { describe, expect, it } from 'vitest';
import {
  configfsTsmQuoteProvider, connectRaTls, createPeerVerifier, createPolicy, createRaTlsIdentity, createRaTlsServer,
  fakeQuoteProvider, type RaTlsIdentity,
} from './index.ts';
import { LOCAL_POW_DIFFICULTY } from '../protocol/pow.ts';
import { OID_CLAIMS, OID_QUOTE } from './ratls-cert.ts';

const encodeClaims = (c: { public_key: string }) => Buffer.from(c.public_key, 'hex');

const fakePolicy = () => createPolicy({ name: 'fake' });

async function handshake(server: RaTlsIdentity, client: RaTlsIdentity, serverPolicy = fakePolicy(), clientPolicy = fakePolicy()) {
  const accepted: string[] = [];
  const srv = createRaTlsServer({
    identity: server, verifier: createPeerVerifier(serverPolicy), powDifficulty: LOCAL_POW_DIFFICULTY,
    onSecureConnection: (socket, peer) => { accepted.push(peer.imageHash!); socket.end(); },
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  try {
    const { port } = srv.address() as AddressInfo;
    let res;
    try {
      res = await connectRaTls({ host: '127.0.0.1', port, identity: client, verifier: createPeerVerifier(clientPolicy) });
    } catch (err) {
      // The server may hang up on a refused client before the client has finished verifying it.
      if ((err as { code?: string }).code === 'connect_failed') return { peer: null, accepted };
      throw err;
    }
    const closed = new Promise((r) => res.socket.on('close', r));
    res.socket.resume();
    await closed;
    return { peer: res.peer, accepted };
  } finally {
    srv.close();
  }
}

describe('RA-TLS certificates and the handshake', () => {
  it('two fake-attested peers complete mutual TLS 1.3 and see each other\'s image hash', async () => {
    const a = await createRaTlsIdentity({ provider: fakeQuoteProvider() });
    const b = await createRaTlsIdentity({ provider: fakeQuoteProvider() });
    const { peer, accepted } = await handshake(a, b);
    expect(peer).toMatchObject({ valid: true, quoteKind: 'fake' });
    expect(accepted).toHaveLength(1);
    // Development quotes carry no measurements: both sides have the zero-measurement image hash.
    expect(accepted[0]).toBe(peer!.imageHash);
  });

  it('binds the quote to the key: REPORTDATA is SHA-512 of claims carrying the public key', async () => {
    const id = await createRaTlsIdentity({ provider: fakeQuoteProvider(), role: 'proxy' });
    const report = await createPeerVerifier(fakePolicy()).verify(id.certDer);
    const claims = encodeClaims({ public_key: id.publicKey.toString('hex') });
    expect(report.measurements!.reportData).toBe(createHash('sha512').update(claims).digest('hex'));
  });

  it('refuses a server whose image hash is not allowed; the app never sees the connection', async () => {
    const server = await createRaTlsIdentity({ provider: fakeQuoteProvider() });
    const client = await createRaTlsIdentity({ provider: fakeQuoteProvider() });
    await expect(handshake(server, client, fakePolicy(), createPolicy({ name: 'fake', allowedImageHashes: ['00'.repeat(32)] })))
      .rejects.toMatchObject({ code: 'attestation_refused', message: expect.stringMatching(/not in the allowed list/) });
  });

  it('refuses a client that fails the server policy before any application byte', async () => {
    const server = await createRaTlsIdentity({ provider: fakeQuoteProvider() });
    const client = await createRaTlsIdentity({ provider: fakeQuoteProvider() });
    const { accepted } = await handshake(server, client, createPolicy({ name: 'tdx' }));
    expect(accepted).toEqual([]);
  });

  it('refuses fake quotes under tdx and accepts them under fake', async () => {
    const id = await createRaTlsIdentity({ provider: fakeQuoteProvider() });
    const tdx = await createPeerVerifier(createPolicy({ name: 'tdx' })).verify(id.certDer);
    expect(tdx).toMatchObject({ valid: false, code: 'development_quote', error: expect.stringMatching(/fake/) });
    expect((await createPeerVerifier(fakePolicy()).verify(id.certDer)).valid).toBe(true);
  });

  it('refuses an expired certificate, and a chain deeper than one', async () => {
    const id = await createRaTlsIdentity({ provider: fakeQuoteProvider(), validitySeconds: 1 });
    const later = createPeerVerifier(fakePolicy(), { now: () => new Date(Date.now() + 3600_000) });
    expect(await later.verify(id.certDer)).toMatchObject({ valid: false, error: expect.stringMatching(/not valid at/) });
    expect(await createPeerVerifier(fakePolicy()).verify(id.certDer, { chainLength: 2 })).toMatchObject({ valid: false, error: expect.stringMatching(/chain/) });
  });

  it('refuses a quote moved to another key and an unknown critical extension', async () => {
    const victim = await createRaTlsIdentity({ provider: fakeQuoteProvider() });
    const parsed = new x509.X509Certificate(new Uint8Array(victim.certDer));
    const stolenQuote = new Uint8Array(parsed.getExtension(OID_QUOTE)!.value);
    const keys = (await webcrypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
    const pub = Buffer.from(await webcrypto.subtle.exportKey('raw', keys.publicKey)).toString('hex');
    const make = (extra: x509.Extension[]) => x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: '02', name: 'CN=thief', notBefore: new Date(Date.now() - 1000), notAfter: new Date(Date.now() + 3600_000),
      signingAlgorithm: { name: 'Ed25519' }, keys,
      extensions: [new x509.Extension(OID_QUOTE, true, stolenQuote), new x509.Extension(OID_CLAIMS, true, new Uint8Array(encodeClaims({ public_key: pub }))), ...extra],
    });
    const thief = await make([]);
    expect(await createPeerVerifier(fakePolicy()).verify(Buffer.from(thief.rawData))).toMatchObject({ valid: false, error: expect.stringMatching(/another key/) });
    const odd = await make([new x509.Extension('1.2.3.4.5', true, new Uint8Array([1]))]);
    expect(await createPeerVerifier(fakePolicy()).verify(Buffer.from(odd.rawData))).toMatchObject({ valid: false, error: expect.stringMatching(/unknown critical/) });
  });

  it('under tdx, a genuine DCAP quote verifies but is refused when its REPORTDATA does not bind the certificate key', async () => {
    // The real test quote was made for someone else's REPORTDATA: the chain and signatures pass, the binding must not.
    const real = await readFile(new URL('../../../testdata/tdx/quote-a.dat', import.meta.url));
    const id = await createRaTlsIdentity({ provider: { kind: 'tdx', getQuote: async () => real } });
    const report = await createPeerVerifier(createPolicy({ name: 'tdx' })).verify(id.certDer);
    expect(report).toMatchObject({ valid: false, quoteKind: 'tdx', tcbStatus: 'unknown', error: expect.stringMatching(/another key/) });
    expect(report.measurements?.mrTd).toMatch(/^[0-9a-f]{96}$/);
    const flipped = Buffer.from(real);
    flipped[48 + 136] = flipped[48 + 136]! ^ 1; // one MRTD bit: now the quote signature itself must fail first
    const bad = await createRaTlsIdentity({ provider: { kind: 'tdx', getQuote: async () => flipped } });
    expect(await createPeerVerifier(createPolicy({ name: 'tdx' })).verify(bad.certDer)).toMatchObject({ valid: false, error: expect.stringMatching(/quote verification failed: quote signature/) });
  });

  it('refuses, in the handshake, a peer that presents a certificate chain (depth > 0)', async () => {
    // A leaf with a valid fake quote bound to its own key, but issued by a CA the peer also sends.
    const caKeys = (await webcrypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
    const leafKeys = (await webcrypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
    const now = Date.now();
    const ca = await x509.X509CertificateGenerator.createSelfSigned({ serialNumber: '0a', name: 'CN=ca', notBefore: new Date(now - 60_000), notAfter: new Date(now + 3600_000), signingAlgorithm: { name: 'Ed25519' }, keys: caKeys, extensions: [new x509.BasicConstraintsExtension(true, undefined, true)] });
    const pub = Buffer.from(await webcrypto.subtle.exportKey('raw', leafKeys.publicKey)).toString('hex');
    const claims = encodeClaims({ public_key: pub });
    const quote = await fakeQuoteProvider().getQuote(createHash('sha512').update(claims).digest());
    const leaf = await x509.X509CertificateGenerator.create({
      serialNumber: '0b', subject: 'CN=leaf', issuer: ca.subject, notBefore: new Date(now - 60_000), notAfter: new Date(now + 3600_000),
      signingAlgorithm: { name: 'Ed25519' }, publicKey: leafKeys.publicKey, signingKey: caKeys.privateKey,
      extensions: [new x509.Extension(OID_QUOTE, true, new Uint8Array(quote)), new x509.Extension(OID_CLAIMS, true, new Uint8Array(claims))],
    });
    const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', leafKeys.privateKey)).toString('base64');
    const chained: RaTlsIdentity = {
      certPem: leaf.toString('pem') + '\n' + ca.toString('pem') + '\n',
      keyPem: `-----BEGIN PRIVATE KEY-----\n${pkcs8}\n-----END PRIVATE KEY-----\n`,
      certDer: Buffer.from(leaf.rawData), publicKey: Buffer.from(pub, 'hex'), quoteKind: 'fake',
    };
    const server = await createRaTlsIdentity({ provider: fakeQuoteProvider() });
    const { accepted } = await handshake(server, chained);
    expect(accepted).toEqual([]);
  });

  it('serves repeated verifications of the same certificate from the cache', async () => {
    const id = await createRaTlsIdentity({ provider: fakeQuoteProvider() });
    const verifier = createPeerVerifier(fakePolicy());
    const first = await verifier.verify(id.certDer);
    expect(await verifier.verify(id.certDer)).toBe(first);
  });

  it('gets quotes through the configfs-tsm interface (on a plain directory)', async () => {
    const root = await mkdtemp(join(tmpdir(), 'tsm-'));
    const provider = configfsTsmQuoteProvider({ path: root });
    // A stand-in for the kernel: answers the report entry's outblob with a marker + inblob.
    const orig = writeFile;
    const watcher = setInterval(async () => {
      const { readdir } = await import('node:fs/promises');
      for (const e of await readdir(root).catch(() => [])) {
        const inblob = await readFile(join(root, e, 'inblob')).catch(() => null);
        if (inblob) await orig(join(root, e, 'outblob'), Buffer.concat([Buffer.from('QUOTE:'), inblob])).catch(() => undefined);
      }
    }, 5);
    try {
      const quote = await provider.getQuote(Buffer.alloc(64, 7));
      expect(quote!.subarray(0, 6).toString()).toBe('QUOTE:');
      expect(quote!.subarray(6)).toEqual(Buffer.alloc(64, 7));
    } finally {
      clearInterval(watcher);
    }
    await expect(configfsTsmQuoteProvider({ path: '/nonexistent/tsm/report' }).getQuote(Buffer.alloc(64))).rejects.toMatchObject({ code: 'tsm_unavailable' });
  });
});

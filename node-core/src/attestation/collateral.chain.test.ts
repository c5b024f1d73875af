import 'reflect-metadata';
import { createHash, generateKeyPairSync, KeyObject, sign, webcrypto, type KeyObject as Key } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { utils, type Collateral } from '@phala/dcap-qvl';
import { beforeAll, describe, expect, it } from 'vitest';
import { fetchCollateralFromPccs, loadCollateral, parseCollateral, tcbStatusWithCollateral } from './collateral.ts';

// No genuine collateral exists offline, so this builds a stand-in Intel hierarchy (root, PCK CA,
// PCK leaf carrying the real quote's SGX extension, TCB signing cert), re-signs quote-a with it and
// signs its own TCB info / QE identity / CRLs: every branch then runs through the real code.
const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
const SGX_EXT = '1.2.840.113741.1.13.1';
const real = readFileSync(new URL('../../../testdata/tdx/quote-a.dat', import.meta.url));
const NOW = new Date('2026-06-01T00:00:00Z');
const day = 86_400_000;

type Pair = { cryptoKey: webcrypto.CryptoKeyPair; key: Key };
async function keyPair(): Promise<Pair> {
  const cryptoKey = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  return { cryptoKey, key: KeyObject.from(cryptoKey.privateKey as never) };
}
const p1363 = (key: Key, data: Buffer): Buffer => sign('sha256', data, { key, dsaEncoding: 'ieee-p1363' });

let root: x509.X509Certificate, pckCa: x509.X509Certificate, pck: x509.X509Certificate, tcbSigner: x509.X509Certificate;
let rootKey: Pair, pckCaKey: Pair, pckKey: Pair, tcbKey: Pair;
let fmspc: string, cpuSvn: number[], pceSvn: number, teeTcbSvn: number[];
let quote: Buffer;

async function issue(name: string, serial: string, key: Pair, issuer: { cert: x509.X509Certificate; key: Pair } | undefined, ca: boolean, extra: x509.Extension[] = []): Promise<x509.X509Certificate> {
  const base = { serialNumber: serial, subject: `CN=${name}`, notBefore: new Date(NOW.getTime() - 365 * day), notAfter: new Date(NOW.getTime() + 365 * day), signingAlgorithm: alg, extensions: [...(ca ? [new x509.BasicConstraintsExtension(true, undefined, true)] : []), ...extra] };
  if (!issuer) return x509.X509CertificateGenerator.createSelfSigned({ ...base, name: `CN=${name}`, keys: key.cryptoKey });
  return x509.X509CertificateGenerator.create({ ...base, issuer: issuer.cert.subject, publicKey: key.cryptoKey.publicKey, signingKey: issuer.key.cryptoKey.privateKey });
}

/** quote-a's header, TD report and QE report, re-signed: new attestation key, QE report by our PCK. */
function buildQuote(): Buffer {
  const att = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = att.publicKey.export({ format: 'jwk' });
  const attKey = Buffer.concat([Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
  const qeReport = Buffer.from(real.subarray(770, 1154));
  const qeAuthLen = real.readUInt16LE(1218);
  const qeAuth = real.subarray(1220, 1220 + qeAuthLen);
  createHash('sha256').update(attKey).update(qeAuth).digest().copy(qeReport, 320);
  qeReport.fill(0, 352, 384);
  const pem = Buffer.from([pck, pckCa, root].map((c) => c.toString('pem')).join('\n') + '\n');
  const certData5 = Buffer.alloc(6); certData5.writeUInt16LE(5, 0); certData5.writeUInt32LE(pem.length, 2);
  const authLen = Buffer.alloc(2); authLen.writeUInt16LE(qeAuthLen, 0);
  const body6 = Buffer.concat([qeReport, p1363(pckKey.key, qeReport), authLen, qeAuth, certData5, pem]);
  const head6 = Buffer.alloc(6); head6.writeUInt16LE(6, 0); head6.writeUInt32LE(body6.length, 2);
  const signed = real.subarray(0, 632);
  const sigData = Buffer.concat([p1363(att.privateKey, signed), attKey, head6, body6]);
  const len = Buffer.alloc(4); len.writeUInt32LE(sigData.length, 0);
  return Buffer.concat([signed, len, sigData]);
}

interface Options { levels?: { status: string; advisories?: string[]; tdx?: number[]; sgx?: number[] }[]; qeStatus?: string; revokePck?: boolean; tcbNextUpdate?: Date; crlSigner?: Pair; tamperTcbInfo?: boolean }

async function collateral(o: Options = {}): Promise<Collateral> {
  const issueDate = new Date(NOW.getTime() - day).toISOString();
  const nextUpdate = (o.tcbNextUpdate ?? new Date(NOW.getTime() + 30 * day)).toISOString();
  const levels = (o.levels ?? [{ status: 'UpToDate' }]).map((l) => ({
    tcb: { sgxtcbcomponents: (l.sgx ?? cpuSvn).map((svn) => ({ svn })), pcesvn: pceSvn, tdxtcbcomponents: (l.tdx ?? teeTcbSvn).map((svn) => ({ svn })) },
    tcbDate: '2025-01-01T00:00:00Z', tcbStatus: l.status, ...(l.advisories ? { advisoryIDs: l.advisories } : {}),
  }));
  const tcbInfo = JSON.stringify({ id: 'TDX', version: 3, issueDate, nextUpdate, fmspc, pceId: '0000', tcbType: 0, tcbEvaluationDataNumber: 17, tcbLevels: levels });
  const qe = Buffer.from(real.subarray(770, 1154));
  const qeIdentity = JSON.stringify({
    id: 'TD_QE', version: 2, issueDate, nextUpdate, tcbEvaluationDataNumber: 17,
    miscselect: qe.subarray(16, 20).toString('hex'), miscselectMask: 'FFFFFFFF', attributes: qe.subarray(48, 64).toString('hex'), attributesMask: 'FBFFFFFFFFFFFFFF0000000000000000',
    mrsigner: qe.subarray(128, 160).toString('hex'), isvprodid: qe.readUInt16LE(256), tcbLevels: [{ tcb: { isvsvn: 0 }, tcbDate: '2025-01-01T00:00:00Z', tcbStatus: o.qeStatus ?? 'UpToDate' }],
  });
  const crl = async (issuer: x509.X509Certificate, key: Pair, revoked: string[]) => Buffer.from((await x509.X509CrlGenerator.create({
    issuer: issuer.subject, thisUpdate: new Date(NOW.getTime() - day), nextUpdate: new Date(NOW.getTime() + 30 * day), signingAlgorithm: alg, signingKey: key.cryptoKey.privateKey,
    entries: revoked.map((serialNumber) => ({ serialNumber, revocationDate: new Date(NOW.getTime() - day) })),
  })).rawData).toString('hex');
  const chain = [tcbSigner, root].map((c) => c.toString('pem')).join('\n');
  const tcbSig = p1363(tcbKey.key, Buffer.from(tcbInfo));
  return {
    pck_crl_issuer_chain: [pckCa, root].map((c) => c.toString('pem')).join('\n'),
    root_ca_crl: await crl(root, rootKey, []),
    pck_crl: await crl(pckCa, o.crlSigner ?? pckCaKey, o.revokePck ? [pck.serialNumber] : []),
    tcb_info_issuer_chain: chain, tcb_info: o.tamperTcbInfo ? tcbInfo.replace('"version":3', '"version": 3') : tcbInfo, tcb_info_signature: tcbSig.toString('hex'),
    qe_identity_issuer_chain: chain, qe_identity: qeIdentity, qe_identity_signature: p1363(tcbKey.key, Buffer.from(qeIdentity)).toString('hex'),
  } as Collateral;
}

const evaluate = async (c: Collateral, at = NOW) => tcbStatusWithCollateral(quote, c, at, Buffer.from(root.rawData));

beforeAll(async () => {
  [rootKey, pckCaKey, pckKey, tcbKey] = await Promise.all([keyPair(), keyPair(), keyPair(), keyPair()]);
  const realPck = new x509.X509Certificate(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/.exec(real.subarray(1258).toString('latin1'))![0]);
  const ext = realPck.getExtension(SGX_EXT)!;
  const der = Buffer.from(realPck.rawData);
  const section = utils.getIntelExtension(der);
  fmspc = Buffer.from(utils.getFmspc(section)).toString('hex');
  cpuSvn = [...utils.getCpuSvn(section)];
  pceSvn = utils.getPceSvn(section);
  teeTcbSvn = [...real.subarray(48, 64)];
  root = await issue('Test SGX Root CA', '01', rootKey, undefined, true);
  pckCa = await issue('Test SGX PCK Platform CA', '02', pckCaKey, { cert: root, key: rootKey }, true);
  pck = await issue('Test SGX PCK Certificate', '0a0b0c', pckKey, { cert: pckCa, key: pckCaKey }, false, [new x509.Extension(SGX_EXT, false, ext.value)]);
  tcbSigner = await issue('Test SGX TCB Signing', '03', tcbKey, { cert: root, key: rootKey }, false);
  quote = buildQuote();
}, 60_000);

describe('collateral evaluation against a stand-in Intel hierarchy', () => {
  it('reports UpToDate when the quote meets the highest TCB level', async () => {
    expect(await evaluate(await collateral())).toEqual({ tcbStatus: 'UpToDate', advisoryIds: [] });
  });

  it.each(['SWHardeningNeeded', 'ConfigurationNeeded', 'ConfigurationAndSWHardeningNeeded', 'OutOfDate', 'OutOfDateConfigurationNeeded'])('reports %s with its advisories', async (status) => {
    const r = await evaluate(await collateral({ levels: [{ status, advisories: ['INTEL-SA-00001', 'INTEL-SA-00002'] }] }));
    expect(r).toEqual({ tcbStatus: status, advisoryIds: ['INTEL-SA-00001', 'INTEL-SA-00002'] });
  });

  it('skips levels the quote does not meet (TEE TCB SVN, SGX components) and takes the first it meets', async () => {
    const higherTdx = teeTcbSvn.map((v) => v + 1);
    const higherSgx = cpuSvn.map((v) => v + 1);
    const c = await collateral({ levels: [{ status: 'UpToDate', tdx: higherTdx }, { status: 'UpToDate', sgx: higherSgx }, { status: 'OutOfDate', advisories: ['INTEL-SA-00837'] }] });
    expect(await evaluate(c)).toEqual({ tcbStatus: 'OutOfDate', advisoryIds: ['INTEL-SA-00837'] });
    await expect(evaluate(await collateral({ levels: [{ status: 'UpToDate', tdx: higherTdx }] }))).rejects.toThrow(/No matching TCB level/);
  });

  it('merges the QE identity status (worse one wins)', async () => {
    expect((await evaluate(await collateral({ qeStatus: 'OutOfDate' }))).tcbStatus).toBe('OutOfDate');
  });

  it('takes CRLs as PEM as well as hex DER, and still finds a revoked PCK in them', async () => {
    const pem = (hex: string) => `-----BEGIN X509 CRL-----\n${Buffer.from(hex, 'hex').toString('base64').replace(/(.{64})/g, '$1\n')}\n-----END X509 CRL-----\n`;
    const asPem = async (o: Options) => {
      const c = await collateral(o);
      return parseCollateral(JSON.stringify({ ...c, root_ca_crl: pem(c.root_ca_crl as string), pck_crl: pem(c.pck_crl as string) }));
    };
    expect((await evaluate(await asPem({}))).tcbStatus).toBe('UpToDate');
    await expect(evaluate(await asPem({ revokePck: true }))).rejects.toThrow(/revoked/i);
  });

  it('refuses a Revoked TCB level', async () => {
    await expect(evaluate(await collateral({ levels: [{ status: 'Revoked' }] }))).rejects.toThrow(/TCB status is invalid: Revoked/);
  });

  it('refuses a revoked PCK certificate', async () => {
    await expect(evaluate(await collateral({ revokePck: true }))).rejects.toThrow(/revoked/i);
  });

  it('refuses a PCK CRL not signed by the PCK CA (a forged CRL could hide a revocation)', async () => {
    await expect(evaluate(await collateral({ crlSigner: tcbKey }))).rejects.toThrow(/pck_crl is not signed/);
  });

  it('refuses a TCB info whose signature does not cover its text', async () => {
    await expect(evaluate(await collateral({ tamperTcbInfo: true }))).rejects.toThrow(/Signature is invalid for tcb_info/);
  });

  it('refuses expired collateral', async () => {
    await expect(evaluate(await collateral({ tcbNextUpdate: new Date(NOW.getTime() - 1000) }))).rejects.toThrow(/TCBInfo expired/);
    await expect(evaluate(await collateral(), new Date(NOW.getTime() + 60 * day))).rejects.toThrow(/not current/);
  });

  it('refuses the same collateral under the pinned Intel root (the default)', async () => {
    await expect(tcbStatusWithCollateral(quote, await collateral(), NOW)).rejects.toThrow(/not issued by the pinned Intel SGX Root CA/);
  });
});

describe('loading the collateral bundle', () => {
  it('from a file and from a local HTTP server, both evaluating to the same status', async () => {
    const bundle = JSON.stringify(await collateral({ levels: [{ status: 'SWHardeningNeeded', advisories: ['INTEL-SA-00615'] }] }));
    const dir = mkdtempSync(join(tmpdir(), 'collateral-'));
    const server = createServer((req, res) => {
      if (req.url === '/bundle.json') res.end(bundle);
      else res.writeHead(404).end();
    });
    try {
      writeFileSync(join(dir, 'c.json'), bundle);
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const expected = { tcbStatus: 'SWHardeningNeeded', advisoryIds: ['INTEL-SA-00615'] };
      expect(await evaluate(await loadCollateral(join(dir, 'c.json')))).toEqual(expected);
      expect(await evaluate(await loadCollateral(`${base}/bundle.json`))).toEqual(expected);
      await expect(loadCollateral(`${base}/missing`)).rejects.toThrow(/answered HTTP 404/);
      await expect(loadCollateral(join(dir, 'absent.json'))).rejects.toThrow(/cannot read collateral file .*ENOENT/);
    } finally {
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('fetching collateral from a PCCS v4 API', () => {
  it('gets the PCK CRL, TCB info, QE identity and root CRL with their header chains, and evaluates them', async () => {
    const c = await collateral({ levels: [{ status: 'OutOfDate', advisories: ['INTEL-SA-00837'] }] });
    const hex = (v: unknown) => Buffer.from(v as string, 'hex');
    const seen: string[] = [];
    // A stand-in PCCS: the endpoints and headers a PCCS v4 serves (chains URL-encoded in headers).
    const pccs = createServer((req, res) => {
      const url = new URL(req.url!, 'http://x');
      seen.push(url.pathname);
      if (url.pathname === '/sgx/certification/v4/pckcrl') {
        res.writeHead(200, { 'SGX-PCK-CRL-Issuer-Chain': encodeURIComponent(c.pck_crl_issuer_chain) }).end(hex(c.pck_crl));
      } else if (url.pathname === '/tdx/certification/v4/tcb' && url.searchParams.get('fmspc')?.toLowerCase() === fmspc.toLowerCase()) {
        res.writeHead(200, { 'TCB-Info-Issuer-Chain': encodeURIComponent(c.tcb_info_issuer_chain), 'content-type': 'application/json' })
          .end(`{"tcbInfo":${c.tcb_info},"signature":"${c.tcb_info_signature as unknown as string}"}`);
      } else if (url.pathname === '/tdx/certification/v4/qe/identity') {
        res.writeHead(200, { 'SGX-Enclave-Identity-Issuer-Chain': encodeURIComponent(c.qe_identity_issuer_chain), 'content-type': 'application/json' })
          .end(`{"enclaveIdentity":${c.qe_identity},"signature":"${c.qe_identity_signature as unknown as string}"}`);
      } else if (url.pathname === '/sgx/certification/v4/rootcacrl') {
        res.end(c.root_ca_crl as unknown as string);
      } else res.writeHead(404).end();
    });
    await new Promise<void>((r) => pccs.listen(0, '127.0.0.1', r));
    try {
      const base = `http://127.0.0.1:${(pccs.address() as AddressInfo).port}`;
      const fetched = await fetchCollateralFromPccs(`${base}/`, quote);
      expect(seen).toEqual(expect.arrayContaining(['/sgx/certification/v4/pckcrl', '/tdx/certification/v4/tcb', '/tdx/certification/v4/qe/identity', '/sgx/certification/v4/rootcacrl']));
      expect(await evaluate(fetched)).toEqual({ tcbStatus: 'OutOfDate', advisoryIds: ['INTEL-SA-00837'] });
      await expect(fetchCollateralFromPccs('http://127.0.0.1:9', quote, 3000)).rejects.toThrow(/cannot fetch collateral from PCCS/);
      await expect(fetchCollateralFromPccs('ftp://pccs', quote)).rejects.toThrow(/must be http/);
    } finally {
      pccs.close();
    }
  });
});

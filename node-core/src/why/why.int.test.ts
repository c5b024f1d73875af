import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createTcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPeerVerifier, createPolicy, createRaTlsIdentity, fakeQuoteProvider, type PeerVerifier } from '../attestation/index.ts';
import { startLocalChain, type LocalChain } from '../chain/local/local-chain.ts';
import { createLogger } from '../log.ts';
import { DEV_IMAGE_HASH } from '../network/dev-images.ts';
import { LOCAL_POW_DIFFICULTY } from '../protocol/pow.ts';
import { startProxy, type ProxyHandle } from '../proxy/proxy-runner.ts';
import type { Finding } from './findings.ts';
import { MAINNET_ZERO_STATE_ROOT_HASH } from './chain-probe.ts';
import { formatWhy, runWhy } from './why.ts';

/**
 * `cocoon why` against real parts: recorded host trees, the embedded local chain (its root lacks
 * the image), endpoints that are down or answer like a misconfigured public API (loopback HTTP
 * servers standing in for toncenter, which this machine cannot reach), and real proxies on
 * loopback whose worker policies refuse this worker for each reason.
 */
const log = createLogger('why-test');
const hostTree = (name: string) => fileURLToPath(new URL(`../../../testdata/hosts/${name}`, import.meta.url));
const home = mkdtempSync(join(tmpdir(), 'cocoon-why-'));
const by = (r: { findings: Finding[] }, id: string, subject?: string) => r.findings.find((f) => f.id === id && (subject === undefined || f.subject === subject));
const closedPort = () => new Promise<number>((resolve) => {
  const s = createTcpServer().listen(0, '127.0.0.1', () => {
    const { port } = s.address() as { port: number };
    s.close(() => resolve(port));
  });
});

let chain: LocalChain;
const servers: Server[] = [];
const proxies: ProxyHandle[] = [];

/** A loopback HTTP endpoint answering JSON-RPC like a public TON API would in the case at hand. */
async function fakeEndpoint(handler: (res: import('node:http').ServerResponse) => void): Promise<string> {
  const s = createServer((req, res) => { req.resume(); req.on('end', () => handler(res)); });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(s.address() as { port: number }).port}/jsonRPC`;
}

async function proxyWith(workerVerifier: PeerVerifier): Promise<string> {
  const dev = (role: 'client') => createPeerVerifier(createPolicy({ name: 'fake', network: 'local' }), { expectedRole: role });
  const p = await startProxy({ identity: await createRaTlsIdentity({ provider: fakeQuoteProvider(), role: 'proxy' }), log, workerVerifier, clientVerifier: dev('client'), powDifficulty: LOCAL_POW_DIFFICULTY, statsPort: null });
  proxies.push(p);
  return `127.0.0.1:${p.workerEndpoint.port}`;
}

const workerPolicy = (allowed: string[], now?: () => Date) => createPeerVerifier(createPolicy({ name: 'fake', network: 'local', allowedImageHashes: allowed }), { expectedRole: 'worker', ...(now && { now }) });

beforeAll(async () => {
  chain = await startLocalChain({ dataDir: join(home, 'chain'), announceFile: false });
}, 120_000);

afterAll(async () => {
  for (const p of proxies) await p.stop();
  for (const s of servers) s.close();
  await chain?.stop();
  rmSync(home, { recursive: true, force: true });
});

describe('cocoon why', () => {
  it('host checks of replayed hosts: a ready host passes, a plain host fails with the doctor\'s fixes', async () => {
    const ready = await runWhy({ hostRoot: hostTree('tdx-h100-ready'), chain: { network: 'local', endpoint: 'http://127.0.0.1:1/jsonRPC' } });
    expect(ready.findings.filter((f) => f.section === 'host').every((f) => f.status === 'pass')).toBe(true);
    const plain = await runWhy({ hostRoot: hostTree('plain-host'), chain: { network: 'local', endpoint: 'http://127.0.0.1:1/jsonRPC' } });
    expect(by(plain, 'host-kernel')).toMatchObject({ status: 'fail', fix: expect.any(String) });
    expect(by(plain, 'host-qemu')?.fix).toMatch(/qemu/i);
    expect(plain.ready).toBe(false);
  });

  it('a local chain whose root lacks the image: chain passes, the image fails with the add-image command', async () => {
    const missing = 'b2'.repeat(32);
    const r = await runWhy({ hostRoot: null, chain: { network: 'local', endpoint: chain.endpoint, rootAddress: chain.rootAddress }, imageHash: missing });
    expect(['chain-reachable', 'chain-network', 'chain-root'].map((id) => by(r, id)?.status)).toEqual(['pass', 'pass', 'pass']);
    expect(by(r, 'image-allowed')).toMatchObject({ status: 'fail', detail: expect.stringContaining('NOT on the root\'s allowlist') });
    expect(by(r, 'image-allowed')?.fix).toContain(`cocoon root add-image --kind worker --hash ${missing}`);
    // The root of a fresh chain lists no proxy: said so, with what to do.
    expect(by(r, 'proxy-reachable')).toMatchObject({ status: 'fail', detail: expect.stringContaining('no proxies') });
    expect(r.firstFix).toContain('cocoon root add-image');
    expect(formatWhy(r)).toMatch(/✖ image-allowed[\s\S]*→ the root's owner adds it/);
  });

  it('explains the usual endpoint misconfigurations: down, API key missing or rejected, rate limit, wrong network, wrong root', async () => {
    const down = await runWhy({ hostRoot: null, chain: { network: 'mainnet', endpoint: `http://127.0.0.1:${await closedPort()}/jsonRPC`, rootAddress: chain.rootAddress } });
    expect(by(down, 'chain-reachable')).toMatchObject({ status: 'fail', detail: expect.stringMatching(/down or unreachable: ECONNREFUSED/) });
    expect(by(down, 'chain-reachable')?.fix).toMatch(/COCOON_TON_ENDPOINT/);
    expect(by(down, 'image-allowed')?.status).toBe('warn');

    const unauthorized = await fakeEndpoint((res) => { res.statusCode = 401; res.end('{"ok":false,"error":"API key does not exist"}'); });
    expect(by(await runWhy({ hostRoot: null, chain: { network: 'mainnet', endpoint: unauthorized } }), 'chain-api-key')).toMatchObject({ status: 'fail', detail: expect.stringContaining('needs an API key') });
    expect(by(await runWhy({ hostRoot: null, chain: { network: 'mainnet', endpoint: unauthorized, apiKey: 'k' } }), 'chain-api-key')).toMatchObject({ status: 'fail', detail: expect.stringContaining('rejected the API key') });
    const limited = await fakeEndpoint((res) => { res.statusCode = 429; res.end('{"ok":false,"error":"Ratelimit exceed"}'); });
    expect(by(await runWhy({ hostRoot: null, chain: { network: 'mainnet', endpoint: limited } }), 'chain-api-key')?.fix).toMatch(/set COCOON_TON_API_KEY/);
    const mainnet = await fakeEndpoint((res) => { res.setHeader('content-type', 'application/json'); res.end(JSON.stringify({ ok: true, result: { init: { workchain: -1, seqno: 0, root_hash: MAINNET_ZERO_STATE_ROOT_HASH } } })); });
    expect(by(await runWhy({ hostRoot: null, chain: { network: 'testnet', endpoint: mainnet, rootAddress: chain.rootAddress } }), 'chain-network')).toMatchObject({ status: 'fail', detail: expect.stringContaining('serves mainnet, but the worker is configured for testnet') });
    const notJsonRpc = await fakeEndpoint((res) => { res.statusCode = 404; res.end('Not Found'); });
    expect(by(await runWhy({ hostRoot: null, chain: { network: 'mainnet', endpoint: notJsonRpc } }), 'chain-reachable')?.detail).toMatch(/HTTP 404.*not a TON HTTP API/);

    const wrongRoot = await runWhy({ hostRoot: null, chain: { network: 'local', endpoint: chain.endpoint, rootAddress: chain.wallets[1]!.address } });
    expect(by(wrongRoot, 'chain-root')?.status).toBe('fail');
    const nowhere = await runWhy({ hostRoot: null, chain: { network: 'local', endpoint: chain.endpoint, rootAddress: '0:' + '7'.repeat(64) } });
    expect(by(nowhere, 'chain-root')).toMatchObject({ status: 'fail', detail: expect.stringContaining('no contract at') });
  });

  it('dials each proxy as a worker and reports the reason each one refuses it', async () => {
    const accepting = await proxyWith(workerPolicy([DEV_IMAGE_HASH]));
    const imageRefused = await proxyWith(workerPolicy(['ff'.repeat(32)]));
    // The proxy's clock two days ahead: this worker's certificate is expired in its eyes.
    const clockAhead = await proxyWith(workerPolicy([DEV_IMAGE_HASH], () => new Date(Date.now() + 2 * 86_400_000)));
    // Stand-in for DCAP TCB evaluation (no TDX collateral here): the real policy's verdict, then the
    // refusal a tdx policy gives an OutOfDate platform.
    const inner = workerPolicy([DEV_IMAGE_HASH]);
    const tcbOutOfDate = await proxyWith({
      policy: inner.policy, expectedRole: inner.expectedRole,
      async verify(der) {
        return { ...(await inner.verify(der)), valid: false, code: 'tcb_status', error: 'platform TCB status is OutOfDate; this policy accepts UpToDate', tcbStatus: 'OutOfDate' };
      },
    });
    const down = `127.0.0.1:${await closedPort()}`;
    const r = await runWhy({ hostRoot: null, chain: { network: 'local', endpoint: chain.endpoint, rootAddress: chain.rootAddress }, imageHash: DEV_IMAGE_HASH, proxies: [accepting, imageRefused, clockAhead, tcbOutOfDate, down], timeoutMs: 20_000, log });
    expect(by(r, 'proxy-accepts', accepting)).toMatchObject({ status: 'pass' });
    expect(by(r, 'proxy-attested', accepting)).toMatchObject({ status: 'pass' });
    expect(by(r, 'proxy-accepts', imageRefused)).toMatchObject({ status: 'fail', refusal: { code: 'image_not_allowed' }, fix: expect.stringContaining(`cocoon root add-image --kind worker --hash ${DEV_IMAGE_HASH}`) });
    expect(by(r, 'proxy-accepts', clockAhead)).toMatchObject({ status: 'fail', refusal: { code: 'certificate_expired' }, fix: expect.stringContaining('clocks') });
    expect(by(r, 'proxy-accepts', tcbOutOfDate)).toMatchObject({ status: 'fail', refusal: { code: 'tcb_status', reason: expect.stringContaining('OutOfDate') }, fix: expect.stringContaining('BIOS/microcode') });
    expect(by(r, 'proxy-reachable', down)).toMatchObject({ status: 'fail', detail: expect.stringContaining('cannot reach the proxy') });

    // A worker certificate of another role (the client's), as a misconfigured worker would dial.
    const asClient = await runWhy({ hostRoot: null, chain: { network: 'local', endpoint: chain.endpoint, rootAddress: chain.rootAddress }, imageHash: DEV_IMAGE_HASH, proxies: [accepting],
      identity: await createRaTlsIdentity({ provider: fakeQuoteProvider(), role: 'client' }) });
    expect(by(asClient, 'proxy-accepts', accepting)).toMatchObject({ status: 'fail', refusal: { code: 'wrong_role' }, fix: expect.stringContaining('worker address') });
  }, 120_000);

  it('the CLI prints the report and exits 1 when something blocks', async () => {
    const bin = fileURLToPath(new URL('../../bin/cocoon.mjs', import.meta.url));
    const env = { ...process.env, COCOON_HOME: home, COCOON_NETWORK: '', COCOON_TON_ENDPOINT: '', COCOON_ROOT_ADDRESS: '', COCOON_LOG_LEVEL: 'warn' };
    const r = await promisify(execFile)(process.execPath, [bin, 'why', '--json', '--host-root', hostTree('plain-host')], { env, timeout: 60_000 }).catch((e: { code: number; stdout: string }) => e);
    expect((r as { code: number }).code).toBe(1);
    const report = JSON.parse((r as { stdout: string }).stdout) as { findings: Finding[]; ready: boolean };
    expect(report.ready).toBe(false);
    expect(by(report, 'host-kernel')?.status).toBe('fail');
    // No chain configured and none running: a finding with what to do, not a crash.
    expect(by(report, 'chain-reachable')).toMatchObject({ status: 'skip', fix: expect.stringContaining('cocoon chain up') });
  }, 90_000);
});

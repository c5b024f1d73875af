import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectRaTls, createPeerVerifier, createPolicy, createRaTlsIdentity, fakeQuoteProvider } from '../attestation/index.ts';
import { startTestEngine, type TestEngine } from '../inference/test-engine.ts';
import { createLogger } from '../log.ts';
import { startLocalNetwork, type LocalNetwork } from '../network/local-network.ts';
import { Connection } from '../protocol/connection.ts';
import { chatCompletionQuery, decodeHttpResponse } from '../protocol/http-payload.ts';
import { CLIENT_ACCEPTS_FROM_PROXY, WORKER_ACCEPTS_FROM_PROXY, newRequestId } from '../protocol/messages.ts';
import { LOCAL_POW_DIFFICULTY } from '../protocol/pow.ts';
import { ZERO_ADDRESS, noSettlementProxy, secretHash } from '../protocol/settlement.ts';
import { parseReferenceRootConfig, rootRulesOf } from '../protocol/root-config-file.ts';
import { startProxy } from './proxy-runner.ts';
import type { TlObject } from '../protocol/tl-codec.ts';

/**
 * The proxy's wire as a reference peer would exercise it: raw handshakes with the reference's
 * error codes, a worker's cocoonx.workerLoad (once an uncaught TypeError that killed the proxy),
 * a non-streaming http.request answered with a JSON http.response, and an engine that streams
 * JSON lines instead of SSE.
 */
const log = createLogger('test');
let net: LocalNetwork;
let jsonLinesEngine: TestEngine;

beforeAll(async () => {
  jsonLinesEngine = await startTestEngine({ streamFormat: 'json-lines', log });
  net = await startLocalNetwork({ backendUrl: jsonLinesEngine.url, log });
});
afterAll(async () => {
  await net?.stop();
  await jsonLinesEngine?.stop();
});

async function peer(port: number, role: 'client' | 'worker', onPacket: (p: TlObject) => void = () => undefined): Promise<Connection> {
  // A worker must run an allowed image (the local network's dev worker image).
  const identity = await createRaTlsIdentity({ provider: role === 'client' ? null : fakeQuoteProvider(), role });
  const { socket } = await connectRaTls({ host: '127.0.0.1', port, identity, verifier: createPeerVerifier(createPolicy({ name: 'any' })) });
  const conn = new Connection(socket, { log, role: 'dialer', accept: role === 'client' ? CLIENT_ACCEPTS_FROM_PROXY : WORKER_ACCEPTS_FROM_PROXY, onPacket });
  socket.resume();
  return conn;
}

const clientParams = (over: Record<string, unknown> = {}) => ({
  _: 'client.params', flags: 3, client_owner_address: ZERO_ADDRESS, is_test: true, min_proto_version: 1, max_proto_version: 2, ...over,
});

describe('proxy: client handshake as the reference answers it', () => {
  it('refuses old clients, test-mode mismatches, bad owners and disjoint protocol ranges with its codes', async () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ flags: 0 }, /too old client \(code 602\)/],
      [{ is_test: false }, /test mode mismatch \(code 602\)/],
      [{ client_owner_address: 'not an address' }, /cannot parse client owner address \(code 602\)/],
      [{ min_proto_version: 3, max_proto_version: 4 }, /cannot choose common protocol version \(code 621\)/],
    ];
    for (const [over, error] of cases) {
      const conn = await peer(net.proxy.endpoint.port, 'client');
      await expect(conn.query({ _: 'client.connectToProxy', params: clientParams(over), min_config_version: 0 })).rejects.toThrow(error);
      conn.close('done');
    }
  });

  it('offers the long authorization without a client contract, serves only after it, and answers payment status', async () => {
    const conn = await peer(net.proxy.endpoint.port, 'client');
    try {
      const connected = await conn.query({ _: 'client.connectToProxy', params: clientParams(), min_config_version: 0 });
      expect(connected).toMatchObject({ _: 'client.connectedToProxy', client_sc_address: ZERO_ADDRESS, auth: { _: 'client.proxyConnectionAuthLong' }, signed_payment: { _: 'proxy.signedPaymentEmpty' } });
      expect(connected.params).toMatchObject({ flags: 3, is_test: true, proto_version: 2 });
      await expect(conn.query({ _: 'client.getWorkerTypesV2' })).rejects.toThrow(/not ready.*\(code 651\)/);
      expect(await conn.query({ _: 'client.authorizeWithProxyLong' })).toMatchObject({ _: 'client.authorizationWithProxySuccess', tokens_committed_to_db: 0n, max_tokens: 0n });
      expect((await conn.query({ _: 'client.getWorkerTypesV2' })).types).toHaveLength(1);
      expect(await conn.query({ _: 'client.updatePaymentStatus' })).toMatchObject({ _: 'client.paymentStatus', signed_payment: { _: 'proxy.signedPaymentEmpty' } });
    } finally {
      conn.close('done');
    }
  });

  it('answers a non-streaming http.request with one JSON http.response, then a payment message', async () => {
    const packets: TlObject[] = [];
    const conn = await peer(net.proxy.endpoint.port, 'client', (p) => packets.push(p));
    try {
      await conn.query({ _: 'client.connectToProxy', params: clientParams(), min_config_version: 0 });
      await conn.query({ _: 'client.authorizeWithProxyLong' });
      const requestId = newRequestId();
      const body = Buffer.from(JSON.stringify({ model: net.models[0], messages: [{ role: 'user', content: 'hi' }], stream: false }));
      conn.send({ _: 'client.runQueryEx', model_name: net.models[0], query: chatCompletionQuery(body), max_coefficient: 1_000_000, max_tokens: 100, timeout: 30, request_id: requestId, min_config_version: 0, flags: 0 });
      await expect.poll(() => packets.some((p) => p._ === 'proxy.clientRequestPayment'), { timeout: 10_000 }).toBe(true);
      const answer = packets.find((p) => p._ === 'client.queryAnswerEx')!;
      expect(answer.flags).toBe(1);
      expect(((answer.final_info as TlObject).tokens_used as TlObject).completion_tokens_used).toBeGreaterThan(0n);
      const res = decodeHttpResponse(answer.answer as Buffer);
      expect(res.status).toBe(200);
      const completion = JSON.parse(res.body.toString('utf8'));
      expect(completion.object).toBe('chat.completion');
      expect(completion.choices[0].message.content.length).toBeGreaterThan(0);
      expect(completion.usage.completion_tokens).toBeGreaterThan(0);
      // A query that is not an http.request is refused with protoviolation, the connection kept.
      conn.send({ _: 'client.runQueryEx', model_name: net.models[0], query: body, max_coefficient: 1, max_tokens: 1, timeout: 5, request_id: newRequestId(), min_config_version: 0, flags: 0 });
      await expect.poll(() => packets.find((p) => p._ === 'client.queryAnswerErrorEx')).toMatchObject({ error_code: 621 });
      expect(conn.closed).toBe(false);
    } finally {
      conn.close('done');
    }
  });
});

describe('proxy: client authorization with a settlement', () => {
  it('offers the short authorization when it knows the secret hash; refuses a wrong secret and a failed registration, then closes', async () => {
    const settlement = {
      ...noSettlementProxy(),
      clientSecretHash: () => secretHash(Buffer.from('right')),
      awaitClientRegistration: async () => { throw new Error('no register transaction seen within 300 s'); },
    };
    const identity = await createRaTlsIdentity({ provider: fakeQuoteProvider() });
    const any = () => createPeerVerifier(createPolicy({ name: 'any' }));
    const proxy = await startProxy({ identity, workerVerifier: any(), clientVerifier: any(), settlement, log, statsPort: null, powDifficulty: LOCAL_POW_DIFFICULTY });
    try {
      const connect = async () => {
        const conn = await peer(proxy.endpoint.port, 'client');
        const connected = await conn.query({ _: 'client.connectToProxy', params: clientParams(), min_config_version: 0 });
        return { conn, connected };
      };
      const a = await connect();
      expect(a.connected.auth).toMatchObject({ _: 'client.proxyConnectionAuthShort', secret_hash: secretHash(Buffer.from('right')) });
      expect(await a.conn.query({ _: 'client.authorizeWithProxyShort', data: Buffer.from('right') })).toMatchObject({ _: 'client.authorizationWithProxySuccess' });
      a.conn.close('done');

      const b = await connect();
      const closedB = new Promise((r) => b.conn.once('close', r));
      await expect(b.conn.query({ _: 'client.authorizeWithProxyShort', data: Buffer.from('wrong') })).rejects.toThrow(/sha256 mismatch \(code 602\)/);
      await closedB;

      const c = await connect();
      const closedC = new Promise((r) => c.conn.once('close', r));
      expect(await c.conn.query({ _: 'client.authorizeWithProxyLong' })).toMatchObject({ _: 'client.authorizationWithProxyFailed', error_code: 602, error: 'no register transaction seen within 300 s' });
      await closedC;
    } finally {
      await proxy.stop();
    }
  });
});

describe('proxy: root configuration rules (reference root config file)', () => {
  it('refuses a client whose min_config_version is above the root version (handshake and query), and a worker whose model is not in the root', async () => {
    const root = parseReferenceRootConfig({ version: 5, params_version: 1, price_per_token: 2, worker_fee_per_token: 1, last_proxy_seqno: 0, model_types: ['allowed/model'] });
    const identity = await createRaTlsIdentity({ provider: fakeQuoteProvider() });
    const any = () => createPeerVerifier(createPolicy({ name: 'any' }));
    const proxy = await startProxy({ identity, workerVerifier: any(), clientVerifier: any(), rootRules: rootRulesOf(root, { checkModels: true }), log, statsPort: null, powDifficulty: LOCAL_POW_DIFFICULTY });
    const packets: TlObject[] = [];
    try {
      const tooNew = await peer(proxy.endpoint.port, 'client');
      await expect(tooNew.query({ _: 'client.connectToProxy', params: clientParams(), min_config_version: 6 })).rejects.toThrow(/active config version is too low \(code 602\)/);
      tooNew.close('done');
      const conn = await peer(proxy.endpoint.port, 'client', (p) => packets.push(p));
      await conn.query({ _: 'client.connectToProxy', params: clientParams(), min_config_version: 5 });
      await conn.query({ _: 'client.authorizeWithProxyLong' });
      const request_id = newRequestId();
      conn.send({ _: 'client.runQueryEx', model_name: 'allowed', query: chatCompletionQuery(Buffer.from(JSON.stringify({ model: 'allowed', messages: [{ role: 'user', content: 'x' }] }))), max_coefficient: 1000, max_tokens: 4, timeout: 5, request_id, min_config_version: 7, flags: 0 });
      await expect.poll(() => packets.find((p) => p._ === 'client.queryAnswerErrorEx')).toMatchObject({ error_code: 602, error: 'active config version is too low' });
      conn.close('done');

      const workerParams = (model: string) => ({ _: 'worker.params', flags: 3, worker_owner_address: ZERO_ADDRESS, model, coefficient: 1000, is_test: true, proxy_cnt: 1, max_active_requests: 4, min_proto_version: 1, max_proto_version: 2 });
      const bad = await peer(proxy.workerEndpoint.port, 'worker');
      await expect(bad.query({ _: 'worker.connectToProxy', params: workerParams('other/model') })).rejects.toThrow(/invalid worker model 'other\/model'.*\(code 621\)/);
      bad.close('done');
      const good = await peer(proxy.workerEndpoint.port, 'worker');
      expect(await good.query({ _: 'worker.connectToProxy', params: workerParams('allowed/model') })).toMatchObject({ _: 'worker.connectedToProxy' });
      good.close('done');
    } finally {
      await proxy.stop();
    }
  });
});

describe('proxy: worker messages', () => {
  // Announced as name@suffix, grouped (and asked for) by the base name, as the reference proxy does.
  async function registeredWorker(): Promise<Connection> {
    const conn = await peer(net.proxy.workerEndpoint.port, 'worker');
    await conn.query({ _: 'worker.connectToProxy', params: { _: 'worker.params', flags: 3, worker_owner_address: ZERO_ADDRESS, model: 'raw/model@0123abcd', coefficient: 1000, is_test: true, proxy_cnt: 1, max_active_requests: 4, min_proto_version: 1, max_proto_version: 2 } });
    expect(await conn.query({ _: 'worker.compareBalanceWithProxy', tokens_committed_to_blockchain: 0n, tokens_committed_to_db: 0n, max_tokens: 0n })).toMatchObject({ error_code: 0 });
    expect(await conn.query({ _: 'worker.proxyHandshakeComplete', is_disabled: false })).toEqual({ _: 'worker.proxyHandshakeCompleted' });
    await expect.poll(() => net.proxy.stats().workers.some((w) => w.model === 'raw/model')).toBe(true);
    return conn;
  }

  it('takes cocoonx.workerLoad from a registered worker without crashing, and adopts its limit', async () => {
    const conn = await registeredWorker();
    conn.send({ _: 'cocoonx.workerLoad', active_requests: 1, max_active_requests: 9 });
    await expect.poll(() => net.proxy.stats().workers.find((w) => w.model === 'raw/model')?.maxActive).toBe(9);
    // An out-of-range load closes this worker only; the network keeps serving.
    const closed = new Promise((r) => conn.once('close', r));
    conn.send({ _: 'cocoonx.workerLoad', active_requests: 5, max_active_requests: 0 });
    await closed;
    await expect.poll(() => net.proxy.stats().workers.some((w) => w.model === 'raw/model')).toBe(false);
    const openai = new OpenAI({ baseURL: net.openaiUrl, apiKey: 'x', maxRetries: 0 });
    const res = await openai.chat.completions.create({ model: net.models[0]!, messages: [{ role: 'user', content: 'still up?' }] });
    expect(res.choices[0]!.message.content!.length).toBeGreaterThan(0);
  });

  it('answers compareBalance with error_code 1 when the worker knows of more tokens than the ledger (the reference rule), then takes the extended compare', async () => {
    const conn = await peer(net.proxy.workerEndpoint.port, 'worker');
    await conn.query({ _: 'worker.connectToProxy', params: { _: 'worker.params', flags: 3, worker_owner_address: ZERO_ADDRESS, model: 'ahead/model@0123abcd', coefficient: 1000, is_test: true, proxy_cnt: 1, max_active_requests: 4, min_proto_version: 1, max_proto_version: 2 } });
    const answer = await conn.query({ _: 'worker.compareBalanceWithProxy', tokens_committed_to_blockchain: 0n, tokens_committed_to_db: 0n, max_tokens: 1_000_000n });
    expect(answer).toMatchObject({ _: 'worker.compareBalanceWithProxyResult', error_code: 1 });
    expect(answer.max_tokens as bigint).toBeLessThan(1_000_000n);
    expect(await conn.query({ _: 'worker.extendedCompareBalanceWithProxy', tokens_committed_to_db: 0n, other: Buffer.alloc(0) })).toMatchObject({ error_code: 0 });
    conn.close('done');
  });

  it('refuses a worker handshake out of order', async () => {
    const conn = await peer(net.proxy.workerEndpoint.port, 'worker');
    await expect(conn.query({ _: 'worker.proxyHandshakeComplete', is_disabled: false })).rejects.toThrow(/expected worker.compareBalanceWithProxy first \(code 602\)/);
    conn.close('done');
  });
});

describe('an engine that streams JSON lines', () => {
  it('serves streaming and non-streaming answers through the network, tokens counted', async () => {
    const openai = new OpenAI({ baseURL: net.openaiUrl, apiKey: 'x', maxRetries: 0 });
    const stream = await openai.chat.completions.create({ model: net.models[0]!, messages: [{ role: 'user', content: 'json lines' }], stream: true, stream_options: { include_usage: true } });
    let text = '';
    let usage;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text.length).toBeGreaterThan(0);
    expect(usage!.completion_tokens).toBeGreaterThan(0);
    const res = await openai.chat.completions.create({ model: net.models[0]!, messages: [{ role: 'user', content: 'json lines' }] });
    expect(res.choices[0]!.message.content).toBe(text);
    expect(res.usage!.prompt_tokens).toBeGreaterThan(0);
  });
});

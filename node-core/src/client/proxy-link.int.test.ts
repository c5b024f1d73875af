import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPeerVerifier, createPolicy, createRaTlsIdentity, createRaTlsServer, fakeQuoteProvider } from '../attestation/index.ts';
import { createLogger } from '../log.ts';
import { Connection } from '../protocol/connection.ts';
import { decodeHttpRequest, encodeHttpResponse } from '../protocol/http-payload.ts';
import { PROXY_ACCEPTS_FROM_CLIENT, ZERO_TOKENS, tokensUsed } from '../protocol/messages.ts';
import { LOCAL_POW_DIFFICULTY } from '../protocol/pow.ts';
import { ZERO_ADDRESS, noSettlementClient, secretHash, type PaymentState } from '../protocol/settlement.ts';
import type { TlObject } from '../protocol/tl-codec.ts';
import { ProxyLink } from './proxy-link.ts';

/**
 * Our client against a stand-in for the reference proxy (a test double of the peer, scripted
 * with what the reference proxy and worker send): the short authorization with the client's
 * secret, an answer whose body is JSON lines (what the reference worker's token counter
 * re-emits), the older client.queryAnswerError for the proxy's own failures, and a
 * proxy.clientRequestPayment after each request.
 */
const log = createLogger('test');
const SECRET = Buffer.from('client secret string');
let server: ReturnType<typeof createRaTlsServer>;
let port = 0;
const seen: TlObject[] = [];

beforeAll(async () => {
  const identity = await createRaTlsIdentity({ provider: fakeQuoteProvider() });
  server = createRaTlsServer({
    identity, verifier: createPeerVerifier(createPolicy({ name: 'any' })), powDifficulty: LOCAL_POW_DIFFICULTY,
    onSecureConnection: (socket) => {
      const conn: Connection = new Connection(socket, {
        log, role: 'acceptor', accept: PROXY_ACCEPTS_FROM_CLIENT,
        onQuery: async (q) => {
          seen.push(q);
          if (q._ === 'client.connectToProxy') {
            return {
              _: 'client.connectedToProxy',
              params: { _: 'proxy.params', flags: 3, proxy_public_key: Buffer.alloc(32), proxy_owner_address: ZERO_ADDRESS, proxy_sc_address: ZERO_ADDRESS, is_test: true, proto_version: 2 },
              client_sc_address: ZERO_ADDRESS, auth: { _: 'client.proxyConnectionAuthShort', secret_hash: secretHash(SECRET), nonce: 1n },
              signed_payment: { _: 'proxy.signedPaymentEmpty' },
            };
          }
          if (q._ === 'client.authorizeWithProxyShort') {
            return { _: 'client.authorizationWithProxySuccess', signed_payment: { _: 'proxy.signedPayment', data: Buffer.from('p1') }, tokens_committed_to_db: 5n, max_tokens: 6n };
          }
          throw new Error(`unexpected ${q._}`);
        },
        onPacket: (p) => {
          seen.push(p);
          if (p._ !== 'client.runQueryEx') return;
          const request_id = p.request_id;
          const body = JSON.parse(decodeHttpRequest(p.query as Buffer).body.toString('utf8'));
          if (body.messages[0].content === 'fail') {
            conn.send({ _: 'client.queryAnswerError', error_code: 652, error: 'timeout in proxy', request_id, request_tokens_used: tokensUsed(ZERO_TOKENS) });
            return;
          }
          const chunk = (content: string) => JSON.stringify({ id: 'x', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content }, finish_reason: null }] });
          const answer = encodeHttpResponse({ status: 200, reason: 'OK', headers: [], body: Buffer.from(`${chunk('Hel')}\n`) });
          conn.send({ _: 'client.queryAnswerEx', request_id, answer, flags: 0 });
          const usage = JSON.stringify({ id: 'x', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [], usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5, total_cost: 10 } });
          conn.send({ _: 'client.queryAnswerPartEx', request_id, answer: Buffer.from(`${chunk('lo')}\n${usage}\n`), flags: 1, final_info: { _: 'client.queryFinalInfo', flags: 0, tokens_used: tokensUsed({ prompt: 3, cached: 0, completion: 2, reasoning: 0 }) } });
          conn.send({ _: 'proxy.clientRequestPayment', request_id, signed_payment: { _: 'proxy.signedPayment', data: Buffer.from('p2') }, db_tokens: 7n, max_tokens: 8n, request_tokens: 5n });
        },
      });
      socket.resume();
    },
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => server?.close());

describe('client against reference-shaped proxy answers', () => {
  it('authorizes with its secret, reads JSON-lines bodies, the older error form and payments', async () => {
    const payments: PaymentState[] = [];
    const settlement = { ...noSettlementClient(), secret: SECRET, onPayment: (_: string, p: PaymentState) => void payments.push(p) };
    const link = new ProxyLink({ host: '127.0.0.1', port, identity: await createRaTlsIdentity({ provider: fakeQuoteProvider() }), verifier: createPeerVerifier(createPolicy({ name: 'any' })), settlement, log });
    link.start();
    try {
      await link.waitConnected(10_000);
      expect(seen.find((q) => q._ === 'client.connectToProxy')!.params).toMatchObject({ flags: 3, is_test: true, min_proto_version: 1, max_proto_version: 2 });
      expect(seen.find((q) => q._ === 'client.authorizeWithProxyShort')).toMatchObject({ data: SECRET });
      expect(payments[0]).toEqual({ signedPayment: Buffer.from('p1'), tokensCommittedToDb: 5n, maxTokens: 6n });

      const run = (content: string) => new Promise<{ parts: string[]; final?: unknown; error?: [number, string] }>((resolve) => {
        const parts: string[] = [];
        link.runQuery({ model: 'm', request: Buffer.from(JSON.stringify({ model: 'm', messages: [{ role: 'user', content }] })), maxCoefficient: 1, maxTokens: 10, timeoutSeconds: 10 }, {
          onPart: (chunks) => parts.push(...chunks),
          onFinal: (t) => resolve({ parts, final: t }),
          onError: (code, message) => resolve({ parts, error: [code, message] }),
        });
      });
      const ok = await run('hello');
      expect(ok.parts.map((p) => JSON.parse(p).choices[0].delta.content)).toEqual(['Hel', 'lo']); // usage-only chunk left out
      expect(ok.final).toEqual({ prompt: 3, cached: 0, completion: 2, reasoning: 0 });
      await expect.poll(() => payments.length).toBe(2);
      expect(payments[1]).toEqual({ signedPayment: Buffer.from('p2'), tokensCommittedToDb: 7n, maxTokens: 8n });
      const failed = await run('fail');
      expect(failed.error).toEqual([652, 'timeout in proxy']);
      expect(link.connected).toBe(true);
      // A model list the proxy refuses (or a link that drops mid-query) is the API's 503, not a 500
      // "internal error" (found by the hostile-proxy fuzz suite).
      await expect(link.workerTypes()).rejects.toMatchObject({ code: 'proxy_unavailable', message: expect.stringMatching(/did not list its models: peer refused: unexpected client.getWorkerTypesV2/) });
    } finally {
      link.stop();
    }
  });
});

/**
 * The client's proxy link (proxy-link.ts) on its own: a stopped query reaches the proxy as
 * cocoonx.cancelQuery, once; a dropped connection ends the queries in flight with an error and
 * the link comes back by itself. The proxy is a stand-in for the neighbouring role built from
 * the real parts a proxy greets a client with — an RA-TLS server and the proxy's own
 * ClientHandshake (no payments) — whose answers the test sends by hand.
 */
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPeerVerifier, createPolicy, createRaTlsIdentity, createRaTlsServer, fakeQuoteProvider } from '../attestation/index.ts';
import { createLogger } from '../log.ts';
import { Connection } from '../protocol/connection.ts';
import { encodeHttpResponse } from '../protocol/http-payload.ts';
import { ErrorCode, PROXY_ACCEPTS_FROM_CLIENT, tokensUsed } from '../protocol/messages.ts';
import { LOCAL_POW_DIFFICULTY } from '../protocol/pow.ts';
import { noSettlementProxy } from '../protocol/settlement.ts';
import type { TlObject } from '../protocol/tl-codec.ts';
import { ClientHandshake } from '../proxy/peer-handshake.ts';
import { ProxyLink } from './proxy-link.ts';
import type { QueryCallbacks } from './proxy-link.ts';

const log = createLogger('proxy-link-queries-test');
let server: ReturnType<typeof createRaTlsServer>;
let link: ProxyLink;
/** The proxy side of each authorized connection, newest last, and what each received. */
const sessions: Array<{ conn: Connection; received: TlObject[] }> = [];

beforeAll(async () => {
  const identity = await createRaTlsIdentity({ provider: fakeQuoteProvider(), role: 'proxy' });
  const verifier = createPeerVerifier(createPolicy({ name: 'any' }));
  const settlement = noSettlementProxy();
  server = createRaTlsServer({
    identity, verifier, log, powDifficulty: LOCAL_POW_DIFFICULTY,
    onSecureConnection: (socket) => {
      const hs = new ClientHandshake(settlement, Buffer.from(identity.publicKey));
      const session = { conn: null as unknown as Connection, received: [] as TlObject[] };
      session.conn = new Connection(socket, {
        role: 'acceptor', log, accept: PROXY_ACCEPTS_FROM_CLIENT,
        onQuery: async (q) => {
          const answer = await hs.answer(q);
          if (hs.state === 'ok' && !sessions.includes(session)) sessions.push(session);
          if (!answer) throw new Error(`unexpected ${q._}`);
          return answer;
        },
        onPacket: (p) => void session.received.push(p),
      });
      socket.resume();
    },
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  link = new ProxyLink({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, identity: await createRaTlsIdentity({ provider: null, role: 'client' }), verifier, log });
  link.start();
  await link.waitConnected(10_000);
});
afterAll(async () => {
  link?.stop();
  for (const s of sessions) s.conn.close('test done');
  await new Promise((r) => server?.close(r));
});

async function until<T>(what: string, f: () => T | undefined | false): Promise<T> {
  for (const end = Date.now() + 10_000; ;) {
    const v = f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function recording() {
  const events: Array<[string, ...unknown[]]> = [];
  const cb: QueryCallbacks = {
    onPart: (chunks) => void events.push(['part', ...chunks]),
    onFinal: (t) => void events.push(['final', t]),
    onError: (code, message) => void events.push(['error', code, message]),
  };
  return { cb, events };
}
const ask = (cb: QueryCallbacks) => link.runQuery({ model: 'm', request: Buffer.from('{"model":"m","messages":[]}'), maxCoefficient: 1000, maxTokens: 10, timeoutSeconds: 30 }, cb);
const chunk = (content: string) => JSON.stringify({ id: 'x', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content } }] });

describe('client proxy link', () => {
  it('a stopped query reaches the proxy as one cancel with its id; the proxy\'s final error is not reported as a failure', async () => {
    const s = sessions.at(-1)!;
    const { cb, events } = recording();
    const running = ask(cb);
    const sent = await until('the query at the proxy', () => s.received.find((m) => m._ === 'client.runQueryEx'));
    const request_id = sent.request_id as Buffer;
    expect(request_id.toString('hex')).toBe(running.id);
    s.conn.send({ _: 'client.queryAnswerEx', request_id, answer: encodeHttpResponse({ status: 200, reason: 'OK', headers: [], body: Buffer.from(`data: ${chunk('Hel')}\n\n`) }), flags: 0 });
    await until('the first part', () => events.length > 0);
    running.cancel();
    running.cancel();
    const cancel = await until('the cancel', () => s.received.find((m) => m._ === 'cocoonx.cancelQuery'));
    expect(cancel.request_id).toEqual(request_id);
    s.conn.send({ _: 'client.queryAnswerErrorEx', request_id, error_code: ErrorCode.cancelled, error: 'query cancelled by the client', flags: 1,
      final_info: { _: 'client.queryFinalInfo', flags: 0, tokens_used: tokensUsed({ prompt: 3, cached: 0, completion: 1, reasoning: 0 }) } });
    await new Promise((r) => setTimeout(r, 50));
    expect(s.received.filter((m) => m._ === 'cocoonx.cancelQuery')).toHaveLength(1);
    expect(events).toEqual([['part', chunk('Hel')]]);
  });

  it('a dropped connection ends the query in flight with an error, and the link reconnects by itself', async () => {
    const before = sessions.length;
    const s = sessions.at(-1)!;
    const { cb, events } = recording();
    ask(cb);
    await until('the query at the proxy', () => s.received.some((m) => m._ === 'client.runQueryEx'));
    s.conn.close('proxy restarting');
    await until('the error', () => events.length > 0);
    expect(events).toEqual([['error', ErrorCode.workerFailed, expect.stringMatching(/connection to proxy lost/)]]);
    await until('a new authorized connection', () => sessions.length > before && link.connected);
    const again = recording();
    ask(again.cb);
    const s2 = sessions.at(-1)!;
    expect(s2).not.toBe(s);
    await until('the next query on the new connection', () => s2.received.some((m) => m._ === 'client.runQueryEx'));
  });
});

/**
 * The client's proxy link (proxy-link.ts) on its own: a stopped query reaches the proxy as
 * cocoonx.cancelQuery, once; a dropped connection ends the queries in flight with an error and
 * the link comes back by itself. The proxy is a stand-in for the neighbouring role
 * (testing/proxy-stand-in.ts: a real RA-TLS server and the proxy's own ClientHandshake, no
 * payments) whose answers the test sends by hand.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRaTlsIdentity } from '../attestation/index.ts';
import { createLogger } from '../log.ts';
import { encodeHttpResponse } from '../protocol/http-payload.ts';
import { ErrorCode, tokensUsed } from '../protocol/messages.ts';
import { startProxyStandIn, until, type ProxyStandIn } from '../testing/proxy-stand-in.ts';
import { ProxyLink, type QueryCallbacks } from './proxy-link.ts';

const log = createLogger('proxy-link-queries-test');
let proxy: ProxyStandIn;
let link: ProxyLink;

beforeAll(async () => {
  proxy = await startProxyStandIn('client', log);
  link = new ProxyLink({ host: '127.0.0.1', port: proxy.port, identity: await createRaTlsIdentity({ provider: null, role: 'client' }), verifier: proxy.verifier, log });
  link.start();
  await link.waitConnected(10_000);
});
afterAll(async () => {
  link?.stop();
  await proxy?.stop();
});

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
    const s = proxy.sessions.at(-1)!;
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
    const before = proxy.sessions.length;
    const s = proxy.sessions.at(-1)!;
    const { cb, events } = recording();
    ask(cb);
    await until('the query at the proxy', () => s.received.some((m) => m._ === 'client.runQueryEx'));
    s.conn.close('proxy restarting');
    await until('the error', () => events.length > 0);
    expect(events).toEqual([['error', ErrorCode.workerFailed, expect.stringMatching(/connection to proxy lost/)]]);
    await until('a new authorized connection', () => proxy.sessions.length > before && link.connected);
    const again = recording();
    ask(again.cb);
    const s2 = proxy.sessions.at(-1)!;
    expect(s2).not.toBe(s);
    await until('the next query on the new connection', () => s2.received.some((m) => m._ === 'client.runQueryEx'));
  });
});

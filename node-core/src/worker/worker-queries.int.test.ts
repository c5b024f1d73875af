/**
 * The worker's side of cancellation and capacity, without the rest of the network: a real worker
 * (startWorker) on the real test engine, connected to a proxy stand-in for the neighbouring role
 * (testing/proxy-stand-in.ts: a real RA-TLS server and the proxy's own WorkerHandshake) from
 * which the test sends queries and cancels by hand, as the proxy's request relay would.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRaTlsIdentity, fakeQuoteProvider } from '../attestation/index.ts';
import { createOpenAiCompatibleBackend } from '../inference/backend.ts';
import { startTestEngine, type TestEngine } from '../inference/test-engine.ts';
import { createLogger } from '../log.ts';
import type { Connection } from '../protocol/connection.ts';
import { chatCompletionQuery } from '../protocol/http-payload.ts';
import { ErrorCode, newRequestId } from '../protocol/messages.ts';
import type { TlObject } from '../protocol/tl-codec.ts';
import { startProxyStandIn, until, type ProxyStandIn } from '../testing/proxy-stand-in.ts';
import { startWorker, type WorkerHandle } from './worker-runner.ts';

const log = createLogger('worker-queries-test');
let engine: TestEngine;
let proxy: ProxyStandIn;
let worker: WorkerHandle;
/** Everything the worker sent the proxy stand-in after its handshake. */
let received: TlObject[];
let toWorker: Connection;

beforeAll(async () => {
  // Slow enough decoding that a cancel lands mid-answer.
  engine = await startTestEngine({ tokenDelayMs: 30, log });
  proxy = await startProxyStandIn('worker', log);
  worker = await startWorker({
    proxies: [{ host: '127.0.0.1', port: proxy.port }], backend: createOpenAiCompatibleBackend({ baseUrl: engine.url }), model: engine.model, maxActiveRequests: 1,
    identity: await createRaTlsIdentity({ provider: fakeQuoteProvider(), role: 'worker' }), verifier: proxy.verifier, statsPort: null, log,
  });
  const session = await until('the worker\'s handshake', () => proxy.sessions[0]);
  ({ conn: toWorker, received } = session);
});

afterAll(async () => {
  await worker?.stop();
  await proxy?.stop();
  await engine?.stop();
});

function runQuery(maxTokens: number): Buffer {
  const requestId = newRequestId();
  const body = Buffer.from(JSON.stringify({ model: engine.model, messages: [{ role: 'user', content: 'count slowly' }], max_tokens: maxTokens, stream: true }));
  toWorker.send({ _: 'proxy.runQueryEx', query: chatCompletionQuery(body), signed_payment: { _: 'proxy.signedPaymentEmpty' }, coefficient: 1000n, timeout: 30, request_id: requestId, flags: 1, enable_debug: false });
  return requestId;
}
const about = (id: Buffer) => received.filter((m) => Buffer.isBuffer(m.request_id) && m.request_id.equals(id));

describe('worker: capacity and cancellation', () => {
  it('announces its capacity to a proxy that speaks the extensions', async () => {
    expect(await until('cocoonx.workerLoad', () => received.find((m) => m._ === 'cocoonx.workerLoad'))).toMatchObject({ max_active_requests: 1, active_requests: 0 });
  });

  it('refuses a query beyond its capacity with noWorker, and a cancel aborts the engine request mid-answer', async () => {
    const first = runQuery(200);
    await until('the first answer part', () => about(first).some((m) => m._ === 'proxy.queryAnswerPartEx'));
    expect(engine.stats().active).toBe(1);

    const second = runQuery(5);
    const refused = await until('the refusal', () => about(second).find((m) => m._ === 'proxy.queryAnswerErrorEx'));
    expect(refused).toMatchObject({ error_code: ErrorCode.noWorker });
    expect(refused.error).toMatch(/at capacity \(1 active requests\)/);

    toWorker.send({ _: 'cocoonx.cancelQuery', request_id: first });
    const ended = await until('the cancelled end', () => about(first).find((m) => m._ === 'proxy.queryAnswerErrorEx'));
    expect(ended).toMatchObject({ error_code: ErrorCode.cancelled });
    // The engine saw its request go away: the generation stopped, not ran to max_tokens.
    await until('the engine to notice', () => engine.stats().cancelled === 1 || undefined);
    expect(engine.stats()).toMatchObject({ completed: 0, active: 0 });
    expect(worker.stats()).toMatchObject({ active: 0, cancelled: 1, completed: 0 });
    expect(about(first).some((m) => (m.flags as number) & 1 && m._ !== 'proxy.queryAnswerErrorEx')).toBe(false);

    // Capacity is free again: the next query runs to its end.
    const third = runQuery(3);
    const done = await until('the final part', () => about(third).find((m) => ((m.flags as number) & 1) !== 0));
    expect(done._).not.toBe('proxy.queryAnswerErrorEx');
    expect(worker.stats()).toMatchObject({ completed: 1 });
  });
});

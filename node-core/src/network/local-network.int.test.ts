import OpenAI from 'openai';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPeerVerifier, createPolicy, createRaTlsIdentity, fakeQuoteProvider, connectRaTls } from '../attestation/index.ts';
import { createOpenAiCompatibleBackend } from '../inference/backend.ts';
import { startTestEngine } from '../inference/test-engine.ts';
import { createLogger } from '../log.ts';
import { FrameEncoder } from '../protocol/framing.ts';
import { LOCAL_POW_DIFFICULTY } from '../protocol/pow.ts';
import { cocoonCodec } from '../protocol/tl-codec.ts';
import { startProxy } from '../proxy/proxy-runner.ts';
import { startWorker, waitForWorker } from '../worker/worker-runner.ts';
import { startClient } from '../client/client-runner.ts';
import { startLocalNetwork, type LocalNetwork } from './local-network.ts';

const model = 'Qwen/Qwen3-0.6B';
const log = createLogger('test');

describe('local network through the official openai client', () => {
  let net: LocalNetwork;
  let openai: OpenAI;
  beforeAll(async () => {
    net = await startLocalNetwork({ workers: 2 });
    openai = new OpenAI({ baseURL: net.openaiUrl, apiKey: 'unused', maxRetries: 0 });
  });
  afterAll(() => net.stop());

  it('lists the model with its workers', async () => {
    const models = await openai.models.list();
    expect(models.data.map((m) => m.id)).toEqual([model]);
    expect((models.data[0] as unknown as { workers: number }).workers).toBe(2);
  });

  it('answers non-streaming with usage and a cost that follows the pricing formula', async () => {
    const res = await openai.chat.completions.create({ model, messages: [{ role: 'user', content: 'hello network' }] });
    const direct = await new OpenAI({ baseURL: `${net.engine!.url}/v1`, apiKey: 'x' }).chat.completions.create({ model, messages: [{ role: 'user', content: 'hello network' }] });
    expect(res.choices[0]!.message.content).toBe(direct.choices[0]!.message.content);
    expect(res.usage!.completion_tokens).toBe(direct.usage!.completion_tokens);
    const cost = (res as unknown as { cost: { totalNanoTon: number; workerNanoTon: number; proxyNanoTon: number } }).cost;
    const u = res.usage!;
    const cached = u.prompt_tokens_details!.cached_tokens!;
    const expected = Math.floor(((u.prompt_tokens - cached) * 10000 + cached * 1000 + u.completion_tokens * 10000) * 20 / 10000);
    expect(cost.totalNanoTon).toBe(expected);
    expect(cost.workerNanoTon + cost.proxyNanoTon).toBe(cost.totalNanoTon);
  });

  it('streams token by token and ends with usage and cost', async () => {
    const stream = await openai.chat.completions.create({ model, messages: [{ role: 'user', content: 'stream it' }], stream: true, stream_options: { include_usage: true } });
    let text = '';
    let parts = 0;
    let usage;
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta.content) { text += chunk.choices[0].delta.content; parts++; }
      if (chunk.usage) usage = chunk;
    }
    expect(text.length).toBeGreaterThan(10);
    expect(usage!.usage!.completion_tokens).toBe(parts);
    expect((usage as unknown as { cost: { totalNanoTon: number } }).cost.totalNanoTon).toBeGreaterThan(0);
  });

  it('serves 50 concurrent requests over both workers', async () => {
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => openai.chat.completions.create({ model, messages: [{ role: 'user', content: `q${i}` }] })));
    expect(results.every((r) => r.choices[0]!.message.content!.length > 0)).toBe(true);
    const perWorker = net.workers.map((w) => w.stats().completed);
    expect(perWorker.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(50);
    expect(Math.min(...perWorker)).toBeGreaterThan(0);
  });

  it('rejects bad bodies naming the field, unknown models with 404', async () => {
    await expect(openai.chat.completions.create({ model, messages: [{ role: 'wizard' as 'user', content: 'x' }] })).rejects.toMatchObject({ status: 400, param: 'messages.0.role' });
    await expect(openai.chat.completions.create({ model: 'no/such-model', messages: [{ role: 'user', content: 'x' }] })).rejects.toMatchObject({ status: 404 });
    // A body that is not application/json is refused before parsing (a cross-origin form or
    // text/plain POST must never reach the API).
    expect((await fetch(`${net.openaiUrl}/chat/completions`, { method: 'POST', body: 'nope' })).status).toBe(415);
    const res = await fetch(`${net.openaiUrl}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: 'nope' });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/JSON/);
  });

  it('reports the proxy attestation in the status', async () => {
    const status = (await (await fetch(`${net.openaiUrl}/cocoon/status`)).json()) as { proxy: { state: string }; attestation: unknown };
    expect(status.proxy.state).toBe('connected');
    expect(status.attestation).toMatchObject({ valid: true, policy: 'fake', imageHash: net.imageHashes.proxy, imageAllowed: true });
  });

  it('survives malformed and oversized frames from an attested peer and keeps serving', async () => {
    const identity = await createRaTlsIdentity({ provider: fakeQuoteProvider() });
    for (const garbage of [
      Buffer.from([5, 0, 0, 0, 1, 2, 3, 4, 5]), // bad seqno
      Buffer.from([0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0]), // oversized
      new FrameEncoder().encode(Buffer.from('not tl at all!!')),
      new FrameEncoder().encode(cocoonCodec().encode({ _: 'tcp.ping', id: 1n })), // not tcp.connect first
    ]) {
      const { socket } = await connectRaTls({ host: '127.0.0.1', port: net.proxy.endpoint.port, identity, verifier: createPeerVerifier(createPolicy({ name: 'any' })) });
      const closed = new Promise((r) => socket.on('close', r));
      socket.resume();
      socket.write(garbage);
      await closed;
    }
    const res = await openai.chat.completions.create({ model, messages: [{ role: 'user', content: 'still there?' }] });
    expect(res.choices[0]!.message.content!.length).toBeGreaterThan(0);
  });
});

describe('with an external engine (--backend)', () => {
  it('serves the engine\'s model, and refuses a model the engine does not serve', async () => {
    const engine = await startTestEngine({ model: 'acme/tiny-model' });
    try {
      const net = await startLocalNetwork({ backendUrl: `${engine.url}/v1` });
      try {
        expect(net.engine).toBeNull();
        expect(net.models).toEqual(['acme/tiny-model']);
        const res = await new OpenAI({ baseURL: net.openaiUrl, apiKey: 'x' }).chat.completions.create({ model: 'acme/tiny-model', messages: [{ role: 'user', content: 'hi' }] });
        expect(res.usage!.completion_tokens).toBeGreaterThan(0);
      } finally {
        await net.stop();
      }
      await expect(startLocalNetwork({ backendUrl: engine.url, model: 'other/model' })).rejects.toMatchObject({ code: 'model_not_served', message: expect.stringMatching(/acme\/tiny-model/) });
    } finally {
      await engine.stop();
    }
  });
});

describe('faults', () => {
  it('cancels the engine request when the HTTP client goes away', async () => {
    const net = await startLocalNetwork({ tokenDelayMs: 30 });
    try {
      const openai = new OpenAI({ baseURL: net.openaiUrl, apiKey: 'x', maxRetries: 0 });
      const ac = new AbortController();
      const stream = await openai.chat.completions.create({ model, messages: [{ role: 'user', content: 'slow' }], stream: true }, { signal: ac.signal });
      let n = 0;
      // The openai package ends the iteration quietly on abort; the HTTP request is gone either way.
      for await (const _ of stream) if (++n === 3) ac.abort();
      expect(n).toBeLessThan(10);
      await expect.poll(() => net.engine!.stats().cancelled, { timeout: 10_000 }).toBe(1);
      await expect.poll(() => net.workers[0]!.stats().active, { timeout: 10_000 }).toBe(0);
    } finally {
      await net.stop();
    }
  });

  it('gives the client an error event, not a hang, when the worker dies mid-stream', async () => {
    const net = await startLocalNetwork({ tokenDelayMs: 30 });
    try {
      const openai = new OpenAI({ baseURL: net.openaiUrl, apiKey: 'x', maxRetries: 0 });
      const stream = await openai.chat.completions.create({ model, messages: [{ role: 'user', content: 'die' }], stream: true });
      let n = 0;
      await expect((async () => { for await (const _ of stream) if (++n === 3) void net.workers[0]!.stop(); })()).rejects.toThrow(/worker/);
    } finally {
      await net.stop();
    }
  });

  it('refuses a worker with a disallowed image at the handshake; clients then get 503', async () => {
    const net = await startLocalNetwork({ workers: 1, workerMeasurements: { mrTd: 'ee'.repeat(48) } });
    try {
      await expect.poll(() => net.workers[0]!.stats().proxies[0]!.lastError ?? '', { timeout: 10_000 }).toMatch(/refused|closed|socket|ECONNRESET/i);
      expect(net.proxy.stats().workers).toEqual([]);
      const openai = new OpenAI({ baseURL: net.openaiUrl, apiKey: 'x', maxRetries: 0 });
      await expect(openai.chat.completions.create({ model, messages: [{ role: 'user', content: 'x' }] })).rejects.toMatchObject({ status: 503 });
    } finally {
      await net.stop();
    }
  });

  it('retries on another worker when one fails before its first token', async () => {
    const engine = await startTestEngine({ model });
    const any = () => createPeerVerifier(createPolicy({ name: 'any' }));
    const id = () => createRaTlsIdentity({ provider: fakeQuoteProvider() });
    const proxy = await startProxy({ identity: await id(), workerVerifier: any(), clientVerifier: any(), log, statsPort: null, powDifficulty: LOCAL_POW_DIFFICULTY });
    const broken = await startWorker({ proxies: [proxy.workerEndpoint], backend: createOpenAiCompatibleBackend({ baseUrl: 'http://127.0.0.1:9', timeoutMs: 1000 }), model, identity: await id(), verifier: any(), log, statsPort: null });
    const good = await startWorker({ proxies: [proxy.workerEndpoint], backend: createOpenAiCompatibleBackend({ baseUrl: engine.url }), model, identity: await id(), verifier: any(), log, statsPort: null });
    const client = await startClient({ proxy: proxy.endpoint, identity: await id(), verifier: any(), log });
    try {
      await Promise.all([waitForWorker(broken), waitForWorker(good), client.waitConnected(10_000)]);
      const openai = new OpenAI({ baseURL: client.openaiUrl, apiKey: 'x', maxRetries: 0 });
      // Equal workers are picked at random: keep asking until the broken one was tried (1/64 of
      // runs never tried it within 6 requests), then every answer must still have come from the good one.
      let sent = 0;
      while (sent < 6 || (broken.stats().failed === 0 && sent < 40)) {
        const res = await openai.chat.completions.create({ model, messages: [{ role: 'user', content: `r${sent++}` }] });
        expect(res.choices[0]!.message.content!.length).toBeGreaterThan(0);
      }
      expect(broken.stats().failed).toBeGreaterThan(0);
      expect(good.stats().completed).toBe(sent);
    } finally {
      await client.stop(); await good.stop(); await broken.stop(); await proxy.stop(); await engine.stop();
    }
  });
});

void tls;

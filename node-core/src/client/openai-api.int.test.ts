import OpenAI from 'openai';
import { zodFunction, zodResponseFormat } from 'openai/helpers/zod';
import type { ChatCompletionTool } from 'openai/resources/chat/completions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { startTestEngine, type TestEngine } from '../inference/test-engine.ts';
import { createLogger } from '../log.ts';
import { startLocalNetwork, type LocalNetwork } from '../network/local-network.ts';

/**
 * The OpenAI API through the whole local network (client → proxy → worker → test engine), with
 * the official openai package. The test engine is deterministic, so most checks compare what
 * the network answers with what the engine answers when asked directly: every field it sends
 * must arrive (ids, timestamps, usage and our `cost` aside).
 */
let net: LocalNetwork;
let openai: OpenAI;
let direct: OpenAI;
const model = 'Qwen/Qwen3-0.6B';
const user = (content: string) => [{ role: 'user' as const, content }];
const log = createLogger('test');

const weather: ChatCompletionTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    parameters: { type: 'object', properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] } }, required: ['city', 'unit'] },
  },
};

/** An answer without what legitimately differs between two requests (ids, time, cache, cost). */
function comparable(answer: object): unknown {
  const { id: _id, created: _created, usage: _usage, cost: _cost, ...rest } = answer as Record<string, unknown>;
  return rest;
}

beforeAll(async () => {
  net = await startLocalNetwork({ workers: 2, log });
  openai = new OpenAI({ baseURL: net.openaiUrl, apiKey: 'local', maxRetries: 0 });
  direct = new OpenAI({ baseURL: `${net.engine!.url}/v1`, apiKey: 'unused', maxRetries: 0 });
});
afterAll(() => net?.stop());

describe('chat completions through the network', () => {
  it('carries tool_calls, refusal and finish_reason in a non-streaming answer, as the engine sent them', async () => {
    const request = { model, messages: user('What is the weather in Paris? Use get_weather.'), tools: [weather], parallel_tool_calls: true };
    const [viaNetwork, fromEngine] = await Promise.all([openai.chat.completions.create(request), direct.chat.completions.create(request)]);
    const message = viaNetwork.choices[0]!.message;
    expect(viaNetwork.choices[0]!.finish_reason).toBe('tool_calls');
    expect(message.content).toBeNull();
    expect(message.refusal).toBeNull();
    expect(message.tool_calls?.[0]).toMatchObject({ type: 'function', function: { name: 'get_weather' } });
    expect(comparable(viaNetwork)).toEqual(comparable(fromEngine));
    expect(viaNetwork.usage!.completion_tokens).toBe(fromEngine.usage!.completion_tokens);
    expect((viaNetwork as unknown as { cost: { totalNanoTon: unknown } }).cost).toBeDefined();
  });

  it('streams tool calls the SDK assembles, with usage and cost on the final chunk', async () => {
    const stream = openai.chat.completions.stream({ model, messages: user('get_weather for Oslo'), tools: [weather], stream_options: { include_usage: true } });
    const chunks: Array<Record<string, unknown>> = [];
    stream.on('chunk', (c) => chunks.push(c as unknown as Record<string, unknown>));
    const final = await stream.finalChatCompletion();
    expect(final.choices[0]!.message.tool_calls?.[0]?.type).toBe('function');
    expect(final.choices[0]!.finish_reason).toBe('tool_calls');
    const last = chunks.at(-1)!;
    expect(last.usage).toMatchObject({ completion_tokens: expect.any(Number) });
    expect(last.cost).toBeDefined();
  });

  it('runs the SDK runTools loop (assistant turn with tool_calls and no content, then the tool result), streaming and not', async () => {
    for (const stream of [false, true]) {
      const seen: Array<{ city: string }> = [];
      const tool = zodFunction({ name: 'lookup_city', parameters: z.object({ city: z.string(), population: z.number().int() }), function: (args) => { seen.push(args); return { temperature: 21 }; } });
      const runner = stream
        ? openai.chat.completions.runTools({ model, stream: true, messages: user('lookup_city Berlin'), tools: [tool] })
        : openai.chat.completions.runTools({ model, messages: user('lookup_city Berlin'), tools: [tool] });
      const final = await runner.finalContent();
      expect(seen).toHaveLength(1);
      expect(final!.length).toBeGreaterThan(0);
      expect(runner.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'tool', 'assistant']);
    }
  });

  it('passes JSON mode and a strict json_schema through (zodResponseFormat + parse)', async () => {
    const Recipe = z.object({ title: z.string(), minutes: z.number().int(), vegetarian: z.boolean(), steps: z.array(z.string()) });
    const parsed = await openai.chat.completions.parse({ model, messages: user('A recipe please'), response_format: zodResponseFormat(Recipe, 'recipe') });
    const value = parsed.choices[0]!.message.parsed!;
    expect(Recipe.parse(value)).toEqual(value);
    const json = await openai.chat.completions.create({ model, messages: user('facts'), response_format: { type: 'json_object' } });
    expect(typeof JSON.parse(json.choices[0]!.message.content!)).toBe('object');
  });

  it('keeps logprobs, all n choices, seed and stop as the engine answers them', async () => {
    const requests = [
      { model, messages: user('logprobs please'), logprobs: true, top_logprobs: 2 },
      { model, messages: user('three ways'), n: 3, seed: 7 },
      { model, messages: user('a stop test'), seed: 3, max_completion_tokens: 12, presence_penalty: 0.5, frequency_penalty: 0.1, temperature: 0.7, top_p: 0.9, user: 'u1' },
    ];
    for (const request of requests) {
      const [viaNetwork, fromEngine] = await Promise.all([openai.chat.completions.create(request), direct.chat.completions.create(request)]);
      expect(comparable(viaNetwork)).toEqual(comparable(fromEngine));
    }
    const withLogprobs = await openai.chat.completions.create(requests[0]!);
    expect(withLogprobs.choices[0]!.logprobs!.content!.length).toBe(withLogprobs.usage!.completion_tokens);
    const three = await openai.chat.completions.create(requests[1]!);
    expect(three.choices.map((c) => c.index)).toEqual([0, 1, 2]);
    const full = (await openai.chat.completions.create({ model, messages: user('a stop test'), seed: 3 })).choices[0]!.message.content!;
    const stop = full.split(' ').slice(3, 5).join(' ');
    const cut = await openai.chat.completions.create({ model, messages: user('a stop test'), seed: 3, stop });
    expect(cut.choices[0]!.message.content).toBe(full.slice(0, full.indexOf(stop)));
    const other = await openai.chat.completions.create({ model, messages: user('a stop test'), seed: 4 });
    expect(other.choices[0]!.message.content).not.toBe(full);
  });

  it('streams n choices interleaved by index, with logprobs on each content chunk', async () => {
    const texts = ['', ''];
    let logprobTokens = 0;
    for await (const chunk of await openai.chat.completions.create({ model, messages: user('two ways'), n: 2, logprobs: true, stream: true })) {
      for (const c of chunk.choices) {
        texts[c.index] += c.delta.content ?? '';
        logprobTokens += c.logprobs?.content?.length ?? 0;
      }
    }
    const whole = await direct.chat.completions.create({ model, messages: user('two ways'), n: 2, logprobs: true });
    expect(texts).toEqual(whole.choices.map((c) => c.message.content));
    expect(logprobTokens).toBe(whole.choices.reduce((s, c) => s + c.logprobs!.content!.length, 0));
  });

  it('relays an engine 400 with its status, message, param and code, without retrying it on the other worker', async () => {
    const before = net.workers.map((w) => w.stats());
    const err = await openai.chat.completions.create({
      model, messages: user('x'),
      response_format: { type: 'json_schema', json_schema: { name: 'p', schema: { type: 'string', pattern: '^a+$' } } },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err).toMatchObject({ status: 400, param: 'response_format.json_schema.schema', code: 'unsupported_schema' });
    expect((err as Error).message).toContain('pattern');
    const after = net.workers.map((w) => w.stats());
    const delta = (k: 'completed' | 'failed') => after.reduce((s, a, i) => s + a[k] - before[i]![k], 0);
    expect(delta('completed')).toBe(1);
    expect(delta('failed')).toBe(0);
    await expect(openai.chat.completions.create({ model, messages: user('x'), top_logprobs: 2 })).rejects.toMatchObject({ status: 400, param: 'top_logprobs' });
  });

  it('refuses what the client itself checks with a 400 naming the field', async () => {
    await expect(openai.chat.completions.create({ model, messages: user('x'), n: 0 })).rejects.toMatchObject({ status: 400, param: 'n' });
    await expect(openai.chat.completions.create({ model, messages: [] })).rejects.toMatchObject({ status: 400, param: 'messages' });
  });
});

describe('legacy completions, embeddings and models through the network', () => {
  it('answers /v1/completions as the engine does, streamed and not, with usage and cost', async () => {
    const request = { model, prompt: ['Once upon', 'a time'], max_tokens: 8, n: 2, logprobs: 2, echo: true, seed: 1 };
    const [viaNetwork, fromEngine] = await Promise.all([openai.completions.create(request), direct.completions.create(request)]);
    expect(comparable(viaNetwork)).toEqual(comparable(fromEngine));
    expect(viaNetwork.choices).toHaveLength(4);
    let text = '';
    let last: Record<string, unknown> = {};
    for await (const chunk of await openai.completions.create({ model, prompt: 'Once upon', max_tokens: 8, stream: true, stream_options: { include_usage: true } })) {
      text += chunk.choices[0]?.text ?? '';
      last = chunk as unknown as Record<string, unknown>;
    }
    const plain = await direct.completions.create({ model, prompt: 'Once upon', max_tokens: 8 });
    expect(text).toBe(plain.choices[0]!.text);
    expect(last).toMatchObject({ object: 'text_completion', choices: [], usage: { completion_tokens: plain.usage!.completion_tokens } });
    expect(last.cost).toBeDefined();
  });

  it('answers /v1/embeddings with the engine vectors, its usage and our cost', async () => {
    const request = { model, input: ['cocoon network', 'confidential inference'], dimensions: 64 };
    const [viaNetwork, fromEngine] = await Promise.all([openai.embeddings.create(request), direct.embeddings.create(request)]);
    expect(viaNetwork.data.map((d) => d.embedding)).toEqual(fromEngine.data.map((d) => d.embedding));
    expect(viaNetwork.usage).toEqual(fromEngine.usage);
    expect((viaNetwork as unknown as { cost: { tokens: { prompt: number } } }).cost.tokens.prompt).toBe(fromEngine.usage.prompt_tokens);
    await expect(openai.embeddings.create({ model, input: 'x', dimensions: 100_000 })).rejects.toMatchObject({ status: 400, param: 'dimensions' });
  });

  it('retrieves a model by id and answers 404 for another', async () => {
    expect(await openai.models.retrieve(model)).toMatchObject({ id: model, object: 'model', owned_by: 'cocoon', workers: 2 });
    const raw = await fetch(`${net.openaiUrl}/models/${model}`);
    expect(raw.status).toBe(200);
    await expect(openai.models.retrieve('acme/none')).rejects.toMatchObject({ status: 404, code: 'model_not_found' });
  });
});

describe('an engine without the endpoint', () => {
  let chatOnly: TestEngine;
  let chatNet: LocalNetwork;
  beforeAll(async () => {
    chatOnly = await startTestEngine({ model, serve: { embeddings: false, completions: false }, log });
    chatNet = await startLocalNetwork({ backendUrl: chatOnly.url, log });
  });
  afterAll(async () => {
    await chatNet?.stop();
    await chatOnly?.stop();
  });

  it('refuses embeddings and completions with a 404 naming the model and the endpoint', async () => {
    const client = new OpenAI({ baseURL: chatNet.openaiUrl, apiKey: 'local', maxRetries: 0 });
    const embeddings = await client.embeddings.create({ model, input: 'x' }).catch((e: unknown) => e);
    expect(embeddings).toBeInstanceOf(OpenAI.NotFoundError);
    expect(embeddings).toMatchObject({ code: 'endpoint_not_served' });
    expect((embeddings as Error).message).toContain(`model "${model}"`);
    expect((embeddings as Error).message).toContain('/v1/embeddings');
    const completions = await client.completions.create({ model, prompt: 'x' }).catch((e: unknown) => e);
    expect(completions).toMatchObject({ status: 404, code: 'endpoint_not_served' });
    expect((completions as Error).message).toContain('/v1/completions');
    expect((await client.chat.completions.create({ model, messages: user('still chats') })).choices[0]!.message.content).toBeTruthy();
  });
});

describe('a client with an API key', () => {
  let keyed: LocalNetwork;
  const apiKey = 'test-key-0123456789abcdef';
  beforeAll(async () => {
    keyed = await startLocalNetwork({ clientApiKey: apiKey, allowedOrigins: ['http://localhost:5173'], log });
  });
  afterAll(() => keyed?.stop());

  it('serves the SDK with the key, refuses it without, and shows the key in describe()', async () => {
    const ok = await new OpenAI({ baseURL: keyed.openaiUrl, apiKey, maxRetries: 0 }).chat.completions.create({ model, messages: user('hi') });
    expect(ok.choices[0]!.message.content).toBeTruthy();
    await expect(new OpenAI({ baseURL: keyed.openaiUrl, apiKey: 'wrong-key-0123456789abc', maxRetries: 0 }).models.list()).rejects.toMatchObject({ status: 401 });
    expect(keyed.describe()).toMatchObject({ apiKey });
    const preflight = await fetch(`${keyed.openaiUrl}/chat/completions`, { method: 'OPTIONS', headers: { origin: 'http://localhost:5173' } });
    expect(preflight.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
  });
});

import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestEngine, type TestEngine } from './test-engine.ts';
import { loadQwen3Tokenizer } from './tokenizer.ts';

/**
 * The test engine's sampling options, legacy completions, embeddings, model lookup and error
 * shapes, through the official openai package.
 */
let engine: TestEngine;
let openai: OpenAI;
const model = 'Qwen/Qwen3-0.6B';
const user = (content: string) => [{ role: 'user' as const, content }];

beforeAll(async () => {
  engine = await startTestEngine({ model });
  openai = new OpenAI({ baseURL: `${engine.url}/v1`, apiKey: 'unused' });
});
afterAll(() => engine.stop());

describe('chat sampling options', () => {
  it('gives per-token logprobs with top alternatives, consistent with the text and the stream', async () => {
    const request = { model, messages: user('logprobs please'), logprobs: true, top_logprobs: 3 };
    const res = await openai.chat.completions.create(request);
    const entries = res.choices[0]!.logprobs!.content!;
    expect(entries).toHaveLength(res.usage!.completion_tokens);
    expect(entries.map((e) => e.token).join('')).toBe(res.choices[0]!.message.content);
    for (const e of entries) {
      expect(e.bytes).toEqual([...Buffer.from(e.token, 'utf8')]);
      expect(e.logprob).toBeLessThan(0);
      expect(e.top_logprobs).toHaveLength(3);
      expect(e.top_logprobs[0]).toEqual({ token: e.token, logprob: e.logprob, bytes: e.bytes });
      const lps = e.top_logprobs.map((t) => t.logprob);
      expect([...lps].sort((a, b) => b - a)).toEqual(lps);
      expect(lps.reduce((s, lp) => s + Math.exp(lp), 0)).toBeLessThanOrEqual(1);
    }
    const streamed = [];
    for await (const chunk of await openai.chat.completions.create({ ...request, stream: true })) streamed.push(...(chunk.choices[0]?.logprobs?.content ?? []));
    expect(streamed).toEqual(entries);
    const without = await openai.chat.completions.create({ model, messages: user('logprobs please') });
    expect(without.choices[0]!.logprobs).toBeNull();
    await expect(openai.chat.completions.create({ model, messages: user('x'), top_logprobs: 2 })).rejects.toMatchObject({ status: 400, param: 'top_logprobs' });
  });

  it('returns n different choices, the first equal to the n = 1 answer, streamed by index', async () => {
    const one = await openai.chat.completions.create({ model, messages: user('three ways') });
    const three = await openai.chat.completions.create({ model, messages: user('three ways'), n: 3 });
    expect(three.choices.map((c) => c.index)).toEqual([0, 1, 2]);
    expect(three.choices[0]!.message.content).toBe(one.choices[0]!.message.content);
    expect(new Set(three.choices.map((c) => c.message.content)).size).toBe(3);
    const tok = await loadQwen3Tokenizer();
    expect(three.usage!.completion_tokens).toBe(three.choices.reduce((s, c) => s + tok.encode(c.message.content!).length, 0));
    expect(three.usage!.prompt_tokens).toBe(one.usage!.prompt_tokens);
    const texts = ['', '', ''];
    for await (const chunk of await openai.chat.completions.create({ model, messages: user('three ways'), n: 3, stream: true })) {
      for (const c of chunk.choices) texts[c.index] += c.delta.content ?? '';
    }
    expect(texts).toEqual(three.choices.map((c) => c.message.content));
  });

  it('gives the same answer for the same seed and a different one for another seed', async () => {
    const ask = (seed: number) => openai.chat.completions.create({ model, messages: user('seeded'), seed }).then((r) => r.choices[0]!.message.content);
    const [a, b, c] = await Promise.all([ask(7), ask(7), ask(8)]);
    expect(a).toBe(b);
    expect(c).not.toBe(a);
  });

  it('honours max_completion_tokens and a single stop string, and accepts penalties', async () => {
    const short = await openai.chat.completions.create({ model, messages: user('long'), max_completion_tokens: 4, presence_penalty: 0.5, frequency_penalty: 0.5 });
    expect(short.choices[0]!.finish_reason).toBe('length');
    expect(short.usage!.completion_tokens).toBe(4);
    const full = (await openai.chat.completions.create({ model, messages: user('stop here') })).choices[0]!.message.content!;
    const stop = full.split(' ').slice(4, 6).join(' ');
    const cut = await openai.chat.completions.create({ model, messages: user('stop here'), stop });
    expect(cut.choices[0]!.message.content).toBe(full.slice(0, full.indexOf(stop)));
    expect(cut.choices[0]!.finish_reason).toBe('stop');
  });

  it('puts refusal: null on messages and keeps reasoning_content', async () => {
    const res = await openai.chat.completions.create({ model, messages: user('think'), reasoning_effort: 'high' });
    const message = res.choices[0]!.message as unknown as Record<string, unknown>;
    expect(message.refusal).toBeNull();
    expect(String(message.reasoning_content).length).toBeGreaterThan(0);
    expect(res.usage!.completion_tokens_details!.reasoning_tokens).toBeGreaterThan(0);
  });
});

describe('legacy completions', () => {
  it('completes a prompt with 16 tokens by default and counts usage with the real tokenizer', async () => {
    const tok = await loadQwen3Tokenizer();
    const res = await openai.completions.create({ model, prompt: 'Once upon a time' });
    expect(res.object).toBe('text_completion');
    expect(res.choices[0]!.finish_reason).toBe('length');
    expect(res.usage).toMatchObject({ prompt_tokens: tok.encode('Once upon a time').length, completion_tokens: 16 });
    expect(tok.encode(res.choices[0]!.text)).toHaveLength(16);
    const byIds = await openai.completions.create({ model, prompt: tok.encode('Once upon a time') });
    expect(byIds.choices[0]!.text).toBe(res.choices[0]!.text);
  });

  it('streams the same text, with usage last when asked', async () => {
    const request = { model, prompt: 'The river', max_tokens: 30, stop: ['zzz'] };
    const full = await openai.completions.create(request);
    let text = '';
    let usage;
    let finish;
    for await (const chunk of await openai.completions.create({ ...request, stream: true, stream_options: { include_usage: true } })) {
      text += chunk.choices[0]?.text ?? '';
      if (chunk.choices[0]?.finish_reason) finish = chunk.choices[0].finish_reason;
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe(full.choices[0]!.text);
    expect(finish).toBe(full.choices[0]!.finish_reason);
    expect(usage).toEqual(full.usage);
  });

  it('answers several prompts times n, with echo and legacy logprobs', async () => {
    const res = await openai.completions.create({ model, prompt: ['alpha', 'beta'], n: 2, max_tokens: 5, echo: true, logprobs: 2 });
    expect(res.choices.map((c) => c.index)).toEqual([0, 1, 2, 3]);
    expect(res.choices[0]!.text.startsWith('alpha')).toBe(true);
    expect(res.choices[3]!.text.startsWith('beta')).toBe(true);
    expect(res.choices[0]!.text).not.toBe(res.choices[1]!.text);
    const lp = res.choices[0]!.logprobs!;
    expect('alpha' + lp.tokens!.join('')).toBe(res.choices[0]!.text);
    expect(lp.text_offset![0]).toBe('alpha'.length);
    expect(Object.keys(lp.top_logprobs![0]!)).toHaveLength(2);
    expect(res.usage!.completion_tokens).toBe(20);
  });

  it('refuses what it does not do, naming the field', async () => {
    await expect(openai.completions.create({ model, prompt: 'x', suffix: 'y' })).rejects.toMatchObject({ status: 400, param: 'suffix' });
    await expect(openai.completions.create({ model, prompt: 'x', logprobs: 9 })).rejects.toMatchObject({ status: 400, param: 'logprobs' });
    await expect(openai.completions.create({ model: 'other', prompt: 'x' })).rejects.toMatchObject({ status: 404, code: 'model_not_found' });
  });
});

describe('embeddings', () => {
  const cosine = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i]!, 0);

  it('returns deterministic unit vectors where shared words mean closeness, in float and base64', async () => {
    const texts = ['the cat sat on the mat', 'the cat sat on a mat', 'quantum chromodynamics lecture notes'];
    // The SDK asks for base64 by default and decodes it; the float form must agree to float32 precision.
    const viaBase64 = await openai.embeddings.create({ model, input: texts });
    const viaFloat = await openai.embeddings.create({ model, input: texts, encoding_format: 'float' });
    const vectors = viaBase64.data.map((d) => d.embedding);
    expect(vectors.map((v) => v.length)).toEqual([256, 256, 256]);
    for (const v of vectors) expect(Math.hypot(...v)).toBeCloseTo(1, 5);
    viaFloat.data.forEach((d, i) => d.embedding.forEach((x, k) => expect(x).toBeCloseTo(vectors[i]![k]!, 6)));
    expect(cosine(vectors[0]!, vectors[1]!)).toBeGreaterThan(cosine(vectors[0]!, vectors[2]!) + 0.3);
    const again = await openai.embeddings.create({ model, input: texts[0]! });
    expect(again.data[0]!.embedding).toEqual(vectors[0]);
    const tok = await loadQwen3Tokenizer();
    expect(viaBase64.usage.prompt_tokens).toBe(texts.reduce((s, t) => s + tok.encode(t).length, 0));
  });

  it('shortens to the requested dimensions and refuses bad input', async () => {
    const short = await openai.embeddings.create({ model, input: 'hello', dimensions: 64, encoding_format: 'float' });
    expect(short.data[0]!.embedding).toHaveLength(64);
    expect(Math.hypot(...short.data[0]!.embedding)).toBeCloseTo(1, 6);
    await expect(openai.embeddings.create({ model, input: '' })).rejects.toMatchObject({ status: 400, param: 'input' });
    await expect(openai.embeddings.create({ model, input: 'x', dimensions: 1000 })).rejects.toMatchObject({ status: 400, param: 'dimensions' });
  });

  it('is absent (404) on an engine started without it, as on a chat-only engine', async () => {
    const chatOnly = await startTestEngine({ model, serve: { embeddings: false, completions: false } });
    try {
      const client = new OpenAI({ baseURL: `${chatOnly.url}/v1`, apiKey: 'unused' });
      await expect(client.embeddings.create({ model, input: 'x' })).rejects.toMatchObject({ status: 404 });
      await expect(client.completions.create({ model, prompt: 'x' })).rejects.toMatchObject({ status: 404 });
    } finally {
      await chatOnly.stop();
    }
  });
});

describe('models and errors', () => {
  it('retrieves the served model by id and answers 404 in OpenAI shape for another', async () => {
    expect(await openai.models.retrieve(model)).toMatchObject({ id: model, object: 'model' });
    const raw = await fetch(`${engine.url}/v1/models/${model}`);
    expect(((await raw.json()) as { id: string }).id).toBe(model);
    const err = await openai.models.retrieve('acme/none').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect(err).toMatchObject({ status: 404, code: 'model_not_found', param: 'model', type: 'invalid_request_error' });
  });

  it('answers wrong methods with 405 and unknown paths with 404, both in OpenAI error shape', async () => {
    const get = await fetch(`${engine.url}/v1/chat/completions`);
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
    const body = (await get.json()) as { error: Record<string, unknown> };
    expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
    expect(body.error.code).toBe('method_not_allowed');
    const post = await fetch(`${engine.url}/v1/models`, { method: 'POST' });
    expect(post.status).toBe(405);
    const missing = await fetch(`${engine.url}/v1/nothing`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { type: string } }).error.type).toBe('invalid_request_error');
  });

  it('names the bad field in a 400 for each endpoint', async () => {
    await expect(openai.chat.completions.create({ model, messages: user('x'), n: 0 })).rejects.toMatchObject({ status: 400, param: 'n', type: 'invalid_request_error' });
    await expect(openai.chat.completions.create({ model, messages: user('x'), stop: 5 as never })).rejects.toMatchObject({ status: 400, param: 'stop' });
    await expect(openai.completions.create({ model, prompt: [] as string[] })).rejects.toMatchObject({ status: 400, param: 'prompt' });
    await expect(openai.embeddings.create({ model, input: 'x', encoding_format: 'int8' as never })).rejects.toMatchObject({ status: 400, param: 'encoding_format' });
  });
});

import { describe, expect, it } from 'vitest';
import { createOpenAiCompatibleBackend } from './backend.ts';
import { useTestEngine } from '../testing/engine-fixture.ts';
import { startTestEngine } from './test-engine.ts';
import { loadQwen3Tokenizer, renderChatMl } from './tokenizer.ts';

const model = 'Qwen/Qwen3-0.6B';
const t = useTestEngine(model);

describe('test engine through the official openai client', () => {
  it('answers the same request with the same text, and different prompts differently', async () => {
    const ask = (q: string) => t.openai.chat.completions.create({ model, messages: [{ role: 'user', content: q }] });
    const [a, b, c] = await Promise.all([ask('hello'), ask('hello'), ask('something else')]);
    expect(a.choices[0]!.message.content).toBe(b.choices[0]!.message.content);
    expect(a.choices[0]!.message.content).not.toBe(c.choices[0]!.message.content);
    expect(a.choices[0]!.message.content!.length).toBeGreaterThan(10);
  });

  it('counts prompt and completion tokens with the real Qwen3 tokenizer', async () => {
    const tok = await loadQwen3Tokenizer();
    const messages = [{ role: 'system' as const, content: 'be brief' }, { role: 'user' as const, content: 'count me, please' }];
    const res = await t.openai.chat.completions.create({ model, messages });
    expect(res.usage!.prompt_tokens).toBe(tok.encode(renderChatMl(messages, false)).length);
    expect(res.usage!.completion_tokens).toBe(tok.encode(res.choices[0]!.message.content!).length);
    expect(res.usage!.total_tokens).toBe(res.usage!.prompt_tokens + res.usage!.completion_tokens);
  });

  it('streams one token per chunk and reports usage in the last chunk', async () => {
    const stream = await t.openai.chat.completions.create({
      model, messages: [{ role: 'user', content: 'stream please' }], stream: true, stream_options: { include_usage: true },
    });
    let text = '';
    let contentChunks = 0;
    let usage;
    let finish;
    for await (const chunk of stream) {
      const delta = chunk.choices[0]?.delta.content;
      if (delta) { text += delta; contentChunks++; }
      if (chunk.choices[0]?.finish_reason) finish = chunk.choices[0].finish_reason;
      if (chunk.usage) usage = chunk.usage;
    }
    expect(finish).toBe('stop');
    expect(usage!.completion_tokens).toBe(contentChunks);
    const full = await t.openai.chat.completions.create({ model, messages: [{ role: 'user', content: 'stream please' }] });
    expect(text).toBe(full.choices[0]!.message.content);
  });

  it('counts a repeated prompt prefix as cached tokens', async () => {
    const long = 'You are a helpful assistant. '.repeat(20);
    const first = await t.openai.chat.completions.create({ model, messages: [{ role: 'system', content: long }, { role: 'user', content: 'one' }] });
    const second = await t.openai.chat.completions.create({ model, messages: [{ role: 'system', content: long }, { role: 'user', content: 'two' }] });
    expect(first.usage!.prompt_tokens_details!.cached_tokens).toBe(0);
    expect(second.usage!.prompt_tokens_details!.cached_tokens).toBeGreaterThanOrEqual(96);
    expect(second.usage!.prompt_tokens_details!.cached_tokens).toBeLessThan(second.usage!.prompt_tokens);
  });

  it('emits reasoning tokens when thinking is enabled', async () => {
    const res = await t.openai.chat.completions.create({ model, messages: [{ role: 'user', content: 'think' }], reasoning_effort: 'high' });
    const reasoning = res.usage!.completion_tokens_details!.reasoning_tokens!;
    expect(reasoning).toBeGreaterThan(0);
    expect((res.choices[0]!.message as unknown as { reasoning_content: string }).reasoning_content.length).toBeGreaterThan(0);
  });

  it('honours max_tokens with finish_reason length, and stop sequences', async () => {
    const short = await t.openai.chat.completions.create({ model, messages: [{ role: 'user', content: 'long' }], max_tokens: 3 });
    expect(short.choices[0]!.finish_reason).toBe('length');
    expect(short.usage!.completion_tokens).toBe(3);
    const full = await t.openai.chat.completions.create({ model, messages: [{ role: 'user', content: 'stop test' }] });
    const words = full.choices[0]!.message.content!.split(' ');
    const stopWord = ` ${words[3]}`;
    const stopped = await t.openai.chat.completions.create({ model, messages: [{ role: 'user', content: 'stop test' }], stop: [stopWord] });
    expect(stopped.choices[0]!.message.content).toBe(full.choices[0]!.message.content!.slice(0, full.choices[0]!.message.content!.indexOf(stopWord)));
  });

  it('rejects bad bodies naming the field, and unknown models with 404', async () => {
    await expect(t.openai.chat.completions.create({ model, messages: [], })).rejects.toMatchObject({ status: 400, param: 'messages' });
    await expect(t.openai.chat.completions.create({ model, messages: [{ role: 'user', content: 'x' }], temperature: 7 })).rejects.toMatchObject({ status: 400, param: 'temperature' });
    await expect(t.openai.chat.completions.create({ model: 'nope', messages: [{ role: 'user', content: 'x' }] })).rejects.toMatchObject({ status: 404 });
    const res = await fetch(`${t.engine.url}/v1/chat/completions`, { method: 'POST', body: '{not json' });
    expect(res.status).toBe(400);
  });
});

describe('cancellation and the worker-side backend', () => {
  it('stops generating when the client disconnects', async () => {
    const slow = await startTestEngine({ model, tokenDelayMs: 20 });
    try {
      const ac = new AbortController();
      const backend = createOpenAiCompatibleBackend({ baseUrl: `${slow.url}/v1` });
      let got = 0;
      await expect((async () => {
        for await (const _ of backend.streamChat({ model, messages: [{ role: 'user', content: 'x' }] }, ac.signal)) {
          if (++got === 3) ac.abort();
        }
      })()).rejects.toMatchObject({ code: 'cancelled' });
      await expect.poll(() => slow.stats().cancelled, { timeout: 5000 }).toBe(1);
    } finally {
      await slow.stop();
    }
  });

  it('streams chunks with usage through the backend and lists models', async () => {
    const backend = createOpenAiCompatibleBackend({ baseUrl: t.engine.url });
    expect(await backend.listModels()).toEqual([model]);
    const chunks = [];
    for await (const c of backend.streamChat({ model, messages: [{ role: 'user', content: 'hi' }] })) chunks.push(c);
    expect(chunks.at(-1)!.usage!.completion_tokens).toBeGreaterThan(0);
  });

  it('reports an unreachable engine clearly', async () => {
    const backend = createOpenAiCompatibleBackend({ baseUrl: 'http://127.0.0.1:9', timeoutMs: 2000 });
    await expect(backend.listModels()).rejects.toMatchObject({ code: 'engine_unreachable' });
  });
});

import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { ChatCompletionAssembler, TextCompletionAssembler } from './stream-assembly.ts';
import { useTestEngine } from '../testing/engine-fixture.ts';

/** A streamed answer assembled must equal the engine's own non-streaming answer, field for field. */
const model = 'Qwen/Qwen3-0.6B';
const t = useTestEngine(model);

const tool = { type: 'function' as const, function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' }, days: { type: 'integer' } }, required: ['city', 'days'] } } };
const other = { type: 'function' as const, function: { name: 'get_time', parameters: { type: 'object', properties: { zone: { type: 'string' } }, required: ['zone'] } } };
const cases: Record<string, Omit<OpenAI.ChatCompletionCreateParamsNonStreaming, 'model'>> = {
  text: { messages: [{ role: 'user', content: 'hello' }] },
  'n with logprobs': { messages: [{ role: 'user', content: 'three' }], n: 3, logprobs: true, top_logprobs: 2 },
  'parallel tool calls, twice': { messages: [{ role: 'user', content: 'get_weather and get_time' }], tools: [tool, other], n: 2 },
  'reasoning then a tool call': { messages: [{ role: 'user', content: 'get_weather' }], tools: [tool], reasoning_effort: 'high' },
  'json schema cut by max_tokens': { messages: [{ role: 'user', content: 'json' }], response_format: { type: 'json_schema', json_schema: { name: 'x', schema: tool.function.parameters } }, max_tokens: 6 },
};

describe('assembling a streamed answer', () => {
  for (const [name, body] of Object.entries(cases)) {
    it(`gives the non-streaming chat.completion: ${name}`, async () => {
      const full = await t.openai.chat.completions.create({ model, ...body });
      const assembler = new ChatCompletionAssembler();
      for await (const chunk of await t.openai.chat.completions.create({ model, ...body, stream: true, stream_options: { include_usage: true } })) {
        assembler.add(chunk as unknown as Record<string, unknown>);
      }
      const { id: _a, created: _b, ...assembled } = assembler.result();
      const { id: _c, created: _d, ...expected } = full as unknown as Record<string, unknown>;
      // The second request of the pair finds the prompt in the prefix cache; all else is equal.
      const noCache = (u: unknown) => ({ ...(u as object), prompt_tokens_details: undefined });
      expect({ ...assembled, usage: noCache(assembled.usage) }).toEqual({ ...expected, usage: noCache(expected.usage) });
    });
  }

  it('gives the non-streaming text_completion, logprobs included', async () => {
    const body = { model, prompt: ['one', 'two'], n: 2, max_tokens: 8, logprobs: 2, echo: true };
    const full = await t.openai.completions.create(body);
    const assembler = new TextCompletionAssembler();
    for await (const chunk of await t.openai.completions.create({ ...body, stream: true, stream_options: { include_usage: true } })) {
      assembler.add(chunk as unknown as Record<string, unknown>);
    }
    const { id: _a, created: _b, ...assembled } = assembler.result();
    const { id: _c, created: _d, ...expected } = full as unknown as Record<string, unknown>;
    expect(assembled).toEqual(expected);
  });

  it('keeps fields it does not know, as the engine sent them', () => {
    const a = new ChatCompletionAssembler();
    a.add({ id: 'x', choices: [{ index: 0, delta: { role: 'assistant', content: 'a', audio_note: 'p' } }] });
    a.add({ id: 'x', choices: [{ index: 0, delta: { content: 'b', audio_note: 'q' }, finish_reason: 'stop' }] });
    expect((a.result().choices as Array<{ message: Record<string, unknown> }>)[0]!.message).toMatchObject({ content: 'ab', audio_note: 'pq' });
  });
});

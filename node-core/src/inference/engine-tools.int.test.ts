import OpenAI from 'openai';
import { zodFunction, zodResponseFormat } from 'openai/helpers/zod';
import type { ChatCompletionTool } from 'openai/resources/chat/completions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { startTestEngine, type TestEngine } from './test-engine.ts';
import { loadQwen3Tokenizer, renderChatMl } from './tokenizer.ts';

/** Tool calling and JSON output of the test engine, as the official openai package sees them. */
let engine: TestEngine;
let openai: OpenAI;
const model = 'Qwen/Qwen3-0.6B';

const weather: ChatCompletionTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather in a city',
    parameters: {
      type: 'object',
      properties: {
        city: { type: 'string', minLength: 2 },
        unit: { type: 'string', enum: ['celsius', 'fahrenheit'] },
        days: { type: 'integer', minimum: 1, maximum: 7 },
      },
      required: ['city', 'unit', 'days'],
    },
  },
};
const clock: ChatCompletionTool = {
  type: 'function',
  function: { name: 'get_time', parameters: { type: 'object', properties: { zone: { type: 'string' }, verbose: { type: 'boolean' } }, required: ['zone'] } },
};

beforeAll(async () => {
  engine = await startTestEngine({ model });
  openai = new OpenAI({ baseURL: `${engine.url}/v1`, apiKey: 'unused' });
});
afterAll(() => engine.stop());

describe('tool calls', () => {
  it('calls the tool the user names, with arguments of the schema types, and finish_reason tool_calls', async () => {
    const ask = () => openai.chat.completions.create({ model, messages: [{ role: 'user', content: 'What is the weather in Paris? Use get_weather.' }], tools: [weather, clock] });
    const [a, b] = await Promise.all([ask(), ask()]);
    const choice = a.choices[0]!;
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message.content).toBeNull();
    expect(choice.message.refusal).toBeNull();
    expect(choice.message.tool_calls).toHaveLength(1);
    const call = choice.message.tool_calls![0]!;
    expect(call.type).toBe('function');
    expect(call.id).toMatch(/^call_[A-Za-z0-9]{24}$/);
    if (call.type !== 'function') throw new Error('not a function call');
    expect(call.function.name).toBe('get_weather');
    const args = JSON.parse(call.function.arguments);
    expect(Object.keys(args).sort()).toEqual(['city', 'days', 'unit']);
    expect(typeof args.city).toBe('string');
    expect(args.city.length).toBeGreaterThanOrEqual(2);
    expect(['celsius', 'fahrenheit']).toContain(args.unit);
    expect(Number.isInteger(args.days) && args.days >= 1 && args.days <= 7).toBe(true);
    expect(b).toMatchObject({ choices: a.choices });
    expect(a.usage!.completion_tokens).toBeGreaterThan(5);
  });

  it('answers in text when no tool is named, when tool_choice is none, and after a tool result', async () => {
    const plain = await openai.chat.completions.create({ model, messages: [{ role: 'user', content: 'Tell me a story' }], tools: [weather] });
    expect(plain.choices[0]!.finish_reason).toBe('stop');
    expect(plain.choices[0]!.message.tool_calls ?? []).toHaveLength(0);
    expect(plain.choices[0]!.message.content!.length).toBeGreaterThan(0);
    const none = await openai.chat.completions.create({ model, messages: [{ role: 'user', content: 'use get_weather' }], tools: [weather], tool_choice: 'none' });
    expect(none.choices[0]!.message.tool_calls ?? []).toHaveLength(0);
  });

  it('follows tool_choice required (first tool when none is named) and a named function', async () => {
    const required = await openai.chat.completions.create({ model, messages: [{ role: 'user', content: 'hello' }], tools: [clock, weather], tool_choice: 'required' });
    expect(required.choices[0]!.message.tool_calls!.map((c) => c.type === 'function' && c.function.name)).toEqual(['get_time']);
    const named = await openai.chat.completions.create({
      model, messages: [{ role: 'user', content: 'use get_time' }], tools: [clock, weather], tool_choice: { type: 'function', function: { name: 'get_weather' } },
    });
    expect(named.choices[0]!.message.tool_calls!.map((c) => c.type === 'function' && c.function.name)).toEqual(['get_weather']);
    expect(named.choices[0]!.finish_reason).toBe('tool_calls');
  });

  it('calls several named tools in parallel unless parallel_tool_calls is false', async () => {
    const messages = [{ role: 'user' as const, content: 'call get_time and get weather' }];
    const both = await openai.chat.completions.create({ model, messages, tools: [weather, clock] });
    const calls = both.choices[0]!.message.tool_calls!;
    expect(calls.map((c) => c.type === 'function' && c.function.name)).toEqual(['get_weather', 'get_time']);
    expect(new Set(calls.map((c) => c.id)).size).toBe(2);
    const one = await openai.chat.completions.create({ model, messages, tools: [weather, clock], parallel_tool_calls: false });
    expect(one.choices[0]!.message.tool_calls).toHaveLength(1);
  });

  it('streams tool calls as OpenAI does: index, id and name first, then the arguments in pieces', async () => {
    const request = { model, messages: [{ role: 'user' as const, content: 'get_weather for Oslo' }], tools: [weather, clock] };
    const full = await openai.chat.completions.create(request);
    const stream = await openai.chat.completions.create({ ...request, stream: true });
    const deltas = [];
    let finish;
    for await (const chunk of stream) {
      const choice = chunk.choices[0];
      if (choice?.delta.tool_calls) deltas.push(...choice.delta.tool_calls);
      if (choice?.finish_reason) finish = choice.finish_reason;
    }
    expect(finish).toBe('tool_calls');
    const expected = full.choices[0]!.message.tool_calls![0]!;
    if (expected.type !== 'function') throw new Error('not a function call');
    expect(deltas[0]).toEqual({ index: 0, id: expected.id, type: 'function', function: { name: 'get_weather', arguments: '' } });
    const pieces = deltas.slice(1);
    expect(pieces.length).toBeGreaterThan(3);
    for (const p of pieces) expect(Object.keys(p).sort()).toEqual(['function', 'index']);
    expect(pieces.map((p) => p.function!.arguments).join('')).toBe(expected.function.arguments);
  });

  it('is assembled by the SDK stream helper into the same message as the non-streaming answer', async () => {
    const request = { model, messages: [{ role: 'user' as const, content: 'please get_time and get_weather' }], tools: [weather, clock] };
    const full = await openai.chat.completions.create(request);
    const assembled = await openai.chat.completions.stream(request).finalChatCompletion();
    expect(assembled.choices[0]!.message.tool_calls).toEqual(full.choices[0]!.message.tool_calls);
    expect(assembled.choices[0]!.finish_reason).toBe('tool_calls');
  });

  it('runs a whole tool loop with the SDK runner: call, tool result, final text (streaming and not)', async () => {
    for (const stream of [false, true]) {
      const seen: Array<{ city: string }> = [];
      const tool = zodFunction({
        name: 'lookup_city', parameters: z.object({ city: z.string(), population: z.number().int() }),
        function: (args) => { seen.push(args); return { temperature: 21 }; },
      });
      const runner = stream
        ? openai.chat.completions.runTools({ model, stream: true, messages: [{ role: 'user', content: 'lookup_city Berlin' }], tools: [tool] })
        : openai.chat.completions.runTools({ model, messages: [{ role: 'user', content: 'lookup_city Berlin' }], tools: [tool] });
      const final = await runner.finalContent();
      expect(seen).toHaveLength(1);
      expect(typeof seen[0]!.city).toBe('string');
      expect(final!.length).toBeGreaterThan(0);
      const messages = runner.messages;
      expect(messages.map((m) => m.role)).toEqual(['user', 'assistant', 'tool', 'assistant']);
    }
  });

  it('parses arguments with zod through chat.completions.parse (strict function schema)', async () => {
    const res = await openai.chat.completions.parse({
      model, messages: [{ role: 'user', content: 'book_table for four' }],
      tools: [zodFunction({ name: 'book_table', parameters: z.object({ guests: z.number().int(), name: z.string(), outdoor: z.boolean(), time: z.enum(['18:00', '20:00']) }) })],
    });
    const parsed = res.choices[0]!.message.tool_calls![0]!.function.parsed_arguments as { guests: number; time: string };
    expect(Number.isInteger(parsed.guests)).toBe(true);
    expect(['18:00', '20:00']).toContain(parsed.time);
  });

  it('counts the tools and tool turns in the prompt as Qwen3 renders them', async () => {
    const tok = await loadQwen3Tokenizer();
    const messages = [
      { role: 'user' as const, content: 'get_weather Paris' },
      { role: 'assistant' as const, tool_calls: [{ id: 'call_1', type: 'function' as const, function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
      { role: 'tool' as const, tool_call_id: 'call_1', content: '{"temperature": 21}' },
    ];
    const res = await openai.chat.completions.create({ model, messages, tools: [weather] });
    expect(res.choices[0]!.finish_reason).toBe('stop');
    expect(res.usage!.prompt_tokens).toBe(tok.encode(renderChatMl(messages, false, [weather])).length);
    const prompt = renderChatMl(messages, false, [weather]);
    expect(prompt).toContain('<tool_response>\n{"temperature": 21}\n</tool_response>');
    expect(prompt).toContain('<tool_call>\n{"name": "get_weather", "arguments": {"city":"Paris"}}\n</tool_call>');
  });

  it('refuses bad tool requests naming the field', async () => {
    const bad = (body: object) => openai.chat.completions.create({ model, messages: [{ role: 'user', content: 'x' }], ...body } as never);
    await expect(bad({ tool_choice: 'required' })).rejects.toMatchObject({ status: 400, param: 'tool_choice' });
    await expect(bad({ tools: [weather], tool_choice: { type: 'function', function: { name: 'nope' } } })).rejects.toMatchObject({ status: 400, param: 'tool_choice.function.name' });
    await expect(bad({ tools: [{ type: 'function', function: { name: 'has space' } }] })).rejects.toMatchObject({ status: 400, param: 'tools.0.function.name' });
    await expect(bad({ tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: { a: { type: 'string', pattern: '^x' } } } } }] }))
      .rejects.toMatchObject({ status: 400, param: 'tools.0.function.parameters', message: expect.stringContaining('"pattern"') });
    await expect(openai.chat.completions.create({ model, messages: [{ role: 'tool', content: 'r' } as never] })).rejects.toMatchObject({ status: 400, param: 'messages.0.tool_call_id' });
  });
});

describe('JSON output', () => {
  it('answers a JSON object in json_object mode, the same each time', async () => {
    const ask = () => openai.chat.completions.create({ model, messages: [{ role: 'user', content: 'Reply in JSON' }], response_format: { type: 'json_object' } });
    const [a, b] = await Promise.all([ask(), ask()]);
    const value = JSON.parse(a.choices[0]!.message.content!);
    expect(typeof value).toBe('object');
    expect(Array.isArray(value)).toBe(false);
    expect(Object.keys(value).length).toBeGreaterThan(0);
    expect(b.choices[0]!.message.content).toBe(a.choices[0]!.message.content);
  });

  const Recipe = z.object({
    title: z.string(),
    servings: z.number().int().min(1).max(12),
    rating: z.number().min(0).max(5),
    vegetarian: z.boolean(),
    course: z.enum(['starter', 'main', 'dessert']),
    tags: z.array(z.string()).max(3),
    note: z.string().nullable(),
    steps: z.array(z.object({ order: z.number().int(), text: z.string(), minutes: z.number().int().nullable() })).min(1),
    author: z.object({ email: z.string(), uuid: z.string() }),
  });

  it('answers JSON that validates against a json_schema (zod via the SDK parse helper)', async () => {
    const res = await openai.chat.completions.parse({ model, messages: [{ role: 'user', content: 'A recipe please' }], response_format: zodResponseFormat(Recipe, 'recipe') });
    const parsed = res.choices[0]!.message.parsed;
    expect(Recipe.parse(parsed)).toEqual(parsed);
    expect(JSON.parse(res.choices[0]!.message.content!)).toEqual(parsed);
  });

  it('honours string formats, nested arrays and $ref definitions', async () => {
    const schema = {
      type: 'object',
      $defs: { point: { type: 'object', properties: { x: { type: 'number' }, y: { type: 'number' } }, required: ['x', 'y'], additionalProperties: false } },
      properties: {
        when: { type: 'string', format: 'date-time' },
        id: { type: 'string', format: 'uuid' },
        contact: { type: 'string', format: 'email' },
        path: { type: 'array', items: { $ref: '#/$defs/point' }, minItems: 2, maxItems: 2 },
        code: { type: 'string', minLength: 5, maxLength: 5 },
        level: { anyOf: [{ type: 'integer', minimum: 10, maximum: 20 }, { type: 'null' }] },
      },
      required: ['when', 'id', 'contact', 'path', 'code', 'level'],
      additionalProperties: false,
    };
    const res = await openai.chat.completions.create({ model, messages: [{ role: 'user', content: 'data' }], response_format: { type: 'json_schema', json_schema: { name: 'data', schema, strict: true } } });
    const value = JSON.parse(res.choices[0]!.message.content!);
    const Point = z.object({ x: z.number(), y: z.number() }).strict();
    z.object({
      when: z.iso.datetime(), id: z.uuid(), contact: z.email(), path: z.array(Point).length(2), code: z.string().length(5),
      level: z.number().int().min(10).max(20).nullable(),
    }).strict().parse(value);
  });

  it('streams the same JSON, and different seeds give different values', async () => {
    const format = zodResponseFormat(Recipe, 'recipe');
    const request = { model, messages: [{ role: 'user' as const, content: 'recipe' }], response_format: format, seed: 1 };
    const full = await openai.chat.completions.create(request);
    let text = '';
    for await (const chunk of await openai.chat.completions.create({ ...request, stream: true })) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe(full.choices[0]!.message.content);
    const other = await openai.chat.completions.create({ ...request, seed: 2 });
    Recipe.parse(JSON.parse(other.choices[0]!.message.content!));
    expect(other.choices[0]!.message.content).not.toBe(text);
  });

  it('refuses a schema feature it cannot honour, naming the keyword', async () => {
    const schema = { type: 'object', properties: { a: { type: 'string' } }, allOf: [{ required: ['a'] }] };
    await expect(openai.chat.completions.create({ model, messages: [{ role: 'user', content: 'x' }], response_format: { type: 'json_schema', json_schema: { name: 's', schema } } }))
      .rejects.toMatchObject({ status: 400, param: 'response_format.json_schema.schema', code: 'unsupported_schema', message: expect.stringContaining('"allOf"') });
    await expect(openai.chat.completions.create({ model, messages: [{ role: 'user', content: 'x' }], response_format: { type: 'yaml' } as never }))
      .rejects.toMatchObject({ status: 400, param: 'response_format.type' });
  });
});

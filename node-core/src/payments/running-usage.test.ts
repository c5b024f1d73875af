import { describe, expect, it } from 'vitest';
import { lastUsageIn, mentionsUsage, usageOfChunk, withoutUsage } from './running-usage.ts';

const chunk = (content: string, usage: string) => `{"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":${JSON.stringify(content)}}}],"usage":${usage}}`;
const u = (p: number, c: number, cached = 0, reasoning = 0) => `{"prompt_tokens":${p},"completion_tokens":${c},"total_tokens":${p + c},"prompt_tokens_details":{"cached_tokens":${cached}},"completion_tokens_details":{"reasoning_tokens":${reasoning}}}`;

describe('running usage in relayed answer parts', () => {
  it('reads the last usage of a part (the usage so far), by kind', () => {
    const part = Buffer.from(`data: ${chunk('a', u(10, 1, 4))}\n\ndata: ${chunk('b', u(10, 2, 4, 1))}\n\n`);
    expect(mentionsUsage(part)).toBe(true);
    expect(lastUsageIn(part)).toEqual({ prompt: 6, cached: 4, completion: 1, reasoning: 1 });
  });

  it('ignores "usage" inside generated text and malformed or absurd usage', () => {
    expect(lastUsageIn(Buffer.from(`data: ${chunk('the "usage": {} of words', 'null')}\n\n`))).toBeNull();
    expect(lastUsageIn(Buffer.from(`data: ${chunk('x', '{"prompt_tokens":-1,"completion_tokens":2}')}`))).toBeNull();
    expect(lastUsageIn(Buffer.from(`data: ${chunk('x', '{"prompt_tokens":1.5,"completion_tokens":2}')}`))).toBeNull();
    // A later broken usage falls back to the previous good one.
    const part = Buffer.from(`data: ${chunk('a', u(3, 1))}\n\ndata: {"usage":{"prompt_tokens":`);
    expect(lastUsageIn(part)).toEqual({ prompt: 3, cached: 0, completion: 1, reasoning: 0 });
  });

  it('strips running usage from a chunk, leaving valid JSON with everything else', () => {
    for (const usage of [u(5, 3, 1, 1), 'null']) {
      const c = chunk('hi "usage": there', usage);
      const stripped = withoutUsage(c);
      expect(stripped).not.toMatch(/"usage":/);
      expect(JSON.parse(stripped)).toEqual({ id: 'c1', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content: 'hi "usage": there' } }] });
    }
    const first = `{"usage":${u(1, 1)},"id":"x"}`;
    expect(JSON.parse(withoutUsage(first))).toEqual({ id: 'x' });
    expect(withoutUsage('{"id":"x"}')).toBe('{"id":"x"}');
    expect(usageOfChunk(chunk('a', u(7, 2)))).toEqual({ prompt: 7, cached: 0, completion: 2, reasoning: 0 });
  });
});

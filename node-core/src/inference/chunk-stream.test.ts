import { describe, expect, it } from 'vitest';
import { ChunkStreamParser } from './chunk-stream.ts';

const feed = (parts: string[]) => {
  const p = new ChunkStreamParser();
  const out: string[] = [];
  for (const part of parts) out.push(...p.push(part));
  out.push(...p.end());
  return { out, p };
};

describe('chunk stream parser', () => {
  it('reads SSE split anywhere, with CRLF, comments and [DONE]', () => {
    const body = ': keepalive\r\n\r\ndata: {"a":1}\r\n\r\ndata:{"b":2}\n\nevent: x\ndata: [DONE]\n\n';
    for (const size of [1, 3, 7, body.length]) {
      const parts = [];
      for (let i = 0; i < body.length; i += size) parts.push(body.slice(i, i + size));
      const { out, p } = feed(parts);
      expect(out).toEqual(['{"a":1}', '{"b":2}']);
      expect(p.format).toBe('sse');
      expect(p.complete).toBe(true);
    }
  });

  it('reads JSON lines, a last line without newline included', () => {
    const { out, p } = feed(['{"a":1}\n{"b"', ':2}\n\n{"usage":{"prompt_tokens":3}}']);
    expect(out).toEqual(['{"a":1}', '{"b":2}', '{"usage":{"prompt_tokens":3}}']);
    expect(p.format).toBe('json-lines');
    expect(p.complete).toBe(true);
  });

  it('an SSE body cut before [DONE] is incomplete', () => {
    const { p } = feed(['data: {"a":1}\n\n']);
    expect(p.complete).toBe(false);
  });
});

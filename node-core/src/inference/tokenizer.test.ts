import { describe, expect, it } from 'vitest';
import { encodeFairly, loadQwen3Tokenizer, renderChatMl, safeCut, SLICE_CHARS } from './tokenizer.ts';

describe('tokenizing a long prompt in slices', () => {
  it('gives exactly the ids of one call, for mixed text, markup, digits, newlines and non-Latin words', async () => {
    const tok = await loadQwen3Tokenizer();
    const words = ['alpha', "it's", 'Ünïcödé', '数据', 'naïve', '(paren)', 'x=42;', 'tab\there', 'multi  space', 'line\nbreak', '—dash', 'émoji🙂', 'CamelCase', '  ', '3.14159'];
    let body = '';
    for (let i = 0; body.length < 5 * SLICE_CHARS; i++) body += words[(i * 7 + 3) % words.length] + (i % 11 === 0 ? '\n\n' : ' ');
    const prompt = renderChatMl([{ role: 'system', content: 'be brief' }, { role: 'user', content: body }], false);
    const sliced = await encodeFairly(tok, prompt);
    expect(sliced).toEqual(tok.encode(prompt));
    expect(tok.decode(sliced)).toBe(prompt);
  });

  it('cuts only at a single space between letters, and not at all inside one giant word', () => {
    expect(safeCut('aaaa bbbb', 1)).toBe(4);
    expect(safeCut('aa  bb cc', 1)).toBe(6);
    expect(safeCut('12 34 56', 0)).toBe(8);
    expect(safeCut('x'.repeat(10 * SLICE_CHARS), SLICE_CHARS)).toBe(10 * SLICE_CHARS);
  });

  it('lets other work run between slices', async () => {
    const tok = await loadQwen3Tokenizer();
    const text = 'word '.repeat(4 * SLICE_CHARS);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    await encodeFairly(tok, text);
    clearInterval(timer);
    expect(ticks).toBeGreaterThan(0);
  });
});

import { describe, expect, it } from 'vitest';
import { AnswerWriter } from './answer-writer.ts';
import { decodeHttpResponse } from '../protocol/http-payload.ts';
import type { TlObject } from '../protocol/tl-codec.ts';
import { adjustedCounts } from '../payments/adjusted-tokens.ts';
import { DEFAULT_PRICING } from '../payments/pricing.ts';

const id = Buffer.alloc(32, 7);
const tokensOf = (m: TlObject) => ((m.final_info as TlObject).tokens_used as TlObject);

describe('AnswerWriter final info', () => {
  const raw = { prompt: 70, cached: 55, completion: 25, reasoning: 15 };
  const adjust = (r: typeof raw) => adjustedCounts(r, 1500, DEFAULT_PRICING.multipliers);
  // Expected by hand: 70×1.5 = 105; 55×1.5×0.1 = 8.25 → 8; 25×1.5 = 37.5 → 37; 15×1.5 = 22.5 → 22.
  const expected = { prompt_tokens_used: 105n, cached_tokens_used: 8n, completion_tokens_used: 37n, reasoning_tokens_used: 22n, total_tokens_used: 172n };

  it('reports adjusted tokens (total = Σ kinds) when an answer finishes, comes whole or fails midway', () => {
    for (const end of ['finish', 'whole', 'fail'] as const) {
      const sent: TlObject[] = [];
      const w = new AnswerWriter((m) => sent.push(m), id, true, false, 'chat', adjust);
      w.chunks(['{"choices":[{"delta":{"content":"hi"}}]}']);
      if (end === 'finish') w.finish(raw);
      else if (end === 'whole') w.whole(200, 'OK', 'application/json', Buffer.from('{}'), raw);
      else w.fail(502, 'engine gone', raw);
      expect(tokensOf(sent.at(-1)!)).toMatchObject(expected);
    }
  });

  it('reports zero for answers that produced nothing', () => {
    const sent: TlObject[] = [];
    new AnswerWriter((m) => sent.push(m), id, false, false).fail(503, 'busy');
    expect(tokensOf(sent[0]!)).toMatchObject({ total_tokens_used: 0n });
  });
});

describe('AnswerWriter chunks', () => {
  const content = (i: number, usage = '') => `{"choices":[{"index":0,"delta":{"content":"c${i}"}}]${usage}}`;
  const usage = (n: number) => `,"usage":{"prompt_tokens":3,"completion_tokens":${n},"total_tokens":${n + 3}}`;
  const usageOnly = `{"choices": [ ],"usage": {"prompt_tokens":3,"completion_tokens":9,"total_tokens":12}}`;
  const body = (m: TlObject) => (m._ === 'proxy.queryAnswerEx' ? decodeHttpResponse(m.answer as Buffer).body : (m.answer as Buffer)).toString('utf8');

  it('keeps the usage of the last chunk that carries it, across batches (running usage)', () => {
    const w = new AnswerWriter(() => {}, id, true, true);
    w.chunks([content(0, usage(1)), content(1, usage(2)), content(2)]);
    expect(w.usageSoFar()?.completion_tokens).toBe(2);
    w.chunks([content(3), content(4)]);
    expect(w.usageSoFar()?.completion_tokens).toBe(2);
    w.chunks([content(5, usage(6)), usageOnly, content(6)]);
    expect(w.usageSoFar()?.completion_tokens).toBe(9);
  });

  it('relays every chunk verbatim as SSE, dropping the usage-only chunk unless usage was asked for', () => {
    const batch = [content(0, usage(1)), content(1), usageOnly];
    for (const includeUsage of [true, false]) {
      const sent: TlObject[] = [];
      const w = new AnswerWriter((m) => sent.push(m), id, true, includeUsage);
      w.chunks(batch);
      const relayed = includeUsage ? batch : batch.slice(0, 2);
      expect(body(sent[0]!)).toBe(`data: ${relayed.join('\n\ndata: ')}\n\n`);
      expect(w.usageSoFar()?.completion_tokens).toBe(9);
    }
  });
});

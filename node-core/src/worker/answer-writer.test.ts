import { describe, expect, it } from 'vitest';
import { AnswerWriter } from './answer-writer.ts';
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

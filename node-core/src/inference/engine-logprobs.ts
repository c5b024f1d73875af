import { rngFor } from './generator.ts';

/**
 * Deterministic log-probabilities for the test engine's tokens. The emitted token is always the
 * most likely one (as under greedy decoding), the alternatives are other one-token words, and
 * the probabilities of the listed tokens never sum past 1, so a client's arithmetic on them
 * (perplexity, confidence) behaves as on a real engine's.
 */
export interface TopLogprob {
  token: string;
  logprob: number;
  bytes: number[];
}

export interface TokenLogprob extends TopLogprob {
  top_logprobs: TopLogprob[];
}

export function tokenLogprob(token: string, key: string, topN: number, alternatives: string[]): TokenLogprob {
  const rng = rngFor(`logprob\u0000${key}`);
  // p(chosen) in [0.5, 0.99]: the chosen token leads; the rest share what is left, halving each time.
  const chosen = 0.5 + rng() * 0.49;
  const top: TopLogprob[] = topN > 0 ? [entry(token, chosen)] : [];
  let rest = 1 - chosen;
  const used = new Set([token]);
  for (let tries = 0; top.length < topN && tries < topN * 8; tries++) {
    const alt = alternatives[Math.floor(rng() * alternatives.length)]!;
    if (used.has(alt)) continue;
    used.add(alt);
    rest /= 2;
    top.push(entry(alt, rest));
  }
  return { ...entry(token, chosen), top_logprobs: top };
}

function entry(token: string, p: number): TopLogprob {
  return { token, logprob: Math.log(p), bytes: [...Buffer.from(token, 'utf8')] };
}

/** The legacy completions API's logprobs shape, built from per-token entries. */
export function legacyLogprobs(entries: TokenLogprob[], startOffset: number): {
  tokens: string[]; token_logprobs: number[]; top_logprobs: Array<Record<string, number>>; text_offset: number[];
} {
  let offset = startOffset;
  const text_offset = entries.map((e) => {
    const at = offset;
    offset += e.token.length;
    return at;
  });
  return {
    tokens: entries.map((e) => e.token),
    token_logprobs: entries.map((e) => e.logprob),
    top_logprobs: entries.map((e) => Object.fromEntries(e.top_logprobs.map((t) => [t.token, t.logprob]))),
    text_offset,
  };
}

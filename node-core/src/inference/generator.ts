import { createHash } from 'node:crypto';
import type { Tokenizer } from './tokenizer.ts';

/**
 * Deterministic text generation for the test engine: the same prompt and seed always give the
 * same answer, different prompts give different answers. Every emitted piece is exactly one
 * token of the real tokenizer, so streamed pieces, usage counts and re-tokenizing the answer
 * all agree.
 */
const WORDS = `the a network private model answer token proxy worker client secure enclave request
stream quote image hash chain contract stake price fast small large light dark river mountain city
garden window paper signal number value system memory machine learning compute graph data vector
time space world people water music story simple clear bright quiet open close start end first
last next good new old long short high low right left north south east west green blue red white
black gold silver stone glass wood metal fire wind cloud rain snow sun moon star sky sea ocean
bridge road path door house room table chair book page line word letter name place idea reason
question result example method process design pattern layer module service engine thread`.split(/\s+/).filter(Boolean);

export interface GeneratedPiece {
  kind: 'reasoning' | 'content';
  text: string;
}

export interface Generation {
  pieces: GeneratedPiece[];
  finishReason: 'stop' | 'length';
  reasoningTokens: number;
  completionTokens: number;
}

export class DeterministicGenerator {
  private readonly vocabulary: string[];
  private readonly capitalized: Map<string, string>;
  private readonly punctuation: string[];

  constructor(tokenizer: Tokenizer) {
    const single = (s: string) => tokenizer.encode(s).length === 1;
    this.vocabulary = WORDS.filter((w) => single(` ${w}`));
    this.capitalized = new Map();
    for (const w of this.vocabulary) {
      const cap = w[0]!.toUpperCase() + w.slice(1);
      if (single(` ${cap}`)) this.capitalized.set(w, cap);
    }
    this.punctuation = ['.', ','].filter(single);
  }

  generate(opts: { promptKey: string; seed?: number | null; maxTokens?: number; thinking: boolean; stop?: string[] }): Generation {
    const rng = mulberry32(seedFrom(`${opts.promptKey}\u0000${opts.seed ?? 0}`));
    const reasoning = opts.thinking ? this.sentences(rng, 8 + Math.floor(rng() * 24)) : [];
    const content = this.sentences(rng, 12 + Math.floor(rng() * 40));
    const pieces: GeneratedPiece[] = [
      ...reasoning.map((text) => ({ kind: 'reasoning' as const, text })),
      ...content.map((text) => ({ kind: 'content' as const, text })),
    ];
    let finishReason: 'stop' | 'length' = 'stop';
    if (opts.maxTokens !== undefined && pieces.length > opts.maxTokens) {
      pieces.length = opts.maxTokens;
      finishReason = 'length';
    }
    if (opts.stop?.length) cutAtStop(pieces, opts.stop, () => (finishReason = 'stop'));
    const reasoningTokens = pieces.filter((p) => p.kind === 'reasoning').length;
    return { pieces, finishReason, reasoningTokens, completionTokens: pieces.length };
  }

  private sentences(rng: () => number, tokens: number): string[] {
    const out: string[] = [];
    let sentenceStart = true;
    while (out.length < tokens) {
      const word = this.vocabulary[Math.floor(rng() * this.vocabulary.length)]!;
      out.push(` ${sentenceStart ? (this.capitalized.get(word) ?? word) : word}`);
      sentenceStart = false;
      if (out.length < tokens - 2 && rng() < 0.12 && this.punctuation.length) {
        const p = this.punctuation[Math.floor(rng() * this.punctuation.length)]!;
        out.push(p);
        sentenceStart = p === '.';
      }
    }
    if (this.punctuation.includes('.')) out[out.length - 1] = '.';
    return out;
  }
}

/** Truncates content at the earliest stop sequence; the stop text itself is not emitted. */
function cutAtStop(pieces: GeneratedPiece[], stops: string[], onCut: () => void): void {
  let text = '';
  const starts: number[] = [];
  const firstContent = pieces.findIndex((p) => p.kind === 'content');
  if (firstContent < 0) return;
  for (let i = firstContent; i < pieces.length; i++) {
    starts.push(text.length);
    text += pieces[i]!.text;
  }
  let cut = -1;
  for (const s of stops) {
    if (!s) continue;
    const at = text.indexOf(s);
    if (at >= 0 && (cut < 0 || at < cut)) cut = at;
  }
  if (cut < 0) return;
  let i = 0;
  while (i + 1 < starts.length && starts[i + 1]! <= cut) i++;
  const piece = pieces[firstContent + i]!;
  const keep = cut - starts[i]!;
  pieces.length = firstContent + i + (keep > 0 ? 1 : 0);
  if (keep > 0) piece.text = piece.text.slice(0, keep);
  onCut();
}

function seedFrom(key: string): number {
  return createHash('sha256').update(key).digest().readUInt32LE(0);
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

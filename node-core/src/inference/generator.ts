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
  /** Tokens this piece stands for: 1, except where a character spans several byte-level tokens. */
  tokens: number;
}

export interface Generation {
  pieces: GeneratedPiece[];
  finishReason: 'stop' | 'length';
  reasoningTokens: number;
  completionTokens: number;
}

export interface GenerateOptions {
  promptKey: string;
  seed?: number | null;
  maxTokens?: number;
  thinking: boolean;
  stop?: string[];
  /** Fixed answer text (JSON mode, a tool call's rendering) instead of generated sentences. */
  content?: string;
}

export class DeterministicGenerator {
  /** Words that are one Qwen3 token each with a leading space; also the JSON generator's words. */
  readonly vocabulary: string[];
  private readonly capitalized: Map<string, string>;
  private readonly punctuation: string[];

  constructor(private readonly tokenizer: Tokenizer) {
    const single = (s: string) => tokenizer.encode(s).length === 1;
    this.vocabulary = WORDS.filter((w) => single(` ${w}`));
    this.capitalized = new Map();
    for (const w of this.vocabulary) {
      const cap = w[0]!.toUpperCase() + w.slice(1);
      if (single(` ${cap}`)) this.capitalized.set(w, cap);
    }
    this.punctuation = ['.', ','].filter(single);
  }

  generate(opts: GenerateOptions): Generation {
    const rng = rngFor(`${opts.promptKey}\u0000${opts.seed ?? 0}`);
    const reasoning = opts.thinking ? this.sentences(rng, 8 + Math.floor(rng() * 24)) : [];
    const pieces: GeneratedPiece[] = [
      ...reasoning.map((text) => ({ kind: 'reasoning' as const, text, tokens: 1 })),
      ...(opts.content !== undefined
        ? this.tokenPieces(opts.content)
        : this.sentences(rng, 12 + Math.floor(rng() * 40)).map((text) => ({ kind: 'content' as const, text, tokens: 1 }))),
    ];
    let finishReason: 'stop' | 'length' = 'stop';
    if (opts.maxTokens !== undefined) {
      let used = 0;
      const fits = pieces.findIndex((p) => (used += p.tokens) > opts.maxTokens!);
      if (fits >= 0) {
        pieces.length = fits;
        finishReason = 'length';
      }
    }
    if (opts.stop?.length) cutAtStop(pieces, opts.stop, () => (finishReason = 'stop'));
    const count = (list: GeneratedPiece[]) => list.reduce((n, p) => n + p.tokens, 0);
    return { pieces, finishReason, reasoningTokens: count(pieces.filter((p) => p.kind === 'reasoning')), completionTokens: count(pieces) };
  }

  /**
   * Splits text into the pieces a real engine would stream: one per token, except that tokens
   * which only together make a whole character (byte-level BPE) leave as one piece.
   */
  tokenPieces(text: string): GeneratedPiece[] {
    const ids = this.tokenizer.encode(text);
    const out: GeneratedPiece[] = [];
    let start = 0;
    for (let i = 0; i < ids.length; i++) {
      const piece = this.tokenizer.decode(ids.slice(start, i + 1));
      if (piece.endsWith('\uFFFD') && i < ids.length - 1) continue;
      out.push({ kind: 'content', text: piece, tokens: i + 1 - start });
      start = i + 1;
    }
    // The pieces must add up to the text exactly; a tokenizer that does not round-trip gets one piece.
    if (out.map((p) => p.text).join('') !== text) return text ? [{ kind: 'content', text, tokens: ids.length }] : [];
    return out;
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

/** A deterministic random source keyed by any string (prompt, seed, choice index). */
export function rngFor(key: string): () => number {
  return mulberry32(seedFrom(key));
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

import { z } from 'zod';
import { badRequest, parseJsonBody, validateBody } from './engine-request.ts';
import { rngFor } from './generator.ts';
import type { ParseResult } from './openai-types.ts';
import type { Tokenizer } from './tokenizer.ts';

/**
 * `POST /v1/embeddings` for the test engine: deterministic unit vectors from the real Qwen3
 * token ids. Each token id has a fixed pseudo-random direction; a text's vector is the normalised
 * sum over its tokens, so texts sharing tokens point in similar directions (cosine similarity
 * behaves sensibly for retrieval tests) and the same text always gives the same vector.
 */
export const EMBEDDING_DIMENSIONS = 256;
/** Per input, as OpenAI's embedding models. */
export const MAX_EMBEDDING_INPUT_TOKENS = 8192;

const tokenIds = z.array(z.number().int().min(0).max(151_935)).min(1);

export const embeddingRequestSchema = z.looseObject({
  model: z.string().min(1).max(256),
  input: z.union([z.string().min(1), z.array(z.string().min(1)).min(1).max(2048), tokenIds, z.array(tokenIds).min(1).max(2048)], {
    error: 'input must be a non-empty string, token ids, or a non-empty list of either (at most 2048)',
  }),
  encoding_format: z.enum(['float', 'base64']).nullable().optional(),
  dimensions: z.number().int().min(1).max(EMBEDDING_DIMENSIONS).nullable().optional(),
  user: z.string().optional(),
});

export type EmbeddingRequest = z.infer<typeof embeddingRequestSchema>;

export function parseEmbeddingRequest(raw: string): ParseResult<EmbeddingRequest> {
  const json = parseJsonBody(raw);
  if (!json.ok) return json;
  return validateBody(embeddingRequestSchema, json.value);
}

export class Embedder {
  private readonly directions = new Map<number, Float64Array>();

  constructor(private readonly tokenizer: Tokenizer) {}

  /** The response body, or a 400 when an input is too long. */
  embed(request: EmbeddingRequest, model: string): ParseResult<unknown> {
    const inp = request.input;
    const list: Array<string | number[]> = typeof inp === 'string' ? [inp] : typeof inp[0] === 'number' ? [inp as number[]] : (inp as Array<string | number[]>);
    const idLists = list.map((item) => (typeof item === 'string' ? this.tokenizer.encode(item) : item));
    const tooLong = idLists.findIndex((ids) => ids.length > MAX_EMBEDDING_INPUT_TOKENS);
    if (tooLong >= 0) {
      return badRequest(`input ${tooLong} has ${idLists[tooLong]!.length} tokens; the limit is ${MAX_EMBEDDING_INPUT_TOKENS} per input`, 'input', 'context_length_exceeded');
    }
    const dims = request.dimensions ?? EMBEDDING_DIMENSIONS;
    const promptTokens = idLists.reduce((s, ids) => s + ids.length, 0);
    return {
      ok: true,
      value: {
        object: 'list',
        data: idLists.map((ids, index) => {
          const vector = this.vector(ids, dims);
          const embedding = request.encoding_format === 'base64' ? Buffer.from(Float32Array.from(vector).buffer).toString('base64') : vector;
          return { object: 'embedding', index, embedding };
        }),
        model,
        usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
      },
    };
  }

  /** Normalised sum of token directions, cut to `dims` and normalised again (Matryoshka style). */
  vector(ids: number[], dims: number): number[] {
    const sum = new Float64Array(EMBEDDING_DIMENSIONS);
    for (const id of ids) {
      const d = this.direction(id);
      for (let i = 0; i < EMBEDDING_DIMENSIONS; i++) sum[i]! += d[i]!;
    }
    const cut = Array.from(sum.subarray(0, dims));
    const norm = Math.hypot(...cut) || 1;
    return cut.map((x) => x / norm);
  }

  private direction(id: number): Float64Array {
    let d = this.directions.get(id);
    if (!d) {
      const rng = rngFor(`embedding\u0000${id}`);
      d = Float64Array.from({ length: EMBEDDING_DIMENSIONS }, () => rng() * 2 - 1);
      if (this.directions.size >= 200_000) this.directions.clear();
      this.directions.set(id, d);
    }
    return d;
  }
}

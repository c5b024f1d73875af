import { z } from 'zod';
import { legacyLogprobs, tokenLogprob } from './engine-logprobs.ts';
import { badRequest, parseJsonBody, validateBody } from './engine-request.ts';
import type { DeterministicGenerator } from './generator.ts';
import type { ParseResult, Usage } from './openai-types.ts';
import type { Tokenizer } from './tokenizer.ts';

/**
 * The legacy text-completions API (`POST /v1/completions`) as vLLM and llama.cpp serve it: raw
 * prompts (text or token ids, one or many), no chat template, `max_tokens` 16 by default as
 * OpenAI's, `n` choices per prompt, `echo`, `stop`, `seed`, and `logprobs` as an integer count of
 * alternatives in the legacy shape.
 */
const tokenIds = z.array(z.number().int().min(0).max(151_935)).min(1);

export const completionRequestSchema = z.looseObject({
  model: z.string().min(1).max(256),
  prompt: z.union([z.string(), z.array(z.string()).min(1).max(2048), tokenIds, z.array(tokenIds).min(1).max(2048)], {
    error: 'prompt must be a string, token ids, or a non-empty list of either (at most 2048)',
  }),
  max_tokens: z.number().int().min(1).max(1_000_000).nullable().optional(),
  stream: z.boolean().nullable().optional(),
  stream_options: z.looseObject({ include_usage: z.boolean().optional() }).nullable().optional(),
  n: z.number().int().min(1).max(128).nullable().optional(),
  best_of: z.number().int().min(1).max(128).nullable().optional(),
  stop: z.union([z.string(), z.array(z.string()).max(16)]).nullable().optional(),
  seed: z.number().int().nullable().optional(),
  logprobs: z.number().int().min(0).max(5).nullable().optional(),
  echo: z.boolean().nullable().optional(),
  suffix: z.string().nullable().optional(),
  temperature: z.number().min(0).max(2).nullable().optional(),
  top_p: z.number().min(0).max(1).nullable().optional(),
  presence_penalty: z.number().min(-2).max(2).nullable().optional(),
  frequency_penalty: z.number().min(-2).max(2).nullable().optional(),
  logit_bias: z.record(z.string(), z.number()).nullable().optional(),
  user: z.string().optional(),
});

export type CompletionRequest = z.infer<typeof completionRequestSchema>;

export function parseCompletionRequest(raw: string): ParseResult<CompletionRequest> {
  const json = parseJsonBody(raw);
  if (!json.ok) return json;
  const parsed = validateBody(completionRequestSchema, json.value);
  if (!parsed.ok) return parsed;
  if (parsed.value.suffix) return badRequest('suffix (fill-in-the-middle) is not supported by this engine', 'suffix', 'unsupported_value');
  if (parsed.value.best_of != null && parsed.value.best_of !== (parsed.value.n ?? 1)) {
    return badRequest('best_of other than n is not supported by this engine', 'best_of', 'unsupported_value');
  }
  return parsed;
}

export interface CompletionChoicePlan {
  index: number;
  /** Text before the generated part: the prompt when `echo` is set. */
  echo: string;
  pieces: string[];
  finishReason: 'stop' | 'length';
  key: string;
}

export interface CompletionPlan {
  prompts: Array<{ text: string; ids: number[] }>;
  choices: CompletionChoicePlan[];
  completionTokens: number;
}

export function planCompletion(generator: DeterministicGenerator, tokenizer: Tokenizer, request: CompletionRequest): CompletionPlan {
  const p = request.prompt;
  const list: Array<string | number[]> = typeof p === 'string' ? [p] : typeof p[0] === 'number' ? [p as number[]] : (p as Array<string | number[]>);
  const prompts = list.map((item) => (typeof item === 'string' ? { text: item, ids: tokenizer.encode(item) } : { text: tokenizer.decode(item), ids: item }));
  const n = request.n ?? 1;
  const stop = request.stop == null ? undefined : Array.isArray(request.stop) ? request.stop : [request.stop];
  const choices: CompletionChoicePlan[] = [];
  let completionTokens = 0;
  prompts.forEach((prompt, pi) => {
    for (let i = 0; i < n; i++) {
      const promptKey = `completion\u0000${prompt.text}${i ? `\u0000choice ${i}` : ''}`;
      const gen = generator.generate({ promptKey, seed: request.seed, thinking: false, maxTokens: request.max_tokens ?? 16, ...(stop && { stop }) });
      completionTokens += gen.completionTokens;
      choices.push({
        index: pi * n + i, echo: request.echo ? prompt.text : '', pieces: gen.pieces.map((x) => x.text),
        finishReason: gen.finishReason, key: `${promptKey}\u0000${request.seed ?? 0}`,
      });
    }
  });
  return { prompts, choices, completionTokens };
}

export function completionUsage(plan: CompletionPlan, cachedTokens: number): Usage {
  const promptTokens = plan.prompts.reduce((s, p) => s + p.ids.length, 0);
  return {
    prompt_tokens: promptTokens, completion_tokens: plan.completionTokens, total_tokens: promptTokens + plan.completionTokens,
    prompt_tokens_details: { cached_tokens: cachedTokens },
  };
}

interface Meta { id: string; created: number; model: string; request: CompletionRequest; alternatives: string[] }

function logprobsOf(c: CompletionChoicePlan, pieces: string[], from: number, meta: Meta, offset: number) {
  if (meta.request.logprobs == null) return null;
  const entries = pieces.map((text, k) => tokenLogprob(text, `${c.key}\u0000${from + k}`, meta.request.logprobs!, meta.alternatives));
  return legacyLogprobs(entries, offset);
}

export function completionBody(plan: CompletionPlan, usage: Usage, meta: Meta): unknown {
  return {
    id: meta.id, object: 'text_completion', created: meta.created, model: meta.model,
    choices: plan.choices.map((c) => ({
      index: c.index,
      text: c.echo + c.pieces.join(''),
      logprobs: logprobsOf(c, c.pieces, 0, meta, c.echo.length),
      finish_reason: c.finishReason,
    })),
    usage,
  };
}

/** Stream rounds as in chat: one token of every running choice per round, echo first. */
export function completionStreamRounds(plan: CompletionPlan, meta: Meta): Array<Array<{ chunk: unknown; token: boolean }>> {
  const chunk = (index: number, text: string, logprobs: unknown, finish: 'stop' | 'length' | null = null) => ({
    id: meta.id, object: 'text_completion', created: meta.created, model: meta.model,
    choices: [{ index, text, logprobs, finish_reason: finish }],
  });
  const perChoice = plan.choices.map((c) => {
    const events = c.echo ? [{ chunk: chunk(c.index, c.echo, null), token: false }] : [];
    let offset = c.echo.length;
    c.pieces.forEach((text, k) => {
      events.push({ chunk: chunk(c.index, text, logprobsOf(c, [text], k, meta, offset)), token: true });
      offset += text.length;
    });
    events.push({ chunk: chunk(c.index, '', null, c.finishReason), token: false });
    return events;
  });
  const longest = Math.max(...perChoice.map((e) => e.length));
  return Array.from({ length: longest }, (_, r) => perChoice.flatMap((events) => (r < events.length ? [events[r]!] : [])));
}

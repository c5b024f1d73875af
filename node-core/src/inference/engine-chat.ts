import { generateFromSchema } from './engine-json-schema.ts';
import { tokenLogprob, type TokenLogprob } from './engine-logprobs.ts';
import type { EngineChatRequest } from './engine-request.ts';
import { chooseTools, planToolCalls, type PlannedToolCall } from './engine-tools.ts';
import { rngFor, type DeterministicGenerator, type GeneratedPiece } from './generator.ts';
import { maxTokensOf, thinkingEnabled, type Usage } from './openai-types.ts';
import { renderChatMl, renderToolCall } from './tokenizer.ts';

/**
 * What the test engine answers to one chat request: the prompt it renders, then for each of the
 * `n` choices its reasoning, then either text (free, JSON mode, or JSON for a schema) or tool
 * calls. Choice 0 is what the same request with n = 1 gets; the others differ by their index.
 * The response bodies and stream chunks are shaped as OpenAI's (and vLLM's) are.
 */
export type FinishReason = 'stop' | 'length' | 'tool_calls';

export interface ChoicePlan {
  index: number;
  /** Makes every derived value (logprobs) depend on prompt, seed and choice. */
  key: string;
  pieces: GeneratedPiece[];
  toolCalls: PlannedToolCall[];
  finishReason: FinishReason;
  completionTokens: number;
  reasoningTokens: number;
}

export interface ChatPlan {
  promptText: string;
  choices: ChoicePlan[];
}

export function renderPrompt(request: EngineChatRequest): string {
  return renderChatMl(request.messages, thinkingEnabled(request), request.tools ?? undefined);
}

export function planChat(generator: DeterministicGenerator, request: EngineChatRequest, promptText: string): ChatPlan {
  const n = request.n ?? 1;
  const thinking = thinkingEnabled(request);
  const maxTokens = maxTokensOf(request);
  const stop = request.stop == null ? undefined : Array.isArray(request.stop) ? request.stop : [request.stop];
  const tools = chooseTools(request);
  const choices: ChoicePlan[] = [];
  for (let index = 0; index < n; index++) {
    const promptKey = index === 0 ? promptText : `${promptText}\u0000choice ${index}`;
    const key = `${promptKey}\u0000${request.seed ?? 0}`;
    const rng = rngFor(`answer\u0000${key}`);
    const base = { promptKey, seed: request.seed, thinking, ...(maxTokens !== undefined && { maxTokens }) };
    if (tools.length > 0) {
      const calls = planToolCalls(tools, rng, generator.vocabulary);
      const gen = generator.generate({ ...base, content: calls.map((c) => renderToolCall(c.name, c.arguments)).join('\n') });
      // A call cut off by max_tokens is no call: like a real engine's tool parser, leave the raw text.
      const complete = gen.finishReason !== 'length';
      choices.push({
        index, key, toolCalls: complete ? calls : [],
        pieces: complete ? gen.pieces.filter((p) => p.kind === 'reasoning') : gen.pieces,
        finishReason: complete ? 'tool_calls' : 'length',
        completionTokens: gen.completionTokens, reasoningTokens: gen.reasoningTokens,
      });
      continue;
    }
    const format = request.response_format;
    const json = format?.type === 'json_schema'
      ? generateFromSchema(format.json_schema.schema ?? {}, rng, generator.vocabulary)
      : format?.type === 'json_object'
        ? generateFromSchema(JSON_OBJECT_SHAPE, rng, generator.vocabulary)
        : undefined;
    const gen = generator.generate({ ...base, ...(stop && { stop }), ...(json !== undefined && { content: JSON.stringify(json) }) });
    choices.push({ index, key, pieces: gen.pieces, toolCalls: [], finishReason: gen.finishReason, completionTokens: gen.completionTokens, reasoningTokens: gen.reasoningTokens });
  }
  return { promptText, choices };
}

/** What JSON mode without a schema answers: an object of a fixed, plausible shape. */
const JSON_OBJECT_SHAPE = {
  type: 'object',
  properties: {
    answer: { type: 'string', minLength: 12 },
    topics: { type: 'array', items: { type: 'string' }, minItems: 1, maxItems: 4 },
    confidence: { type: 'number', minimum: 0, maximum: 1 },
  },
  required: ['answer', 'topics', 'confidence'],
};

export function usageOf(plan: ChatPlan, promptTokens: number, cachedTokens: number): Usage {
  const completion = plan.choices.reduce((s, c) => s + c.completionTokens, 0);
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completion,
    total_tokens: promptTokens + completion,
    prompt_tokens_details: { cached_tokens: cachedTokens },
    completion_tokens_details: { reasoning_tokens: plan.choices.reduce((s, c) => s + c.reasoningTokens, 0) },
  };
}

interface ResponseMeta {
  id: string;
  created: number;
  model: string;
  request: EngineChatRequest;
  alternatives: string[];
}

function logprobEntries(choice: ChoicePlan, meta: ResponseMeta): TokenLogprob[] {
  return choice.pieces
    .filter((p) => p.kind === 'content')
    .map((p, pos) => tokenLogprob(p.text, `${choice.key}\u0000${pos}`, meta.request.top_logprobs ?? 0, meta.alternatives));
}

export function chatCompletionBody(plan: ChatPlan, usage: Usage, meta: ResponseMeta): unknown {
  return {
    id: meta.id, object: 'chat.completion', created: meta.created, model: meta.model,
    choices: plan.choices.map((c) => {
      const text = (kind: GeneratedPiece['kind']) => c.pieces.filter((p) => p.kind === kind).map((p) => p.text).join('');
      const reasoning = text('reasoning');
      return {
        index: c.index,
        message: {
          role: 'assistant',
          content: c.toolCalls.length ? null : text('content'),
          refusal: null,
          ...(reasoning && { reasoning_content: reasoning }),
          ...(c.toolCalls.length > 0 && {
            tool_calls: c.toolCalls.map((t) => ({ id: t.id, type: 'function', function: { name: t.name, arguments: t.arguments } })),
          }),
        },
        logprobs: meta.request.logprobs ? { content: logprobEntries(c, meta), refusal: null } : null,
        finish_reason: c.finishReason,
      };
    }),
    usage,
  };
}

/** One streamed chunk and whether it carries a generated token (the engine paces those). */
export interface StreamEvent {
  chunk: unknown;
  token: boolean;
}

/**
 * The stream as rounds: round 0 opens every choice, each later round carries the next token of
 * every choice still going (a real engine decodes the n sequences as one batch), and a choice's
 * finish chunk follows its last token. Tool calls stream as OpenAI's do: a first delta with the
 * call's index, id, type and name, then the arguments in token-sized pieces.
 */
export function chatStreamRounds(plan: ChatPlan, meta: ResponseMeta, tokenPieces: (text: string) => string[]): StreamEvent[][] {
  const chunk = (index: number, delta: object, finish: FinishReason | null = null, logprobs: unknown = null) => ({
    id: meta.id, object: 'chat.completion.chunk', created: meta.created, model: meta.model,
    choices: [{ index, delta, logprobs, finish_reason: finish }],
  });
  const perChoice = plan.choices.map((c) => {
    const events: StreamEvent[] = [{ chunk: chunk(c.index, { role: 'assistant', content: c.toolCalls.length ? null : '', refusal: null }), token: false }];
    const entries = meta.request.logprobs ? logprobEntries(c, meta) : [];
    let contentPos = 0;
    for (const piece of c.pieces) {
      if (piece.kind === 'reasoning') {
        events.push({ chunk: chunk(c.index, { reasoning_content: piece.text }), token: true });
      } else {
        const entry = entries[contentPos++];
        events.push({ chunk: chunk(c.index, { content: piece.text }, null, entry ? { content: [entry], refusal: null } : null), token: true });
      }
    }
    c.toolCalls.forEach((call, k) => {
      events.push({ chunk: chunk(c.index, { tool_calls: [{ index: k, id: call.id, type: 'function', function: { name: call.name, arguments: '' } }] }), token: true });
      for (const part of tokenPieces(call.arguments)) {
        events.push({ chunk: chunk(c.index, { tool_calls: [{ index: k, function: { arguments: part } }] }), token: true });
      }
    });
    events.push({ chunk: chunk(c.index, {}, c.finishReason), token: false });
    return events;
  });
  const rounds: StreamEvent[][] = [];
  const longest = Math.max(...perChoice.map((e) => e.length));
  for (let r = 0; r < longest; r++) rounds.push(perChoice.flatMap((events) => (r < events.length ? [events[r]!] : [])));
  return rounds;
}

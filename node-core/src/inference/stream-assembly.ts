/**
 * Builds the non-streaming answer from the chunks of a streamed one. Workers always stream from
 * their engine (usage arrives in the last chunk), so a client that asked for a plain
 * `chat.completion` or `text_completion` gets one assembled here, carrying every field the
 * engine streamed: all `n` choices by index, reasoning, tool calls (id, type and name from their
 * first delta, arguments concatenated), log-probabilities, refusal, finish reasons, and any
 * field an engine adds to a delta that this code does not know (kept as last seen, strings
 * concatenated), so nothing the engine said is silently dropped.
 */
type Json = Record<string, unknown>;

interface ToolCallAcc {
  id?: string;
  type?: string;
  function: { name: string; arguments: string };
  extra: Json;
}

interface ChoiceAcc {
  index: number;
  role: string;
  content: string | null;
  refusal: string | null;
  reasoning: string | null;
  toolCalls: ToolCallAcc[];
  logprobs: { content: unknown[] | null; refusal: unknown[] | null } | null;
  finishReason: unknown;
  extra: Json;
}

const KNOWN_DELTA = new Set(['role', 'content', 'refusal', 'reasoning_content', 'tool_calls']);

/**
 * What both kinds of stream share: the first chunk is the answer's head (id, created, model),
 * the last usage seen is the answer's, and each choice is accumulated by its index.
 */
abstract class StreamAssembler<Choice> {
  protected readonly choices = new Map<number, Choice>();
  private head: Json | null = null;
  private usage: unknown;

  add(chunk: Json): void {
    if (!this.head) this.head = chunk;
    if (chunk.usage) this.usage = chunk.usage;
    for (const c of (chunk.choices ?? []) as Json[]) this.addChoice(Number(c.index ?? 0), c);
  }

  protected abstract addChoice(index: number, c: Json): void;
  protected abstract choiceOut(index: number, acc: Choice): Json;

  /** The assembled answer of kind `object`; `overrides` replace what the stream carried (e.g. `usage` with cost). */
  protected assemble(object: string, headFields: (head: Json) => Json, overrides: Json): Json {
    const head = this.head ?? {};
    return {
      id: head.id, object, created: head.created, model: head.model, ...headFields(head),
      choices: [...this.choices.entries()].sort(([a], [b]) => a - b).map(([index, acc]) => this.choiceOut(index, acc)),
      ...(this.usage !== undefined && { usage: this.usage }),
      ...overrides,
    };
  }
}

export class ChatCompletionAssembler extends StreamAssembler<ChoiceAcc> {
  protected addChoice(index: number, c: Json): void {
    let acc = this.choices.get(index);
    if (!acc) {
      acc = { index, role: 'assistant', content: null, refusal: null, reasoning: null, toolCalls: [], logprobs: null, finishReason: null, extra: {} };
      this.choices.set(index, acc);
    }
    const delta = (c.delta ?? {}) as Json;
    if (typeof delta.role === 'string') acc.role = delta.role;
    if (typeof delta.content === 'string') acc.content = (acc.content ?? '') + delta.content;
    if (typeof delta.refusal === 'string') acc.refusal = (acc.refusal ?? '') + delta.refusal;
    if (typeof delta.reasoning_content === 'string') acc.reasoning = (acc.reasoning ?? '') + delta.reasoning_content;
    for (const t of (delta.tool_calls ?? []) as Json[]) this.addToolCall(acc, t);
    for (const [k, v] of Object.entries(delta)) {
      if (KNOWN_DELTA.has(k) || v == null) continue;
      acc.extra[k] = typeof v === 'string' && typeof acc.extra[k] === 'string' ? acc.extra[k] + v : v;
    }
    const lp = c.logprobs as { content?: unknown[] | null; refusal?: unknown[] | null } | null | undefined;
    if (lp) {
      acc.logprobs ??= { content: null, refusal: null };
      if (lp.content) acc.logprobs.content = [...(acc.logprobs.content ?? []), ...lp.content];
      if (lp.refusal) acc.logprobs.refusal = [...(acc.logprobs.refusal ?? []), ...lp.refusal];
    }
    if (c.finish_reason != null) acc.finishReason = c.finish_reason;
  }

  private addToolCall(acc: ChoiceAcc, t: Json): void {
    const at = Number(t.index ?? acc.toolCalls.length);
    const call = (acc.toolCalls[at] ??= { function: { name: '', arguments: '' }, extra: {} });
    if (typeof t.id === 'string') call.id = t.id;
    if (typeof t.type === 'string') call.type = t.type;
    const fn = (t.function ?? {}) as Json;
    if (typeof fn.name === 'string') call.function.name += fn.name;
    if (typeof fn.arguments === 'string') call.function.arguments += fn.arguments;
    for (const [k, v] of Object.entries(t)) if (!['index', 'id', 'type', 'function'].includes(k)) call.extra[k] = v;
  }

  /** The assembled `chat.completion`; `usage` overrides what the stream carried (e.g. with cost). */
  result(overrides: Json = {}): Json {
    return this.assemble('chat.completion', (head) => (head.system_fingerprint !== undefined ? { system_fingerprint: head.system_fingerprint } : {}), overrides);
  }

  protected choiceOut(_index: number, c: ChoiceAcc): Json {
    return {
      index: c.index,
      message: {
        role: c.role,
        content: c.content,
        refusal: c.refusal,
        ...(c.reasoning !== null && { reasoning_content: c.reasoning }),
        ...(c.toolCalls.length > 0 && {
          tool_calls: c.toolCalls.map((t) => ({ id: t.id, type: t.type ?? 'function', function: t.function, ...t.extra })),
        }),
        ...c.extra,
      },
      logprobs: c.logprobs,
      finish_reason: c.finishReason,
    };
  }
}

/** The same for the legacy `text_completion` stream. */
export class TextCompletionAssembler extends StreamAssembler<{ text: string; logprobs: Json | null; finishReason: unknown }> {
  protected addChoice(index: number, c: Json): void {
    const acc = this.choices.get(index) ?? { text: '', logprobs: null, finishReason: null };
    this.choices.set(index, acc);
    if (typeof c.text === 'string') acc.text += c.text;
    const lp = c.logprobs as Record<string, unknown[]> | null | undefined;
    if (lp) {
      acc.logprobs ??= { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] };
      for (const key of ['tokens', 'token_logprobs', 'top_logprobs', 'text_offset']) {
        (acc.logprobs[key] as unknown[]).push(...(lp[key] ?? []));
      }
    }
    if (c.finish_reason != null) acc.finishReason = c.finish_reason;
  }

  result(overrides: Json = {}): Json {
    return this.assemble('text_completion', () => ({}), overrides);
  }

  protected choiceOut(index: number, c: { text: string; logprobs: Json | null; finishReason: unknown }): Json {
    return { index, text: c.text, logprobs: c.logprobs, finish_reason: c.finishReason };
  }
}

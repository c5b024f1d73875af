import { z } from 'zod';

/**
 * The OpenAI chat-completions surface we accept and produce, validated once at every HTTP
 * boundary (test engine, client API). Unknown fields are kept and passed to the engine, as real
 * engines accept extensions (vLLM's `chat_template_kwargs`, Ollama's options…).
 */
const textPart = z.object({ type: z.literal('text'), text: z.string() });
const toolCall = z.looseObject({
  id: z.string().min(1).max(256),
  type: z.literal('function'),
  function: z.looseObject({ name: z.string().min(1).max(256), arguments: z.string() }),
});
export const chatMessageSchema = z.looseObject({
  role: z.enum(['system', 'developer', 'user', 'assistant', 'tool']),
  // OpenAI lets an assistant turn that only calls tools leave content out; engines check the rest.
  content: z.union([z.string(), z.array(textPart), z.null()]).optional(),
  name: z.string().max(256).optional(),
  tool_calls: z.array(toolCall).max(128).optional(),
  tool_call_id: z.string().max(256).optional(),
  refusal: z.string().nullable().optional(),
  reasoning_content: z.string().nullable().optional(),
});

/**
 * The client endpoint checks shapes and bounds it must rely on itself (model, stream, token
 * limits, n); what only the engine can judge (tool schemas, response_format details) passes
 * through unchanged and comes back as the engine's own 400 when it is wrong.
 */
export const chatCompletionRequestSchema = z.looseObject({
  model: z.string().min(1).max(256),
  messages: z.array(chatMessageSchema).min(1).max(4096),
  stream: z.boolean().optional(),
  stream_options: z.looseObject({ include_usage: z.boolean().optional() }).nullable().optional(),
  temperature: z.number().min(0).max(2).nullable().optional(),
  top_p: z.number().min(0).max(1).nullable().optional(),
  max_tokens: z.number().int().min(1).max(1_000_000).nullable().optional(),
  max_completion_tokens: z.number().int().min(1).max(1_000_000).nullable().optional(),
  stop: z.union([z.string(), z.array(z.string()).max(16)]).nullable().optional(),
  seed: z.number().int().nullable().optional(),
  n: z.number().int().min(1).max(128).nullable().optional(),
  presence_penalty: z.number().min(-2).max(2).nullable().optional(),
  frequency_penalty: z.number().min(-2).max(2).nullable().optional(),
  logprobs: z.boolean().nullable().optional(),
  top_logprobs: z.number().int().min(0).max(20).nullable().optional(),
  tools: z.array(z.looseObject({ type: z.string() })).max(128).nullable().optional(),
  tool_choice: z.union([z.string(), z.looseObject({})]).nullable().optional(),
  parallel_tool_calls: z.boolean().nullable().optional(),
  response_format: z.looseObject({ type: z.string() }).nullable().optional(),
  user: z.string().optional(),
  /** Reasoning models: "low" | "medium" | "high" enables thinking in the test engine. */
  reasoning_effort: z.enum(['minimal', 'low', 'medium', 'high']).nullable().optional(),
  chat_template_kwargs: z.looseObject({ enable_thinking: z.boolean().optional() }).optional(),
});

/** Legacy completions and embeddings: the fields the client relies on; the engine checks the rest. */
export const textCompletionRequestSchema = z.looseObject({
  model: z.string().min(1).max(256),
  prompt: z.unknown().refine((p) => p !== undefined, 'prompt is required'),
  stream: z.boolean().optional(),
  stream_options: z.looseObject({ include_usage: z.boolean().optional() }).nullable().optional(),
  max_tokens: z.number().int().min(0).max(1_000_000).nullable().optional(),
  n: z.number().int().min(1).max(128).nullable().optional(),
});

export const embeddingRequestSchema = z.looseObject({
  model: z.string().min(1).max(256),
  input: z.unknown().refine((p) => p !== undefined, 'input is required'),
});

export type ChatMessage = z.infer<typeof chatMessageSchema>;
export type ChatCompletionRequest = z.infer<typeof chatCompletionRequestSchema>;

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details?: { cached_tokens: number };
  completion_tokens_details?: { reasoning_tokens: number };
}

export interface ChatCompletionChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  choices: Array<{
    index: number;
    delta: { role?: 'assistant'; content?: string | null; reasoning_content?: string };
    finish_reason: string | null;
  }>;
  usage?: Usage | null;
}

export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: Array<{
    index: number;
    message: { role: 'assistant'; content: string | null; reasoning_content?: string };
    finish_reason: string | null;
  }>;
  usage: Usage;
}

export interface OpenAiErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export function openAiError(message: string, type: string, param: string | null = null, code: string | null = null): OpenAiErrorBody {
  return { error: { message, type, param, code } };
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; status: number; body: OpenAiErrorBody };

/** Parses a raw HTTP body into a request, or an OpenAI-style 400 naming the offending field. */
export function parseChatCompletionRequest(raw: string): ParseResult<ChatCompletionRequest> {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (err) {
    return { ok: false, status: 400, body: openAiError(`request body is not valid JSON: ${(err as Error).message}`, 'invalid_request_error', null, 'invalid_json') };
  }
  const parsed = chatCompletionRequestSchema.safeParse(json);
  if (parsed.success) return { ok: true, value: parsed.data };
  const issue = parsed.error.issues[0]!;
  const param = issue.path.map(String).join('.') || null;
  return {
    ok: false,
    status: 400,
    body: openAiError(`invalid field ${param ?? '(body)'}: ${issue.message}`, 'invalid_request_error', param, 'invalid_value'),
  };
}

/** The text of a message, whichever content form the caller used. */
export function messageText(message: ChatMessage): string {
  if (message.content == null) return '';
  if (typeof message.content === 'string') return message.content;
  return message.content.map((p) => p.text).join('');
}

export function maxTokensOf(request: Pick<ChatCompletionRequest, 'max_tokens' | 'max_completion_tokens'>): number | undefined {
  return request.max_completion_tokens ?? request.max_tokens ?? undefined;
}

export function thinkingEnabled(request: Pick<ChatCompletionRequest, 'chat_template_kwargs' | 'reasoning_effort'>): boolean {
  if (request.chat_template_kwargs?.enable_thinking !== undefined) return request.chat_template_kwargs.enable_thinking;
  return request.reasoning_effort != null && request.reasoning_effort !== 'minimal';
}

import { z } from 'zod';
import { checkGeneratable, UnsupportedSchemaError } from './engine-json-schema.ts';
import { chatCompletionRequestSchema, openAiError, type ParseResult } from './openai-types.ts';

/**
 * The chat-completions request as the test engine takes it: the shared schema plus what real
 * engines serve beyond it (tools, response_format, logprobs, n > 1) and the tool-calling message
 * shapes. Kept apart from the shared schema so the client endpoint's own rules stay its own.
 */
const textPart = z.object({ type: z.literal('text'), text: z.string() });
const content = z.union([z.string(), z.array(textPart), z.null()], {
  error: 'content must be a string, an array of {"type": "text", "text": …} parts, or null (this engine takes text only: no images or audio)',
});

const toolCallSchema = z.looseObject({
  id: z.string().min(1),
  type: z.literal('function'),
  function: z.looseObject({ name: z.string().min(1), arguments: z.string() }),
});

const messageSchema = z.discriminatedUnion('role', [
  z.looseObject({ role: z.enum(['system', 'developer', 'user']), content, name: z.string().max(256).optional() }),
  z.looseObject({
    role: z.literal('assistant'),
    // OpenAI lets an assistant turn that only calls tools leave content out.
    content: content.optional(),
    name: z.string().max(256).optional(),
    tool_calls: z.array(toolCallSchema).max(128).optional(),
    refusal: z.string().nullable().optional(),
    reasoning_content: z.string().nullable().optional(),
  }),
  z.looseObject({ role: z.literal('tool'), content, tool_call_id: z.string().min(1) }),
]);

const functionName = z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, 'function names are 1-64 characters of a-z, A-Z, 0-9, _ and -');

export const toolSchema = z.looseObject({
  type: z.literal('function'),
  function: z.looseObject({
    name: functionName,
    description: z.string().optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
    strict: z.boolean().nullable().optional(),
  }),
});

const toolChoiceSchema = z.union([
  z.enum(['none', 'auto', 'required']),
  z.looseObject({ type: z.literal('function'), function: z.looseObject({ name: functionName }) }),
], { error: 'tool_choice must be "none", "auto", "required" or {"type": "function", "function": {"name": …}}' });

const responseFormatSchema = z.discriminatedUnion('type', [
  z.looseObject({ type: z.literal('text') }),
  z.looseObject({ type: z.literal('json_object') }),
  z.looseObject({
    type: z.literal('json_schema'),
    json_schema: z.looseObject({
      name: functionName,
      description: z.string().optional(),
      schema: z.record(z.string(), z.unknown()).optional(),
      strict: z.boolean().nullable().optional(),
    }),
  }),
]);

export const engineChatRequestSchema = chatCompletionRequestSchema.extend({
  messages: z.array(messageSchema).min(1).max(4096),
  n: z.number().int().min(1).max(128).nullable().optional(),
  logprobs: z.boolean().nullable().optional(),
  top_logprobs: z.number().int().min(0).max(20).nullable().optional(),
  tools: z.array(toolSchema).max(128).nullable().optional(),
  tool_choice: toolChoiceSchema.nullable().optional(),
  parallel_tool_calls: z.boolean().nullable().optional(),
  response_format: responseFormatSchema.nullable().optional(),
});

export type EngineChatRequest = z.infer<typeof engineChatRequestSchema>;
export type EngineMessage = z.infer<typeof messageSchema>;
export type Tool = z.infer<typeof toolSchema>;

/** Parses JSON text; an OpenAI-shaped 400 when it is not JSON. */
export function parseJsonBody(raw: string): ParseResult<unknown> {
  try {
    return { ok: true, value: JSON.parse(raw) };
  } catch (err) {
    return badRequest(`request body is not valid JSON: ${(err as Error).message}`, null, 'invalid_json');
  }
}

/** Validates against a zod schema; the first issue becomes a 400 naming the field. */
export function validateBody<T>(schema: z.ZodType<T>, json: unknown): ParseResult<T> {
  const parsed = schema.safeParse(json);
  if (parsed.success) return { ok: true, value: parsed.data };
  const issue = parsed.error.issues[0]!;
  const param = issue.path.map(String).join('.') || null;
  return badRequest(`invalid field ${param ?? '(body)'}: ${issue.message}`, param, 'invalid_value');
}

type Failure = Extract<ParseResult<never>, { ok: false }>;

export function badRequest(message: string, param: string | null, code: string | null = 'invalid_value'): Failure {
  return { ok: false, status: 400, body: openAiError(message, 'invalid_request_error', param, code) };
}

/** Field checks across fields, and the JSON schemas the engine must be able to honour. */
export function parseEngineChatRequest(raw: string): ParseResult<EngineChatRequest> {
  const json = parseJsonBody(raw);
  if (!json.ok) return json;
  const parsed = validateBody(engineChatRequestSchema, json.value);
  if (!parsed.ok) return parsed;
  const r = parsed.value;
  if (r.top_logprobs != null && r.top_logprobs > 0 && r.logprobs !== true) {
    return badRequest('top_logprobs needs logprobs: true', 'top_logprobs');
  }
  const tools = r.tools ?? [];
  if (r.tool_choice != null && r.tool_choice !== 'none' && tools.length === 0) {
    return badRequest('tool_choice is only allowed when tools are given', 'tool_choice');
  }
  if (typeof r.tool_choice === 'object' && r.tool_choice && !tools.some((t) => t.function.name === (r.tool_choice as { function: { name: string } }).function.name)) {
    return badRequest(`tool_choice names function "${r.tool_choice.function.name}", which is not among tools`, 'tool_choice.function.name');
  }
  const names = new Set<string>();
  for (const [i, tool] of tools.entries()) {
    if (names.has(tool.function.name)) return badRequest(`tool name "${tool.function.name}" appears twice`, `tools.${i}.function.name`);
    names.add(tool.function.name);
    const error = schemaError(tool.function.parameters ?? { type: 'object', properties: {} }, `tools.${i}.function.parameters`);
    if (error) return error;
  }
  if (r.response_format?.type === 'json_schema') {
    const error = schemaError(r.response_format.json_schema.schema ?? {}, 'response_format.json_schema.schema');
    if (error) return error;
  }
  return parsed;
}

function schemaError(schema: unknown, param: string): Failure | null {
  try {
    checkGeneratable(schema);
    return null;
  } catch (err) {
    if (err instanceof UnsupportedSchemaError) return badRequest(`${param}: ${err.message}`, param, 'unsupported_schema');
    throw err;
  }
}

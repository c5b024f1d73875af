/**
 * Reads a streamed chat completion body in either of the two shapes engines (and the reference
 * worker) send, detected per response from its first byte:
 *   - SSE: `data: {json}` events separated by a blank line, ending with `data: [DONE]`
 *     (vLLM, SGLang, llama-server, Ollama's /v1 — what OpenAI clients expect);
 *   - JSON lines: one JSON object per line, the stream's end is the body's end (engines with a
 *     native streaming API, and the reference worker's answer parts: it re-emits each JSON value
 *     on its own line after adding cost fields to the usage).
 * Yields each chunk's JSON text unparsed; callers parse only what they need (usage).
 */
export type ChunkStreamFormat = 'sse' | 'json-lines';

export class ChunkStreamParser {
  format: ChunkStreamFormat | null = null;
  /** SSE only: `[DONE]` was seen. JSON lines have no end marker. */
  sawDone = false;
  private buffer = '';

  /** Feeds body text; returns the JSON payloads completed by it. */
  push(text: string): string[] {
    this.buffer += text;
    if (this.format === null) {
      const first = this.buffer.trimStart();
      if (first.length === 0) return [];
      this.format = first[0] === '{' ? 'json-lines' : 'sse';
    }
    return this.format === 'sse' ? this.takeEvents() : this.takeLines(false);
  }

  /** The body ended: returns a last JSON line without its newline (JSON lines only). */
  end(): string[] {
    if (this.format === 'json-lines') return this.takeLines(true);
    return [];
  }

  /** Whether the body ended where a complete stream ends. */
  get complete(): boolean {
    return this.format === 'json-lines' ? this.buffer.trim() === '' : this.sawDone;
  }

  private takeEvents(): string[] {
    const out: string[] = [];
    if (this.buffer.includes('\r')) this.buffer = this.buffer.replace(/\r\n?/g, '\n');
    let sep: number;
    while ((sep = this.buffer.indexOf('\n\n')) >= 0) {
      const event = this.buffer.slice(0, sep);
      this.buffer = this.buffer.slice(sep + 2);
      for (const line of event.split('\n')) {
        if (!line.startsWith('data:')) continue; // comments (":"), event:, id:, retry:
        const data = line.charCodeAt(5) === 32 ? line.slice(6) : line.slice(5);
        if (data === '[DONE]') this.sawDone = true;
        else out.push(data);
      }
    }
    return out;
  }

  private takeLines(atEnd: boolean): string[] {
    const out: string[] = [];
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl).trim();
      this.buffer = this.buffer.slice(nl + 1);
      if (line !== '' && line !== '[DONE]') out.push(line);
    }
    if (atEnd) {
      const line = this.buffer.trim();
      this.buffer = '';
      if (line !== '' && line !== '[DONE]') out.push(line);
    }
    return out;
  }
}

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

  // One pass with a cursor and one slice at the end: a burst of many events costs O(n), not O(n²).
  private takeEvents(): string[] {
    const out: string[] = [];
    if (this.buffer.includes('\r')) this.buffer = this.buffer.replace(/\r\n?/g, '\n');
    const buf = this.buffer;
    let pos = 0;
    let sep: number;
    while ((sep = buf.indexOf('\n\n', pos)) >= 0) {
      let line = pos;
      while (line < sep) {
        const eol = buf.indexOf('\n', line);
        const end = eol < 0 || eol > sep ? sep : eol;
        // Only `data:` lines matter; comments (":"), event:, id:, retry: are skipped.
        if (buf.startsWith('data:', line)) {
          const data = buf.slice(line + (buf.charCodeAt(line + 5) === 32 ? 6 : 5), end);
          if (data === '[DONE]') this.sawDone = true;
          else out.push(data);
        }
        line = end + 1;
      }
      pos = sep + 2;
    }
    if (pos > 0) this.buffer = buf.slice(pos);
    return out;
  }

  private takeLines(atEnd: boolean): string[] {
    const out: string[] = [];
    const buf = this.buffer;
    let pos = 0;
    let nl: number;
    while ((nl = buf.indexOf('\n', pos)) >= 0) {
      const line = buf.slice(pos, nl).trim();
      if (line !== '' && line !== '[DONE]') out.push(line);
      pos = nl + 1;
    }
    this.buffer = pos > 0 ? buf.slice(pos) : buf;
    if (atEnd) {
      const line = this.buffer.trim();
      this.buffer = '';
      if (line !== '' && line !== '[DONE]') out.push(line);
    }
    return out;
  }
}

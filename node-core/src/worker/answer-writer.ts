import type { Usage } from '../inference/openai-types.ts';
import { ChatCompletionAssembler, TextCompletionAssembler } from '../inference/stream-assembly.ts';
import { ZERO_TOKENS, tokensUsed } from '../protocol/messages.ts';
import { encodeHttpResponse } from '../protocol/http-payload.ts';
import type { TlObject } from '../protocol/tl-codec.ts';

/**
 * One query's answer in the reference's shape: a `proxy.queryAnswerEx` whose answer is a
 * serialized http.response (status, headers, first body bytes), then `proxy.queryAnswerPartEx`
 * messages with more body bytes; the message that ends the answer has flags bit 0 and the
 * final info (tokens used). Errors are `proxy.queryAnswerErrorEx` and always carry final info
 * (the reference proxy reads it unconditionally).
 *
 * The body is what the requester asked for: an SSE stream (`data: {chunk}` … `data: [DONE]`)
 * for `stream: true`, else one chat.completion (or text_completion) JSON assembled from the
 * engine's chunks with every field kept; embeddings and engine refusals go as the engine wrote them.
 */
const USAGE_MARK = /"usage":\s*\{/;
/** Body bytes per answer message, well under the 16 MiB frame limit. */
const PART_BYTES = 1024 * 1024;

export class AnswerWriter {
  private started = false;
  /** Non-stream requests: the answer built from the engine's chunks, every field kept. */
  private readonly assembler: ChatCompletionAssembler | TextCompletionAssembler | null;

  constructor(
    private readonly send: (m: TlObject) => void,
    private readonly requestId: Buffer,
    private readonly stream: boolean,
    /** Whether the requester asked for the usage chunk (the engine is always asked for it). */
    private readonly includeUsage: boolean,
    kind: 'chat' | 'completions' | 'embeddings' = 'chat',
  ) {
    this.assembler = stream || kind === 'embeddings' ? null : kind === 'chat' ? new ChatCompletionAssembler() : new TextCompletionAssembler();
  }

  /** Engine chunks (JSON texts). Returns the usage if one of them carried it. */
  chunks(batch: string[]): Usage | undefined {
    let usage: Usage | undefined;
    const relay: string[] = [];
    for (const data of batch) {
      // The substring test first: it rules out every chunk but the usage one at a fraction of the regex's cost.
      const hasUsage = data.includes('"usage"') && USAGE_MARK.test(data);
      if (hasUsage || this.assembler) {
        const chunk = JSON.parse(data) as { usage?: Usage | null; choices?: unknown[] };
        if (hasUsage && chunk.usage) usage = chunk.usage;
        this.assembler?.add(chunk as Record<string, unknown>);
        if (hasUsage && chunk.choices?.length === 0 && !this.includeUsage) continue;
      }
      relay.push(data);
    }
    if (this.stream && relay.length) this.body(Buffer.from(`data: ${relay.join('\n\ndata: ')}\n\n`), null);
    return usage;
  }

  /** Ends the answer with the token usage (TL tokensUsed). */
  finish(tokens: TlObject): void {
    const finalInfo = { _: 'proxy.queryFinalInfo', flags: 0, tokens_used: tokens };
    if (this.stream || !this.assembler) return this.body(Buffer.from('data: [DONE]\n\n'), finalInfo);
    this.body(Buffer.from(JSON.stringify(this.assembler.result())), finalInfo, 'application/json');
  }

  /**
   * A whole engine answer relayed as it came: a non-streamed body (embeddings) or the engine's
   * refusal (a 4xx with its error JSON), in parts that fit a frame.
   */
  whole(status: number, reason: string, contentType: string, bytes: Buffer, tokens: TlObject): void {
    const finalInfo = { _: 'proxy.queryFinalInfo', flags: 0, tokens_used: tokens };
    for (let at = 0; ; at += PART_BYTES) {
      const last = at + PART_BYTES >= bytes.length;
      this.body(bytes.subarray(at, at + PART_BYTES), last ? finalInfo : null, contentType, status, reason);
      if (last) return;
    }
  }

  fail(code: number, message: string): void {
    this.send({
      _: 'proxy.queryAnswerErrorEx', request_id: this.requestId, error_code: code, error: message, flags: 1,
      final_info: { _: 'proxy.queryFinalInfo', flags: 0, tokens_used: tokensUsed(ZERO_TOKENS) },
    });
  }

  private body(bytes: Buffer, finalInfo: TlObject | null, contentType = 'text/event-stream', status = 200, reason = 'OK'): void {
    const flags = finalInfo ? 1 : 0;
    const tail = finalInfo ? { final_info: finalInfo } : {};
    if (!this.started) {
      this.started = true;
      const answer = encodeHttpResponse({ status, reason, headers: [['Content-Type', contentType]], body: bytes });
      this.send({ _: 'proxy.queryAnswerEx', request_id: this.requestId, answer, flags, ...tail });
      return;
    }
    this.send({ _: 'proxy.queryAnswerPartEx', request_id: this.requestId, answer: bytes, flags, ...tail });
  }
}

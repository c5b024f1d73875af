import type { ChatCompletion, ChatCompletionChunk } from '../inference/openai-types.ts';
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
 * for `stream: true`, else one chat.completion JSON assembled from the engine's chunks.
 */
const USAGE_MARK = /"usage":\s*\{/;

export class AnswerWriter {
  private started = false;
  // Non-stream assembly.
  private id = '';
  private created = 0;
  private model = '';
  private content = '';
  private reasoning = '';
  private finishReason: 'stop' | 'length' | null = null;

  constructor(
    private readonly send: (m: TlObject) => void,
    private readonly requestId: Buffer,
    private readonly stream: boolean,
    /** Whether the requester asked for the usage chunk (the engine is always asked for it). */
    private readonly includeUsage: boolean,
  ) {}

  /** Engine chunks (JSON texts). Returns the usage if one of them carried it. */
  chunks(batch: string[]): ChatCompletionChunk['usage'] | undefined {
    let usage: ChatCompletionChunk['usage'] | undefined;
    const relay: string[] = [];
    for (const data of batch) {
      const hasUsage = USAGE_MARK.test(data);
      if (hasUsage || !this.stream) {
        const chunk = JSON.parse(data) as ChatCompletionChunk;
        if (hasUsage) usage = chunk.usage;
        if (!this.stream) this.absorb(chunk);
        if (hasUsage && chunk.choices.length === 0 && !this.includeUsage) continue;
      }
      relay.push(data);
    }
    if (this.stream && relay.length) this.body(Buffer.from(`data: ${relay.join('\n\ndata: ')}\n\n`), null);
    return usage;
  }

  /** Ends the answer with the token usage (TL tokensUsed). */
  finish(tokens: TlObject): void {
    const finalInfo = { _: 'proxy.queryFinalInfo', flags: 0, tokens_used: tokens };
    if (this.stream) return this.body(Buffer.from('data: [DONE]\n\n'), finalInfo);
    const completion: ChatCompletion = {
      id: this.id || 'chatcmpl-cocoon', object: 'chat.completion', created: this.created, model: this.model,
      choices: [{ index: 0, message: { role: 'assistant', content: this.content, ...(this.reasoning && { reasoning_content: this.reasoning }) }, finish_reason: this.finishReason }],
      usage: this.usage,
    } as ChatCompletion;
    this.body(Buffer.from(JSON.stringify(completion)), finalInfo, 'application/json');
  }

  fail(code: number, message: string): void {
    this.send({
      _: 'proxy.queryAnswerErrorEx', request_id: this.requestId, error_code: code, error: message, flags: 1,
      final_info: { _: 'proxy.queryFinalInfo', flags: 0, tokens_used: tokensUsed(ZERO_TOKENS) },
    });
  }

  private usage: ChatCompletionChunk['usage'] | undefined;

  private absorb(chunk: ChatCompletionChunk): void {
    this.id ||= chunk.id;
    this.created ||= chunk.created;
    this.model ||= chunk.model;
    if (chunk.usage) this.usage = chunk.usage;
    const choice = chunk.choices[0];
    if (choice?.delta.content) this.content += choice.delta.content;
    if (choice?.delta.reasoning_content) this.reasoning += choice.delta.reasoning_content;
    if (choice?.finish_reason) this.finishReason = choice.finish_reason;
  }

  private body(bytes: Buffer, finalInfo: TlObject | null, contentType = 'text/event-stream'): void {
    const flags = finalInfo ? 1 : 0;
    const tail = finalInfo ? { final_info: finalInfo } : {};
    if (!this.started) {
      this.started = true;
      const answer = encodeHttpResponse({ status: 200, reason: 'OK', headers: [['Content-Type', contentType]], body: bytes });
      this.send({ _: 'proxy.queryAnswerEx', request_id: this.requestId, answer, flags, ...tail });
      return;
    }
    this.send({ _: 'proxy.queryAnswerPartEx', request_id: this.requestId, answer: bytes, flags, ...tail });
  }
}

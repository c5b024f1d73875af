import type { Usage } from '../inference/openai-types.ts';
import { ChatCompletionAssembler, TextCompletionAssembler } from '../inference/stream-assembly.ts';
import { ZERO_TOKENS, tokensUsed } from '../protocol/messages.ts';
import { encodeHttpResponse } from '../protocol/http-payload.ts';
import type { TlObject } from '../protocol/tl-codec.ts';
import type { TokenCounts } from '../payments/pricing.ts';

/**
 * One query's answer in the reference's shape: a `proxy.queryAnswerEx` whose answer is a
 * serialized http.response (status, headers, first body bytes), then `proxy.queryAnswerPartEx`
 * messages with more body bytes; the message that ends the answer has flags bit 0 and the
 * final info (tokens used). Errors are `proxy.queryAnswerErrorEx` and always carry final info
 * (the reference proxy reads it unconditionally).
 *
 * The final info carries adjusted tokens (payments/adjusted-tokens.ts: the coefficient of the
 * query and the root's multipliers applied per kind), as the reference worker sends them: a
 * proxy charges and pays exactly that. The writer takes the engine's counts and adjusts them.
 *
 * The body is what the requester asked for: an SSE stream (`data: {chunk}` … `data: [DONE]`)
 * for `stream: true`, else one chat.completion (or text_completion) JSON assembled from the
 * engine's chunks with every field kept; embeddings and engine refusals go as the engine wrote them.
 */
const USAGE_MARK = /"usage":\s*\{/;
/** The engine's usage-only chunk (`choices: []`), relayed only to requesters who asked for usage. */
const USAGE_ONLY = /"choices":\s*\[\s*\]/;
/**
 * A cheap substring test first. The needle is 6 characters on purpose: V8 searches for needles
 * of 7 or more with a Boyer-Moore table built on every call (~0.3 µs per 150-character chunk),
 * shorter ones with a plain scan (~0.03 µs).
 */
const hasUsage = (data: string): boolean => data.includes('usage"') && USAGE_MARK.test(data);
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
    /** Engine counts → the adjusted tokens reported in the final info. */
    private readonly adjust: (raw: TokenCounts) => TokenCounts = () => ZERO_TOKENS,
  ) {
    this.assembler = stream || kind === 'embeddings' ? null : kind === 'chat' ? new ChatCompletionAssembler() : new TextCompletionAssembler();
  }

  /**
   * The last chunk that carried usage, kept as text: with running usage (vLLM's
   * `continuous_usage_stats`) every chunk has the usage so far, and only the one needed — at the
   * end, or when the answer stops early — is parsed.
   */
  private lastUsageChunk: string | null = null;

  /** Engine chunks (JSON texts), relayed in one answer part. */
  chunks(batch: string[]): void {
    // Only the last chunk with usage is kept, so the search runs from the end and stops at the
    // first hit (the engine puts usage last; with running usage every chunk has it): testing every
    // chunk cost ~0.3 µs each, 15 µs of a 50-chunk answer.
    for (let i = batch.length - 1; i >= 0; i--) {
      if (hasUsage(batch[i]!)) {
        this.lastUsageChunk = batch[i]!;
        break;
      }
    }
    if (this.assembler) for (const data of batch) this.assembler.add(JSON.parse(data) as Record<string, unknown>);
    if (!this.stream) return;
    // The usage-only chunk goes only to requesters who asked for usage.
    const relay = this.includeUsage ? batch : batch.filter((data) => !(hasUsage(data) && USAGE_ONLY.test(data)));
    // As text: the TL codec writes it as UTF-8 straight into the frame (no Buffer in between).
    if (relay.length) this.body(`data: ${relay.join('\n\ndata: ')}\n\n`, null);
  }

  /** The engine's latest usage: final once the stream ended, else what was generated so far (undefined: the engine reported none). */
  usageSoFar(): Usage | undefined {
    if (this.lastUsageChunk === null) return undefined;
    const usage = (JSON.parse(this.lastUsageChunk) as { usage?: Usage | null }).usage;
    return usage && typeof usage.prompt_tokens === 'number' && typeof usage.completion_tokens === 'number' ? usage : undefined;
  }

  /** Whether any part of the answer left (the requester has seen something). */
  get hasStarted(): boolean {
    return this.started;
  }

  /** Ends the answer with the engine's token usage (reported adjusted, TL tokensUsed). */
  finish(raw: TokenCounts): void {
    const finalInfo = this.finalInfo(raw);
    if (this.stream || !this.assembler) return this.body('data: [DONE]\n\n', finalInfo);
    this.body(Buffer.from(JSON.stringify(this.assembler.result())), finalInfo, 'application/json');
  }

  /**
   * A whole engine answer relayed as it came: a non-streamed body (embeddings) or the engine's
   * refusal (a 4xx with its error JSON), in parts that fit a frame.
   */
  whole(status: number, reason: string, contentType: string, bytes: Buffer, raw: TokenCounts): void {
    const finalInfo = this.finalInfo(raw);
    for (let at = 0; ; at += PART_BYTES) {
      const last = at + PART_BYTES >= bytes.length;
      this.body(bytes.subarray(at, at + PART_BYTES), last ? finalInfo : null, contentType, status, reason);
      if (last) return;
    }
  }

  /** Ends the answer with an error; `produced`: the tokens generated before it (an answer stopped or failed midway is paid for). */
  fail(code: number, message: string, produced: TokenCounts = ZERO_TOKENS): void {
    this.send({
      _: 'proxy.queryAnswerErrorEx', request_id: this.requestId, error_code: code, error: message, flags: 1,
      final_info: this.finalInfo(produced),
    });
  }

  private finalInfo(raw: TokenCounts): TlObject {
    return { _: 'proxy.queryFinalInfo', flags: 0, tokens_used: tokensUsed(this.adjust(raw)) };
  }

  private body(bytes: Buffer | string, finalInfo: TlObject | null, contentType = 'text/event-stream', status = 200, reason = 'OK'): void {
    const flags = finalInfo ? 1 : 0;
    const tail = finalInfo ? { final_info: finalInfo } : {};
    if (!this.started) {
      this.started = true;
      // The header says how the body is framed, as the reference worker writes it: the reference
      // client sets up its HTTP answer from these headers (without one it sends chunk markers
      // inside an unframed body).
      const length = typeof bytes === 'string' ? Buffer.byteLength(bytes) : bytes.length;
      const framing: [string, string] = finalInfo ? ['Content-Length', String(length)] : ['Transfer-Encoding', 'chunked'];
      const answer = encodeHttpResponse({ status, reason, headers: [['Content-Type', contentType], framing], body: bytes });
      this.send({ _: 'proxy.queryAnswerEx', request_id: this.requestId, answer, flags, ...tail });
      return;
    }
    this.send({ _: 'proxy.queryAnswerPartEx', request_id: this.requestId, answer: bytes, flags, ...tail });
  }
}

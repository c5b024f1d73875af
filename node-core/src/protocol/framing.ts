/**
 * Frames as the reference's TcpConnection writes them: a 4-byte little-endian payload length,
 * a 4-byte little-endian sequence number, then the payload. Each direction counts its frames from
 * 0; a receiver that sees any other number than the next one refuses the stream ("bad seqno"),
 * as the reference does. Payloads are 4 bytes .. 16 MiB (the reference's own bounds). Kept apart
 * from the transport and the codec so each can be tested (and fuzzed) alone.
 */
export const MIN_FRAME = 4;
export const MAX_FRAME = 1 << 24;
export const DEFAULT_MAX_FRAME = MAX_FRAME;
export const FRAME_HEADER_BYTES = 8;

export class FrameError extends Error {
  override readonly name = 'FrameError';
}

/** Writes frames with consecutive sequence numbers. */
export class FrameEncoder {
  private seqno = 0;

  encode(payload: Buffer): Buffer {
    const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
    this.header(frame, 0, payload.length);
    payload.copy(frame, FRAME_HEADER_BYTES);
    return frame;
  }

  /** Writes the next frame's header at `at` for a payload of `length` bytes that follows it. */
  header(target: Buffer, at: number, length: number): void {
    if (length < MIN_FRAME || length > MAX_FRAME) throw new FrameError(`payload of ${length} bytes is outside ${MIN_FRAME}..${MAX_FRAME}`);
    target.writeUInt32LE(length, at);
    target.writeInt32LE(this.seqno, at + 4);
    this.seqno = (this.seqno + 1) | 0;
  }
}

/** Incremental decoder: push socket chunks, get whole payloads; throws FrameError on a bad length or seqno. */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private seqno = 0;

  constructor(private readonly maxFrame = DEFAULT_MAX_FRAME) {}

  push(chunk: Buffer): Buffer[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const frames: Buffer[] = [];
    while (this.buffered >= FRAME_HEADER_BYTES) {
      const head = this.peek(FRAME_HEADER_BYTES);
      const len = head.readUInt32LE(0);
      if (len < MIN_FRAME) throw new FrameError(`frame of ${len} bytes is shorter than the ${MIN_FRAME}-byte minimum`);
      if (len > this.maxFrame) throw new FrameError(`frame of ${len} bytes exceeds the ${this.maxFrame}-byte limit`);
      const seqno = head.readInt32LE(4);
      if (seqno !== this.seqno) throw new FrameError(`bad seqno: expected ${this.seqno}, got ${seqno}`);
      if (this.buffered < FRAME_HEADER_BYTES + len) break;
      this.seqno = (this.seqno + 1) | 0;
      frames.push(this.take(FRAME_HEADER_BYTES + len).subarray(FRAME_HEADER_BYTES));
    }
    return frames;
  }

  private peek(n: number): Buffer {
    if (this.chunks[0]!.length >= n) return this.chunks[0]!;
    this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0]!;
  }

  private take(n: number): Buffer {
    const first = this.chunks[0]!;
    let out: Buffer;
    if (first.length === n) {
      this.chunks.shift();
      out = first;
    } else if (first.length > n) {
      out = first.subarray(0, n);
      this.chunks[0] = first.subarray(n);
    } else {
      const all = Buffer.concat(this.chunks);
      out = all.subarray(0, n);
      this.chunks = all.length > n ? [all.subarray(n)] : [];
    }
    this.buffered -= n;
    return out;
  }
}

import { Pool, type Dispatcher } from 'undici';
import { CocoonError, errorMessage } from '../errors.ts';

/**
 * The worker's HTTP exchange with its engine, on a pooled undici client with its lowest-level
 * interface (`dispatch` with a handler). The relay profile showed node:http's per-request
 * machinery (ClientRequest, agent bookkeeping, AbortSignal wiring, and above all one readable
 * stream push per chunked-encoding piece: ~50 per answer) as the worker's largest cost; here a
 * body piece costs one array push, and a reader takes everything that arrived in one go.
 *
 * Body bytes are kept as views into the socket's read buffers (undici hands out views; nothing
 * is reused). A reader that falls behind pauses the engine's socket past HIGH_WATER bytes.
 */
const HIGH_WATER = 1024 * 1024;

export interface EngineResponse {
  readonly status: number;
  readonly statusText: string;
  /** The response's Content-Type, if any. */
  readonly contentType: string | undefined;
  /** Body bytes received since the last call (waits for some); null once the body has ended. Throws if the exchange broke. */
  read(): Promise<Buffer[] | null>;
  /** Stops reading: the rest of the body is dropped (the connection is closed if it is not done). */
  destroy(): void;
}

class Exchange implements Dispatcher.DispatchHandler, EngineResponse {
  status = 0;
  statusText = '';
  contentType: string | undefined;
  private controller: Dispatcher.DispatchController | null = null;
  private parts: Buffer[] = [];
  private buffered = 0;
  private ended = false;
  private failure: Error | null = null;
  private wake: (() => void) | null = null;
  private started: { resolve: (r: EngineResponse) => void; reject: (e: Error) => void } | null;
  /** Called once when the exchange is over (ended, broken or dropped). */
  onDone: (() => void) | null = null;

  constructor(
    started: { resolve: (r: EngineResponse) => void; reject: (e: Error) => void },
    private readonly describe: (err: Error) => Error,
  ) {
    this.started = started;
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.aborted) controller.abort(this.aborted);
  }

  onResponseStart(_c: Dispatcher.DispatchController, status: number, headers: Record<string, string | string[] | undefined>, statusText?: string): void {
    if (status < 200) return; // 1xx: the real answer follows
    this.status = status;
    this.statusText = statusText ?? '';
    const type = headers['content-type'];
    this.contentType = Array.isArray(type) ? type[0] : type;
    const started = this.started!;
    this.started = null;
    started.resolve(this);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.parts.push(chunk);
    this.buffered += chunk.length;
    if (this.buffered > HIGH_WATER) controller.pause();
    this.notify();
  }

  onResponseEnd(): void {
    this.ended = true;
    this.done();
    this.notify();
  }

  onResponseError(_c: Dispatcher.DispatchController, err: Error): void {
    const described = this.describe(err);
    this.done();
    if (this.started) {
      const started = this.started;
      this.started = null;
      return started.reject(described);
    }
    this.failure ??= described;
    this.notify();
  }

  private done(): void {
    const onDone = this.onDone;
    this.onDone = null;
    onDone?.();
  }

  private notify(): void {
    const wake = this.wake;
    if (wake) {
      this.wake = null;
      wake();
    }
  }

  async read(): Promise<Buffer[] | null> {
    while (this.parts.length === 0 && !this.ended && !this.failure) await new Promise<void>((r) => (this.wake = r));
    if (this.parts.length > 0) {
      const parts = this.parts;
      this.parts = [];
      if (this.buffered > HIGH_WATER) this.controller?.resume();
      this.buffered = 0;
      return parts;
    }
    if (this.failure) throw this.failure;
    return null;
  }

  destroy(): void {
    if (!this.ended && !this.failure) {
      this.failure = new CocoonError('cancelled', 'engine response dropped');
      this.controller?.abort(this.failure);
      this.done();
    }
    this.parts = [];
  }

  /** An abort before the request reached a socket is applied when it does. */
  private aborted: Error | null = null;
  abort(reason: Error): void {
    this.aborted = reason;
    this.controller?.abort(reason);
  }
}

export interface EngineClientOptions {
  /** Engine origin and path prefix, e.g. http://127.0.0.1:8000 (no trailing slash). */
  base: string;
  headers: Record<string, string>;
  /** Time to the response headers; generation itself may take longer. */
  timeoutMs: number;
  /** Concurrent engine connections (one per running request), reused across requests. */
  connections?: number;
}

export interface EngineClient {
  post(path: string, body: string, signal?: AbortSignal): Promise<EngineResponse>;
  close(): Promise<void>;
}

export function createEngineClient(opts: EngineClientOptions): EngineClient {
  const base = new URL(opts.base);
  const origin = base.origin;
  const prefix = base.pathname.replace(/\/+$/, '');
  // bodyTimeout 0: a long generation is bounded by the worker's query timeout, not here.
  const pool = new Pool(origin, { connections: opts.connections ?? 256, headersTimeout: opts.timeoutMs, bodyTimeout: 0, keepAliveTimeout: 60_000 });

  function post(path: string, body: string, signal?: AbortSignal): Promise<EngineResponse> {
    if (signal?.aborted) return Promise.reject(new CocoonError('cancelled', 'request cancelled'));
    return new Promise<EngineResponse>((resolve, reject) => {
      const describe = (err: Error): Error => {
        if (err instanceof CocoonError) return err;
        if (signal?.aborted) return new CocoonError('cancelled', 'request cancelled', { cause: err });
        if ((err as { code?: string }).code === 'UND_ERR_HEADERS_TIMEOUT') return new CocoonError('engine_timeout', `inference engine at ${origin} did not answer within ${opts.timeoutMs} ms`, { cause: err });
        return new CocoonError('engine_unreachable', `inference engine at ${origin} is unreachable: ${errorMessage(err)}`, { hint: 'start the engine (vLLM, SGLang, llama-server, Ollama) or check the --backend URL', cause: err });
      };
      const exchange = new Exchange({ resolve, reject }, describe);
      if (signal) {
        const onAbort = () => exchange.abort(new CocoonError('cancelled', 'request cancelled'));
        signal.addEventListener('abort', onAbort, { once: true });
        exchange.onDone = () => signal.removeEventListener('abort', onAbort);
      }
      pool.dispatch({ origin, path: `${prefix}${path}`, method: 'POST', headers: { ...opts.headers, 'content-length': String(Buffer.byteLength(body)) }, body }, exchange);
    });
  }

  return { post, close: () => pool.close() };
}

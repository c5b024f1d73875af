import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from '../log.ts';

/**
 * The defensive edge every HTTP server of ours shares (chain API, client API, web mode, stats,
 * test engine): the request target, body and JSON are parsed here, once, into values or an
 * HttpError carrying the status to answer (400/413/415). A handler that throws anyway gets a 500
 * for that request only; a malformed request line gets a 400 from the HTTP parser hook. Nothing
 * a peer sends can throw out of a request listener and take the process down.
 */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code: string = codeOf(status),
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

function codeOf(status: number): string {
  return ({ 400: 'bad_request', 401: 'unauthorized', 403: 'forbidden', 404: 'not_found', 405: 'method_not_allowed', 413: 'payload_too_large', 415: 'unsupported_media_type', 503: 'unavailable' } as Record<number, string>)[status] ?? 'error';
}

export interface RequestTarget {
  /** The path as sent (still percent-encoded). */
  path: string;
  query: URLSearchParams;
}

/**
 * The request target in origin form (`/path?query`). Absolute-form targets (`GET http://[`),
 * malformed URLs and over-long ones are a 400, never an exception.
 */
export function requestTarget(req: IncomingMessage, maxLength = 8192): RequestTarget {
  const raw = req.url ?? '';
  if (raw.length > maxLength) throw new HttpError(414, `request target longer than ${maxLength} characters`, 'uri_too_long');
  if (!raw.startsWith('/')) throw new HttpError(400, 'request target must be a path starting with "/"');
  let url: URL;
  try {
    url = new URL(raw, 'http://localhost');
  } catch {
    throw new HttpError(400, 'request target is not a valid URL');
  }
  return { path: url.pathname, query: url.searchParams };
}

/** Percent-decodes a path; malformed escapes (`/%E0%A4%A`) are a 400, not a URIError. */
export function decodePath(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    throw new HttpError(400, 'request path has a malformed percent-escape');
  }
}

/**
 * Reads the body up to `limit` bytes: 413 early from Content-Length, else as soon as the streamed
 * size passes the limit (the rest is not buffered; the connection is closed after the answer).
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined) {
    if (!/^\d+$/.test(declared)) return Promise.reject(new HttpError(400, 'Content-Length is not a number'));
    if (Number(declared) > limit) return Promise.reject(tooLarge(req, limit));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        cleanup();
        reject(tooLarge(req, limit));
        return;
      }
      chunks.push(c);
    };
    const onEnd = () => { cleanup(); resolve(Buffer.concat(chunks)); };
    const onError = (err: Error) => { cleanup(); reject(new HttpError(400, `request body could not be read: ${err.message}`)); };
    const onAborted = () => { cleanup(); reject(new HttpError(400, 'client closed the connection before the body ended', 'client_closed')); };
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onClose = () => { if (!req.complete) onAborted(); };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

function tooLarge(req: IncomingMessage, limit: number): HttpError {
  // Stop reading: what is left of the body is dropped and the connection closes after the 413.
  req.pause();
  return new HttpError(413, `request body exceeds ${limit} bytes`, 'payload_too_large', { connection: 'close' });
}

/** 415 unless the request declares `application/json` (optionally with a charset). */
export function requireJson(req: IncomingMessage): void {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') {
    throw new HttpError(415, `Content-Type must be application/json, got "${type || '(none)'}"`);
  }
}

export const MAX_JSON_DEPTH = 64;

/**
 * JSON.parse with a nesting limit checked first, in one linear pass: a body of ten thousand `[`
 * is a 400, never a stack overflow in whatever walks the value afterwards.
 */
export function parseJson(text: string, maxDepth = MAX_JSON_DEPTH): unknown {
  const depth = jsonDepth(text);
  if (depth > maxDepth) throw new HttpError(400, `JSON nested deeper than ${maxDepth} levels`, 'json_too_deep');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new HttpError(400, `body is not valid JSON: ${(err as Error).message}`, 'invalid_json');
  }
}

/** The deepest nesting of arrays/objects, ignoring brackets inside strings. */
export function jsonDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) { if (++depth > max) max = depth; }
    else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}

export type ErrorRenderer = (res: ServerResponse, err: HttpError) => void;

/** Plain JSON `{ error: { message, code } }`, for servers without a protocol-specific shape. */
export const renderJsonError: ErrorRenderer = (res, err) => {
  const body = JSON.stringify({ error: { message: err.message, code: err.code } });
  res.writeHead(err.status, { ...err.headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
};

/**
 * Wraps a handler: an HttpError becomes its status; anything else a 500 for this request, logged
 * with its reason. Nothing escapes to the server's 'request' emitter.
 */
export function safeHandler(
  handle: (req: IncomingMessage, res: ServerResponse) => unknown,
  opts: { log?: Pick<Logger, 'warn' | 'error'>; render?: ErrorRenderer } = {},
): RequestListener {
  const render = opts.render ?? renderJsonError;
  const fail = (req: IncomingMessage, res: ServerResponse, err: unknown) => {
    const httpErr = err instanceof HttpError ? err : new HttpError(500, 'internal error', 'internal');
    if (!(err instanceof HttpError)) opts.log?.error({ err, method: req.method, url: req.url?.slice(0, 200) }, 'request handler failed');
    if (res.headersSent || res.writableEnded) {
      res.destroy();
      return;
    }
    try {
      render(res, httpErr);
    } catch (renderErr) {
      opts.log?.error({ err: renderErr }, 'error renderer failed');
      res.destroy();
    }
  };
  return (req, res) => {
    try {
      const result = handle(req, res);
      if (result instanceof Promise) result.catch((err: unknown) => fail(req, res, err));
    } catch (err) {
      fail(req, res, err);
    }
  };
}

export interface HardenOptions {
  log?: Pick<Logger, 'debug' | 'warn' | 'error'>;
  /** Whole-request receive deadline (headers + body). */
  requestTimeoutMs?: number;
  headersTimeoutMs?: number;
}

/**
 * Server-level limits: a request line or header the parser rejects gets a 400 and the socket is
 * closed (Node's default is the same, but an `error` listener must exist so nothing is thrown);
 * slow-loris headers and bodies time out; at most 100 headers are read.
 */
export function hardenServer<S extends Server>(server: S, opts: HardenOptions = {}): S {
  server.headersTimeout = opts.headersTimeoutMs ?? 10_000;
  server.requestTimeout = opts.requestTimeoutMs ?? 60_000;
  server.maxHeadersCount = 100;
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    opts.log?.debug({ err: err.message, code: err.code }, 'malformed HTTP request');
    if (socket.writable && !(socket as Duplex & { _httpMessage?: unknown })._httpMessage) {
      const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
      socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
    } else socket.destroy();
  });
  return server;
}

/** Guards an `upgrade` listener the same way: a throw answers 400 and closes that socket only. */
export function safeUpgrade(
  handle: (req: IncomingMessage, socket: Duplex, head: Buffer) => unknown,
  log?: Pick<Logger, 'warn' | 'error'>,
): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  return (req, socket, head) => {
    socket.on('error', () => socket.destroy());
    const fail = (err: unknown) => {
      const status = err instanceof HttpError ? err.status : 500;
      if (!(err instanceof HttpError)) log?.error({ err }, 'upgrade handler failed');
      if (socket.writable) socket.end(`HTTP/1.1 ${status} ${err instanceof HttpError ? err.code : 'internal'}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
      else socket.destroy();
    };
    try {
      const r = handle(req, socket, head);
      if (r instanceof Promise) r.catch(fail);
    } catch (err) {
      fail(err);
    }
  };
}

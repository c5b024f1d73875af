import { cocoonCodec, TlWriter, type TlObject } from './tl-codec.ts';

/**
 * The payloads of queries and answers, as the reference carries them: a query is a serialized
 * `http.request` (the HTTP exchange the worker replays against its engine), the first answer
 * message carries a serialized `http.response` (status, headers and the first body bytes), and
 * the following answer parts carry raw body bytes. The proxy forwards the request bytes
 * unchanged; a worker or client that gets anything else refuses it with a clear error.
 */
export interface HttpExchangeRequest {
  method: string;
  url: string;
  headers: Array<[string, string]>;
  body: Buffer;
}

export interface HttpExchangeResponse {
  status: number;
  reason: string;
  headers: Array<[string, string]>;
  body: Buffer;
}

const codec = cocoonCodec();
const header = ([name, value]: [string, string]): TlObject => ({ _: 'http.header', name, value });

export function encodeHttpRequest(r: HttpExchangeRequest): Buffer {
  return codec.encode({ _: 'http.request', method: r.method, url: r.url, http_version: 'HTTP/1.1', headers: r.headers.map(header), payload: r.body });
}

/** A chat completion as the client sends it: POST /v1/chat/completions with a JSON body. */
export function chatCompletionQuery(body: Buffer): Buffer {
  return encodeHttpRequest({ method: 'POST', url: '/v1/chat/completions', headers: [['Content-Type', 'application/json']], body });
}

/** The TL object in `bytes`, which must be a `name` (what: the error's word for it). */
function decodeAs(bytes: Buffer, name: 'http.request' | 'http.response', what: string): TlObject {
  const obj = codec.decode(bytes);
  if (obj._ !== name) throw new Error(`${what} is ${obj._}, expected ${name}`);
  return obj;
}

const headerPairs = (obj: TlObject): [string, string][] => (obj.headers as TlObject[]).map((h) => [h.name as string, h.value as string]);

export function decodeHttpRequest(bytes: Buffer): HttpExchangeRequest {
  const obj = decodeAs(bytes, 'http.request', 'query');
  return { method: obj.method as string, url: obj.url as string, headers: headerPairs(obj), body: obj.payload as Buffer };
}

/**
 * `body` may be text (a worker's SSE part), encoded as UTF-8 straight into the answer, into a
 * buffer sized for it up front (the codec's default writer starts small and doubles).
 */
export function encodeHttpResponse(r: Omit<HttpExchangeResponse, 'body'> & { body: Buffer | string }): Buffer {
  const w = new TlWriter((typeof r.body === 'string' ? Buffer.byteLength(r.body) : r.body.length) + 512);
  codec.encodeTo(w, { _: 'http.response', http_version: 'HTTP/1.1', status_code: r.status, reason: r.reason, headers: r.headers.map(header), payload: r.body });
  return w.finish();
}

export function decodeHttpResponse(bytes: Buffer): HttpExchangeResponse {
  const obj = decodeAs(bytes, 'http.response', 'answer');
  return { status: obj.status_code as number, reason: obj.reason as string, headers: headerPairs(obj), body: obj.payload as Buffer };
}

export function headerValue(headers: Array<[string, string]>, name: string): string | undefined {
  const lower = name.toLowerCase();
  return headers.find(([n]) => n.toLowerCase() === lower)?.[1];
}

const HTTP_REQUEST_ID = codec.idOf('http.request');

/** Cheap check the proxy makes before forwarding a query (the worker parses it fully). */
export function isHttpRequest(bytes: Buffer): boolean {
  if (bytes.length < 4 || bytes.readUInt32LE(0) !== HTTP_REQUEST_ID) return false;
  try {
    codec.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

import type { IncomingMessage, ServerResponse } from 'node:http';
import { openAiError } from './openai-types.ts';

/** Reads a request body up to `limit` bytes; null when the limit is exceeded (caller answers 413). */
export function readBody(req: IncomingMessage, limit: number): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) over = true;
      else chunks.push(c);
    });
    req.on('end', () => resolve(over ? null : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const data = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) });
  res.end(data);
}

export function sendError(res: ServerResponse, status: number, message: string, type = 'invalid_request_error', param: string | null = null, code: string | null = null): void {
  sendJson(res, status, openAiError(message, type, param, code));
}

export function startSse(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  res.flushHeaders();
}

export function writeSse(res: ServerResponse, data: unknown): boolean {
  return res.write(`data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`);
}

import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpError, jsonDepth, MAX_JSON_DEPTH, readBody, type ErrorRenderer } from '../http/safe-http.ts';
import { openAiError, parseChatCompletionRequest, type ChatCompletionRequest, type ParseResult } from './openai-types.ts';

/**
 * Reads and parses a chat completion body through the shared defensive edge: 413 by size, 400 for
 * JSON that is malformed or nested too deep, then the OpenAI schema's own 400s.
 */
export async function readChatRequest(req: IncomingMessage, limit: number): Promise<ParseResult<ChatCompletionRequest>> {
  const raw = (await readBody(req, limit)).toString('utf8');
  const depth = jsonDepth(raw);
  if (depth > MAX_JSON_DEPTH) throw new HttpError(400, `request body is JSON nested ${depth} levels deep; at most ${MAX_JSON_DEPTH} are accepted`, 'json_too_deep');
  return parseChatCompletionRequest(raw);
}

/** Error answers in OpenAI's shape, for safeHandler. */
export const renderOpenAiError: ErrorRenderer = (res, err) => {
  const body = JSON.stringify(openAiError(err.message, err.status >= 500 ? 'server_error' : 'invalid_request_error', null, err.code));
  res.writeHead(err.status, { ...err.headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
};

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

import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { decodePath, HttpError, jsonDepth, parseJson, requestTarget, requireJson } from './safe-http.ts';

const req = (url: string, headers: Record<string, string> = {}) => ({ url, headers }) as unknown as IncomingMessage;
const statusOf = (f: () => unknown) => {
  try {
    f();
    return 200;
  } catch (err) {
    return err instanceof HttpError ? err.status : -1;
  }
};

describe('safe-http', () => {
  it('answers an absolute-form or malformed request target with 400 instead of throwing', () => {
    expect(statusOf(() => requestTarget(req('http://[')))).toBe(400);
    expect(statusOf(() => requestTarget(req('')))).toBe(400);
    expect(statusOf(() => requestTarget(req('/' + 'a'.repeat(9000))))).toBe(414);
    expect(requestTarget(req('/v1/models?x=1')).path).toBe('/v1/models');
  });

  it('answers a malformed percent-escape with 400', () => {
    expect(statusOf(() => decodePath('/%E0%A4%A'))).toBe(400);
    expect(decodePath('/a%20b')).toBe('/a b');
  });

  it('measures JSON nesting without being fooled by brackets in strings', () => {
    expect(jsonDepth('{"a":[1,{"b":"[[[[["}]}')).toBe(3);
    expect(jsonDepth('"\\"[["')).toBe(0);
  });

  it('refuses deeply nested JSON with 400 and bad JSON with 400', () => {
    expect(statusOf(() => parseJson('['.repeat(100_000) + ']'.repeat(100_000)))).toBe(400);
    expect(statusOf(() => parseJson('{'))).toBe(400);
    expect(parseJson('{"a":[1]}')).toEqual({ a: [1] });
  });

  it('accepts only application/json bodies', () => {
    expect(statusOf(() => requireJson(req('/', { 'content-type': 'text/plain' })))).toBe(415);
    expect(statusOf(() => requireJson(req('/', {})))).toBe(415);
    expect(statusOf(() => requireJson(req('/', { 'content-type': 'application/json; charset=utf-8' })))).toBe(200);
  });
});

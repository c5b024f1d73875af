/**
 * A fast fake OpenAI engine for relay benchmarks — a TEST DOUBLE for the GPU engine, used only by
 * benches. It answers every chat completion with the same stream, shaped like the reference's
 * benchmark server (`benchmark/server.go`: 50 chunks of 128 bytes, then usage) but in the OpenAI
 * SSE form our worker and the reference worker both read: a role chunk, N content chunks, a finish
 * chunk, a usage chunk and `data: [DONE]`. Every event is its own write, as an engine flushing
 * tokens would, and all bytes are prepared once so the fake costs as little CPU as possible: the
 * "backend direct" baseline should measure the relay, not this server.
 *
 * Run alone: `node --import tsx node-core/bench/fake-openai-backend.ts [--port 8000] [--chunks 50]
 * [--bytes 128] [--model M]`; prints one JSON ready line `{url, model, pid}`.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';

export interface FakeBackendOptions {
  port?: number;
  host?: string;
  /** Content chunks per answer (default 50, as the reference benchmark). */
  chunks?: number;
  /** Characters of content per chunk (default 128, as the reference benchmark). */
  bytes?: number;
  model?: string;
}

export interface FakeBackend {
  url: string;
  model: string;
  stop(): Promise<void>;
}

export const FAKE_MODEL = 'Qwen/Qwen3-8B';

/** The answer's SSE events, each one write. */
export function fakeAnswerEvents(opts: { chunks: number; bytes: number; model: string }): Buffer[] {
  const base = { id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: 1_700_000_000, model: opts.model };
  const ev = (o: object) => Buffer.from(`data: ${JSON.stringify({ ...base, ...o })}\n\n`);
  const events = [ev({ choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] })];
  const text = 'x'.repeat(Math.max(0, opts.bytes - 1));
  for (let i = 0; i < opts.chunks; i++) events.push(ev({ choices: [{ index: 0, delta: { content: `${text}${i % 10}` }, finish_reason: null }] }));
  events.push(ev({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] }));
  // Token counts as the reference benchmark reports them.
  events.push(ev({ choices: [], usage: { prompt_tokens: 34, completion_tokens: 100, total_tokens: 134, completion_tokens_details: { reasoning_tokens: 10 }, prompt_tokens_details: { cached_tokens: 11 } } }));
  events.push(Buffer.from('data: [DONE]\n\n'));
  return events;
}

export async function startFakeBackend(opts: FakeBackendOptions = {}): Promise<FakeBackend> {
  const model = opts.model ?? FAKE_MODEL;
  const events = fakeAnswerEvents({ chunks: opts.chunks ?? 50, bytes: opts.bytes ?? 128, model });
  const models = Buffer.from(JSON.stringify({ object: 'list', data: [{ id: model, object: 'model', owned_by: 'bench' }] }));
  const server = http.createServer({ requireHostHeader: false }, (req, res) => { // the reference worker sends no Host header
    // The body is not parsed: every request gets the same answer.
    req.resume();
    req.once('end', () => {
      const path = req.url?.split('?')[0];
      if (req.method === 'GET' && path === '/v1/models') {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': models.length }).end(models);
      } else if (req.method === 'GET' && path === '/health') {
        res.writeHead(200).end();
      } else if (req.method === 'POST' && (path === '/v1/chat/completions' || path === '/v1/completions')) {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        for (let i = 0; i < events.length - 1; i++) res.write(events[i]);
        res.end(events[events.length - 1]);
      } else {
        const body = JSON.stringify({ error: { message: `fake backend: no route ${req.method} ${path}`, type: 'not_found' } });
        res.writeHead(404, { 'content-type': 'application/json' }).end(body);
      }
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    model,
    stop: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const { values } = parseArgs({ options: { port: { type: 'string' }, chunks: { type: 'string' }, bytes: { type: 'string' }, model: { type: 'string' } } });
  const num = (v: string | undefined, name: string) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer, got "${v}"`);
    return n;
  };
  const backend = await startFakeBackend({ port: num(values.port, 'port'), chunks: num(values.chunks, 'chunks'), bytes: num(values.bytes, 'bytes'), ...(values.model && { model: values.model }) });
  process.stdout.write(JSON.stringify({ url: backend.url, model: backend.model, pid: process.pid }) + '\n');
  const stop = () => void backend.stop().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

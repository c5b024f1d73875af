/**
 * CPU µs per answer of the relay's in-process steps (no sockets), one line each: what a change to
 * the worker's intake or answer path, or to frame building, is measured with before the whole chain.
 * `npx tsx node-core/bench/hot-path-micro.ts [answers]`
 */
import { Duplex } from 'node:stream';
import { benchBody } from './load-generator.ts';
import { fakeAnswerEvents, FAKE_MODEL } from './fake-openai-backend.ts';
import { chatCompletionQuery } from '../src/protocol/http-payload.ts';
import { parseEngineQuery } from '../src/worker/engine-query.ts';
import { AnswerWriter } from '../src/worker/answer-writer.ts';
import { ChunkStreamParser } from '../src/inference/chunk-stream.ts';
import { Connection } from '../src/protocol/connection.ts';
import { cocoonCodec, type TlObject } from '../src/protocol/tl-codec.ts';
import { ZERO_TOKENS } from '../src/protocol/messages.ts';
import { createLogger } from '../src/log.ts';
import { ProxyPaymentSigner, verifySignedPayment } from '../src/payments/signed-payments.ts';
import { keyPairFromSeed } from '@ton/crypto';
import { Address } from '@ton/core';

const N = Number(process.argv[2] ?? 20_000);
const body = Buffer.from(benchBody(FAKE_MODEL));
const query = chatCompletionQuery(body);
const sse = Buffer.concat(fakeAnswerEvents({ chunks: 50, bytes: 128, model: FAKE_MODEL }));
const requestId = Buffer.alloc(32, 7);

function measure(name: string, f: () => void): void {
  for (let i = 0; i < Math.min(N, 3000); i++) f();
  const t = process.cpuUsage();
  for (let i = 0; i < N; i++) f();
  const d = process.cpuUsage(t);
  console.log(`${name.padEnd(44)} ${((d.user + d.system) / N).toFixed(1).padStart(7)} µs per answer`);
}

measure('worker intake: parseEngineQuery', () => void parseEngineQuery(query));
measure('worker: engine body JSON.stringify', () => {
  const q = parseEngineQuery(query);
  void JSON.stringify({ ...q.body, stream: true, stream_options: { include_usage: true, continuous_usage_stats: true } });
});
measure('worker: SSE split (ChunkStreamParser)', () => void new ChunkStreamParser().push(sse.toString('utf8')));
const batch = new ChunkStreamParser().push(sse.toString('utf8'));
let sent = 0;
measure('worker: AnswerWriter chunks + finish (TL objects)', () => {
  const w = new AnswerWriter(() => sent++, requestId, true, true);
  w.chunks(batch);
  w.finish(ZERO_TOKENS);
});

// Frames: a worker-side Connection writing the two answer frames into a stream nobody encrypts.
const log = createLogger('micro');
// A socket that swallows what is written (a PassThrough would echo the frames back to the connection).
let written = 0;
const sink = new Duplex({ read() {}, write(chunk: Buffer, _enc, done) { written += chunk.length; done(); } });
const conn = new Connection(sink, { log, role: 'acceptor', accept: new Set(), codec: cocoonCodec() });
(conn as unknown as { opened: boolean }).opened = true;
const parts: TlObject[] = [];
new AnswerWriter((m) => parts.push(m), requestId, true, true).chunks(batch);
const finalPart: TlObject = { _: 'proxy.queryAnswerPartEx', request_id: requestId, answer: Buffer.from('data: [DONE]\n\n'), flags: 1, final_info: { _: 'proxy.queryFinalInfo', flags: 0, tokens_used: { _: 'tokensUsed', prompt_tokens_used: 1n, cached_tokens_used: 0n, completion_tokens_used: 1n, reasoning_tokens_used: 0n, total_tokens_used: 2n } } };
async function frames(): Promise<void> {
  const rounds = N;
  for (let i = 0; i < 3000; i++) { conn.send(parts[0]!); conn.send(finalPart); await new Promise(setImmediate); }
  const t = process.cpuUsage();
  for (let i = 0; i < rounds; i++) { conn.send(parts[0]!); conn.send(finalPart); await new Promise(setImmediate); }
  const d = process.cpuUsage(t);
  console.log(`${'connection: 2 answer frames built + written'.padEnd(44)} ${((d.user + d.system) / rounds).toFixed(1).padStart(7)} µs per answer`);
  const t2 = process.cpuUsage();
  for (let i = 0; i < rounds; i++) {
    const w = new AnswerWriter((m) => conn.send(m), requestId, true, true);
    w.chunks(batch);
    w.finish(ZERO_TOKENS);
    await new Promise(setImmediate);
  }
  const d2 = process.cpuUsage(t2);
  console.log(`${'worker: answer built + its frames written'.padEnd(44)} ${((d2.user + d2.system) / rounds).toFixed(1).padStart(7)} µs per answer`);
  if (written === 0 || conn.closed) throw new Error('the connection wrote nothing: the measurement is void');
  conn.close('done');
}
await frames();

// What the proxy does with those two frames at the TL level: decode tcp.packet and the inner
// answer (the bytes stay views of the frame), then encode the client's answer around the same bytes.
const codec = cocoonCodec();
const wireFrames = [parts[0]!, finalPart].map((m) => codec.encode({ _: 'tcp.packet', data: codec.encode(m) }));
const clientIds = { 'proxy.queryAnswerEx': 'client.queryAnswerEx', 'proxy.queryAnswerPartEx': 'client.queryAnswerPartEx' } as Record<string, string>;
measure('proxy: decode 2 answer frames + re-encode', () => {
  for (const f of wireFrames) {
    const inner = codec.decode(codec.decode(f).data as Buffer);
    const out: TlObject = { _: clientIds[inner._]!, request_id: inner.request_id, answer: inner.answer, flags: inner.flags };
    if (inner.final_info) out.final_info = { ...(inner.final_info as TlObject), _: 'client.queryFinalInfo' };
    sent += codec.encode({ _: 'tcp.packet', data: codec.encode(out) }).length;
  }
});

// Settlement: a client or worker checking a signed payment whose bytes it has not verified yet
// (the proxy signs at most every 200 ms per contract; repeats of the same bytes are not re-verified).
const proxyKey = keyPairFromSeed(Buffer.alloc(32, 7));
const ownContract = new Address(0, Buffer.alloc(32, 9)).toString();
const signer = new ProxyPaymentSigner(proxyKey);
const signedPayments = Array.from({ length: 64 }, (_, i) => signer.sign('charge', ownContract, BigInt(1000 + i)));
let verified = 0;
measure('settlement: verify 1 new signed payment', () => {
  verified += Number(verifySignedPayment(signedPayments[verified % 64]!, { kind: 'charge', contract: ownContract, proxyPublicKey: proxyKey.publicKey }) > 0n);
});

import { isUtf8 } from 'node:buffer';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { LocalNetwork } from '../../../node-core/src/network/local-network.ts';
import { fuzzSeed, mutateBytes, nastyString, seededRng, type Rng } from '../../../node-core/src/testing/fuzz.ts';
import { REQUEST_NAMES, WEB_MAX_FRAME_BYTES } from '../../shared/api-contract.ts';
import { startWebServerFixture, type WebServerFixture } from '../../testing/web-server-fixture.ts';
import type { WebServer } from './web-server.ts';

/**
 * Fuzz: WebSocket frames against web mode's API (a real app service on a real local network).
 * Malformed JSON, wrong types, unknown and real channels with hostile arguments, binary frames,
 * floods and frames over the size limit. Every text or binary frame must get exactly one clear
 * error (a code a program can act on and a message a person can read) or a result, never an
 * `internal` error; a frame over the limit closes only its socket (1009); a bystander socket is
 * answered throughout; memory returns near its baseline. Seeded (COCOON_FUZZ_SEED replays a run).
 */
const SEED = fuzzSeed(14_014);
const CASES = 5000;
const LANES = 6;

let net: LocalNetwork;
let web: WebServer;
let fixture: WebServerFixture | undefined;

beforeAll(async () => {
  fixture = await startWebServerFixture();
  ({ net, web } = fixture);
}, 60_000);

afterAll(async () => {
  await fixture?.stop();
});

type Reply = { id: unknown; result?: unknown; error?: { code: unknown; message: unknown } };

/** A socket whose replies are read one at a time (events skipped), or its close code. */
class ApiSocket {
  private readonly replies: Reply[] = [];
  private wake: (() => void) | null = null;
  closeCode: number | null = null;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const m = JSON.parse(String(data)) as Reply & { event?: string };
      if (m.event !== undefined) return;
      this.replies.push(m);
      this.wake?.();
    });
    ws.on('close', (code) => {
      this.closeCode = code;
      this.wake?.();
    });
    ws.on('error', () => undefined);
  }

  static open(): Promise<ApiSocket> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${web.port}/api?token=${web.token}`);
      ws.once('open', () => resolve(new ApiSocket(ws)));
      ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    });
  }

  /** The next reply, or null when the socket closed (or nothing came within the timeout). */
  async next(timeoutMs = 10_000): Promise<Reply | null> {
    const deadline = Date.now() + timeoutMs;
    while (this.replies.length === 0 && this.closeCode === null && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, deadline - Date.now());
      });
    }
    return this.replies.shift() ?? null;
  }

  send(data: string | Buffer, binary = false): void {
    this.ws.send(data, { binary });
  }
}

/** Any JSON value, biased towards what breaks handlers. */
function randomJson(rng: Rng, depth = 0): unknown {
  switch (rng.int(0, depth > 3 ? 4 : 6)) {
    case 0: return null;
    case 1: return rng.chance(0.5);
    case 2: return rng.pick([0, -1, 1.5, 2 ** 53, -(2 ** 63), 1e308, 32_768, 10_001, rng.int(-1000, 1000)]);
    case 3: return nastyString(rng);
    case 4: return rng.pick([[], {}, '', 0]);
    case 5: return Array.from({ length: rng.int(0, 5) }, () => randomJson(rng, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      const keys = ['id', 'conversationId', 'model', 'messages', 'role', 'content', 'amountTon', 'lines', 'cols', 'rows', 'action', '__proto__', 'constructor', nastyString(rng)];
      for (let i = rng.int(0, 5); i > 0; i--) o[rng.pick(keys)] = randomJson(rng, depth + 1);
      return o;
    }
  }
}

/** Arguments that are nearly right: a real shape for the channel with a field or two broken. */
function hostileArgs(rng: Rng, method: string): unknown {
  const good: Record<string, unknown[]> = {
    'chat.start': [{ conversationId: 'fuzz-1', model: net.models[0], messages: [{ role: 'user', content: 'x' }], temperature: 1, maxTokens: 8 }],
    'conversations.truncate': ['fuzz-1', 1],
    'logs.tail': [{ lines: 10 }],
    'account.topUp': [{ amountTon: '1' }],
    'pty.write': [{ id: 'pty-1', data: 'ls' }],
    'owner.gpu.plan': [{ action: 'prepare', bdf: '0000:41:00.0' }],
    'settings.set': [{ logLevel: 'info' }],
  };
  const base = structuredClone(good[method] ?? []);
  if (base.length === 0 || rng.chance(0.3)) return Array.from({ length: rng.int(0, 3) }, () => randomJson(rng));
  const first = base[0];
  if (first && typeof first === 'object') {
    const keys = Object.keys(first);
    (first as Record<string, unknown>)[rng.pick(keys)] = randomJson(rng);
  } else base[0] = randomJson(rng);
  return base;
}

const METHODS: readonly string[] = REQUEST_NAMES;
// Never fuzzed with valid arguments: they change the app's settings or files on purpose.
const UNKNOWN = ['shell.exec', '__proto__', 'constructor', 'toString', 'hasOwnProperty', '', 'status.get ', 'STATUS.GET', 'chat.start.x'];

type Sent = { kind: 'text' | 'binary' | 'mutated'; data: string | Buffer; id: number | null };

function makeCase(rng: Rng, n: number): Sent {
  const id = n + 1;
  switch (rng.int(0, 9)) {
    case 0: return { kind: 'mutated', data: mutateBytes(rng, Buffer.from(JSON.stringify({ id, method: rng.pick(METHODS), args: [] }))), id: null };
    case 1: return { kind: 'text', data: nastyString(rng), id: null };
    case 2: return { kind: 'binary', data: rng.bytes(rng.int(0, 512)), id: null };
    case 3: return { kind: 'binary', data: Buffer.from(JSON.stringify({ id, method: 'status.get', args: [] })), id };
    case 4: return { kind: 'text', data: JSON.stringify(randomJson(rng)), id: null };
    // Wrong types in the envelope.
    case 5: return { kind: 'text', data: JSON.stringify({ id: rng.pick([String(id), null, [id], { id }]), method: rng.pick([1, null, ['status.get'], 'status.get']), args: rng.pick([{}, 'x', null, []]) }), id: null };
    case 6: return { kind: 'text', data: JSON.stringify({ id, method: rng.pick(UNKNOWN), args: [] }), id };
    default: {
      const method = rng.pick(METHODS);
      return { kind: 'text', data: JSON.stringify({ id, method, args: hostileArgs(rng, method) }), id };
    }
  }
}

function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

describe('fuzz: WebSocket frames against web mode', () => {
  it(`answers ${CASES} hostile frames (seed ${SEED}) each with one clear error or a result, never an internal error`, async () => {
    const rng = seededRng(SEED);
    collectGarbage();
    const rssBefore = process.memoryUsage().rss;
    const bystander = await ApiSocket.open();
    const started = Date.now();
    const problems: string[] = [];
    const codes = new Map<string, number>();
    let next = 0;
    const lane = async () => {
      let socket = await ApiSocket.open();
      while (next < CASES) {
        const n = next++;
        const sent = makeCase(seededRng(rng.int(0, 2 ** 31) ^ n), n);
        socket.send(sent.data, sent.kind === 'binary');
        const reply = await socket.next();
        const what = `case ${n} (${sent.kind} ${String(sent.data).slice(0, 120)})`;
        if (!reply) {
          // A text frame that is not UTF-8 fails the socket with 1007, as RFC 6455 requires.
          if (socket.closeCode === 1007 && sent.kind !== 'binary' && !isUtf8(Buffer.from(sent.data))) {
            codes.set('close_1007', (codes.get('close_1007') ?? 0) + 1);
            socket = await ApiSocket.open();
            continue;
          }
          problems.push(`${what}: no reply${socket.closeCode !== null ? `, closed ${socket.closeCode}` : ''}`);
          break;
        }
        if (sent.id !== null && reply.id !== sent.id) problems.push(`${what}: reply for id ${String(reply.id)}`);
        if (reply.error) {
          const { code, message } = reply.error;
          codes.set(String(code), (codes.get(String(code)) ?? 0) + 1);
          if (typeof code !== 'string' || !/^[a-z_]+$/.test(code) || code === 'internal') problems.push(`${what}: error code ${String(code)}: ${String(message)}`);
          if (typeof message !== 'string' || message.length < 5) problems.push(`${what}: no message`);
        } else if (!('result' in reply)) problems.push(`${what}: neither result nor error`);
        if (n % 250 === 0) {
          bystander.send(JSON.stringify({ id: -n - 1, method: 'status.get', args: [] }));
          expect((await bystander.next())?.id).toBe(-n - 1);
        }
      }
      socket.ws.close();
    };
    await Promise.all(Array.from({ length: LANES }, lane));
    const seconds = (Date.now() - started) / 1000;
    expect(problems).toEqual([]);
    // Both kinds of answer were exercised: refusals with a reason, and real results.
    expect(codes.get('bad_message')).toBeGreaterThan(CASES / 10);
    expect(codes.get('bad_arguments')).toBeGreaterThan(CASES / 20);
    expect(codes.get('unknown_request')).toBeGreaterThan(CASES / 50);

    // A flood on one socket: every request answered, in any order, and the bystander still served.
    const flooder = await ApiSocket.open();
    const FLOOD = 2_000;
    for (let i = 0; i < FLOOD; i++) flooder.send(JSON.stringify({ id: i, method: rng.pick(['status.get', 'conversations.list', 'nope']), args: [] }));
    bystander.send(JSON.stringify({ id: 'b', method: 'status.get', args: [] }));
    expect((await bystander.next())).toMatchObject({ id: null, error: { code: 'bad_message' } });
    const seen = new Set<unknown>();
    for (let i = 0; i < FLOOD; i++) seen.add((await flooder.next())?.id);
    expect(seen.size).toBe(FLOOD);
    flooder.ws.close();

    // A frame over the 1 MiB limit closes its own socket (1009), nobody else's.
    const big = await ApiSocket.open();
    big.send(JSON.stringify({ id: 1, method: 'status.get', args: ['x'.repeat(WEB_MAX_FRAME_BYTES)] }));
    expect(await big.next()).toBeNull();
    expect(big.closeCode).toBe(1009);
    bystander.send(JSON.stringify({ id: 7, method: 'status.get', args: [] }));
    expect((await bystander.next())?.result).toBeDefined();
    bystander.ws.close();

    collectGarbage();
    const grownMb = (process.memoryUsage().rss - rssBefore) / 2 ** 20;
    console.log(`web-mode WebSocket fuzz: seed ${SEED}, ${CASES} frames in ${seconds.toFixed(1)} s, errors ${JSON.stringify(Object.fromEntries(codes))}, RSS +${grownMb.toFixed(1)} MiB`);
    expect(grownMb).toBeLessThan(96);
  }, 120_000);
});

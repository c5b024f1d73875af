/**
 * The floor of any Node.js relay of our shape, for `npm run bench -- relay --floor`: three
 * processes (an HTTP front, a relay, a back that calls the engine) joined by one TLS 1.3
 * connection per hop with requests multiplexed on it, as our client, proxy and worker are — but
 * with none of the protocol: no TL, no validation of bodies, no SSE parsing, no usage, no
 * attestation, no payments. What it costs per request is what Node itself (HTTP server, TLS,
 * sockets, the undici client) costs on this machine; a relay doing real work cannot be cheaper,
 * so the floor's ÷ direct is the most any tuning of our chain can reach here.
 *
 * NOT a product path: a benchmark yardstick only (bodies go to the engine unchecked).
 *
 * Frames: u32 payload length, u32 request id, u8 kind (0 request body, 1 answer bytes, 2 end),
 * payload. Frames of one tick leave in one write per socket (cork until the next tick).
 *
 * Run alone: `node --import tsx node-core/bench/floor-relay.ts --role back|relay|front ...`;
 * each role prints one JSON ready line.
 */
import http from 'node:http';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Pool, type Dispatcher } from 'undici';
import { createRaTlsIdentity } from '../src/attestation/ratls-cert.ts';
import { tuneHeap } from '../src/heap-tuning.ts';
import { spawnNode } from './spawn-role.ts';

const HEADER = 9;
const enum Kind { request = 0, data = 1, end = 2 }
const TLS_OPTS = { minVersion: 'TLSv1.3' as const, ciphers: 'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384' };

/** A socket whose writes of one tick leave together. */
function batched(socket: tls.TLSSocket): (id: number, kind: Kind, payload?: Buffer) => void {
  const uncork = () => socket.uncork();
  return (id, kind, payload) => {
    if (!socket.writableCorked) {
      socket.cork();
      process.nextTick(uncork);
    }
    const header = Buffer.allocUnsafe(HEADER);
    header.writeUInt32BE(payload?.length ?? 0, 0);
    header.writeUInt32BE(id, 4);
    header[8] = kind;
    socket.write(header);
    if (payload?.length) socket.write(payload);
  };
}

/**
 * Calls `onFrame` for each whole frame read from `socket`. Payloads are views of the read buffers,
 * which Node allocates per read and never reuses, so they may be kept.
 */
function readFrames(socket: tls.TLSSocket, onFrame: (id: number, kind: Kind, payload: Buffer, frame: Buffer) => void): void {
  let pending: Buffer | null = null;
  socket.on('data', (chunk: Buffer) => {
    const buf = pending ? Buffer.concat([pending, chunk]) : chunk;
    let at = 0;
    while (buf.length - at >= HEADER) {
      const len = buf.readUInt32BE(at);
      if (buf.length - at < HEADER + len) break;
      const frame = buf.subarray(at, at + HEADER + len);
      onFrame(buf.readUInt32BE(at + 4), buf[at + 8] as Kind, frame.subarray(HEADER), frame);
      at += HEADER + len;
    }
    pending = at < buf.length ? buf.subarray(at) : null;
  });
}

async function identity() {
  const id = await createRaTlsIdentity({ provider: null, commonName: 'floor-relay' });
  return { cert: id.certPem, key: id.keyPem };
}

function listen(server: tls.Server | http.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

function dial(port: number): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...TLS_OPTS }, () => resolve(socket));
    socket.setNoDelay(true);
    socket.once('error', reject);
  });
}

/** The engine side: each request frame becomes one POST on a pooled undici client; answer bytes go back as they arrive. */
async function back(engineUrl: string): Promise<number> {
  const origin = new URL(engineUrl).origin;
  const pool = new Pool(origin, { connections: 256, bodyTimeout: 0 });
  const server = tls.createServer({ ...(await identity()), ...TLS_OPTS }, (socket) => {
    socket.setNoDelay(true);
    const send = batched(socket);
    readFrames(socket, (id, _kind, body) => {
      const handler: Dispatcher.DispatchHandler = {
        onRequestStart: () => undefined,
        onResponseStart: () => undefined,
        onResponseData: (_c, chunk) => send(id, Kind.data, chunk),
        onResponseEnd: () => send(id, Kind.end),
        onResponseError: () => send(id, Kind.end),
      };
      pool.dispatch({ origin, path: '/v1/chat/completions', method: 'POST', headers: { 'content-type': 'application/json', 'content-length': String(body.length) }, body }, handler);
    });
  });
  return listen(server);
}

/** The middle: frames are routed by request id and forwarded as they were read. */
async function relay(backPort: number): Promise<number> {
  const toBack = await dial(backPort);
  const sendBack = batched(toBack);
  const owners = new Map<number, (id: number, kind: Kind, payload: Buffer) => void>();
  readFrames(toBack, (id, kind, payload) => {
    const send = owners.get(id);
    if (!send) return;
    if (kind === Kind.end) owners.delete(id);
    send(id, kind, payload);
  });
  const server = tls.createServer({ ...(await identity()), ...TLS_OPTS }, (socket) => {
    socket.setNoDelay(true);
    const sendFront = batched(socket);
    readFrames(socket, (id, kind, payload) => {
      owners.set(id, sendFront);
      sendBack(id, kind, payload);
    });
  });
  return listen(server);
}

/** The HTTP side: a request's body goes out as one frame; answer bytes are written as they come. */
async function front(relayPort: number): Promise<number> {
  const toRelay = await dial(relayPort);
  const send = batched(toRelay);
  const open = new Map<number, http.ServerResponse>();
  let nextId = 1;
  readFrames(toRelay, (id, kind, payload) => {
    const res = open.get(id);
    if (!res) return;
    if (kind === Kind.end) {
      open.delete(id);
      res.end();
      return;
    }
    if (!res.headersSent) res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(payload);
  });
  const server = http.createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const id = nextId++ >>> 0;
      open.set(id, res);
      send(id, Kind.request, Buffer.concat(parts));
    });
  });
  server.keepAliveTimeout = 60_000;
  return listen(server);
}

export interface FloorRelay {
  /** OpenAI base URL of the front (…/v1). */
  url: string;
  processes: Array<{ pid: number; name: string }>;
  children: import('node:child_process').ChildProcess[];
}

const SELF = fileURLToPath(import.meta.url);
const TSX = import.meta.resolve('tsx');

/** Starts the three floor processes in front of `engineUrl`. */
export async function startFloorRelay(engineUrl: string): Promise<FloorRelay> {
  const node = ['--import', TSX, SELF];
  const b = await spawnNode<{ port: number; pid: number }>('floor-back', [...node, '--role', 'back', '--engine', engineUrl]);
  const r = await spawnNode<{ port: number; pid: number }>('floor-relay', [...node, '--role', 'relay', '--port', String(b.info.port)]);
  const f = await spawnNode<{ port: number; pid: number }>('floor-front', [...node, '--role', 'front', '--port', String(r.info.port)]);
  return {
    url: `http://127.0.0.1:${f.info.port}/v1`,
    processes: [{ pid: f.info.pid, name: 'front' }, { pid: r.info.pid, name: 'relay' }, { pid: b.info.pid, name: 'back' }],
    children: [f.child, r.child, b.child],
  };
}

if (process.argv[1] === SELF) {
  tuneHeap(); // as our roles do (cli/main.ts), so the floor is measured with the same heap
  const { values } = parseArgs({ options: { role: { type: 'string' }, engine: { type: 'string' }, port: { type: 'string' } } });
  const port = Number(values.port);
  let listening: number;
  if (values.role === 'back' && values.engine) listening = await back(values.engine);
  else if (values.role === 'relay' && port > 0) listening = await relay(port);
  else if (values.role === 'front' && port > 0) listening = await front(port);
  else throw new Error('usage: floor-relay.ts --role back --engine URL | --role relay --port N | --role front --port N');
  process.stdout.write(JSON.stringify({ port: listening, pid: process.pid }) + '\n');
  process.once('SIGTERM', () => process.exit(0));
}

import net, { type AddressInfo } from 'node:net';
import type tls from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createPeerVerifier, createPolicy, createRaTlsIdentity, createRaTlsServer, fakeQuoteProvider, type RaTlsIdentity } from '../attestation/index.ts';
import { createLogger } from '../log.ts';
import { Connection } from '../protocol/connection.ts';
import { CLIENT_ACCEPTS_FROM_PROXY, PROXY_ACCEPTS_FROM_CLIENT } from '../protocol/messages.ts';
import { LOCAL_POW_DIFFICULTY } from '../protocol/pow.ts';
import { AttestedLink, waitAnyConnected, type AttestedLinkOptions, type DialFailure } from './attested-link.ts';
import { DEFAULT_BACKOFF } from './backoff.ts';

/**
 * The link against a real peer on loopback: proof of work, RA-TLS (development quotes, policy
 * any) and our framed Connection. The test's "role" handshake is one query the peer answers.
 */
const log = createLogger('test');
let server: net.Server;
let port = 0;
let identity: RaTlsIdentity;
/** Server side of each accepted connection, to drop it at will. */
const accepted: tls.TLSSocket[] = [];
const links: AttestedLink[] = [];

beforeAll(async () => {
  identity = await createRaTlsIdentity({ provider: fakeQuoteProvider() });
  server = createRaTlsServer({
    identity, verifier: createPeerVerifier(createPolicy({ name: 'any' })), powDifficulty: LOCAL_POW_DIFFICULTY,
    onSecureConnection: (socket) => {
      accepted.push(socket);
      new Connection(socket, {
        log, role: 'acceptor', accept: PROXY_ACCEPTS_FROM_CLIENT,
        onQuery: async () => ({ _: 'client.workerTypesV2', types: [] }),
      });
      socket.resume();
    },
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => server?.close());
afterEach(async () => {
  await Promise.all(links.splice(0).map((l) => l.stop()));
  for (const s of accepted.splice(0)) s.destroy();
});

/** A port nothing listens on (bound, then closed). */
async function deadPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const p = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

function link(over: Partial<AttestedLinkOptions> = {}): AttestedLink {
  const l = new AttestedLink({
    host: '127.0.0.1', port, identity, verifier: createPeerVerifier(createPolicy({ name: 'any' })), log, accept: CLIENT_ACCEPTS_FROM_PROXY,
    onPacket: () => undefined,
    handshake: async (conn) => void await conn.query({ _: 'client.getWorkerTypesV2' }, 5_000),
    ...over,
  });
  links.push(l);
  return l;
}

describe('attested link', () => {
  it('waitConnected resolves on the connected event, after the role saw the session', async () => {
    const order: string[] = [];
    const l = link({ onConnected: (s) => order.push(`connected ${s.peer.valid}`) });
    const waiting = l.waitConnected(10_000).then((c) => { order.push('resolved'); return c; });
    expect(l.connection).toBeNull();
    l.start();
    const conn = await waiting;
    expect(conn).toBe(l.connection);
    expect(order).toEqual(['connected true', 'resolved']);
    // Already connected: at once.
    await expect(l.waitConnected(1)).resolves.toBe(conn);
  });

  it('waitConnected rejects on its timeout naming the last error, and on its abort signal', async () => {
    const failures: DialFailure[] = [];
    const l = link({ port: await deadPort(), onFailed: (f) => failures.push(f) });
    l.start();
    const t0 = Date.now();
    await expect(l.waitConnected(400)).rejects.toMatchObject({ code: 'link_timeout', message: expect.stringMatching(/within 400 ms: cannot connect to 127\.0\.0\.1:\d+/) });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(390);
    expect(failures.length).toBeGreaterThanOrEqual(1);
    // Each failure reports its backoff delay: at least the default policy's base.
    for (const f of failures) expect(f.retryMs).toBeGreaterThanOrEqual(DEFAULT_BACKOFF.baseMs);
    const ac = new AbortController();
    const waiting = l.waitConnected(60_000, ac.signal);
    ac.abort();
    await expect(waiting).rejects.toMatchObject({ code: 'cancelled' });
  });

  it('stop cuts the backoff sleep short, ends the loop and rejects every wait', async () => {
    let dials = 0;
    const l = link({ port: await deadPort(), backoff: { baseMs: 60_000, capMs: 60_000 }, onFailed: () => void dials++ });
    const sleeping = new Promise<number>((r) => l.once('retrying', r));
    l.start();
    expect(await sleeping).toBe(60_000);
    const waiting = l.waitConnected(60_000);
    const t0 = Date.now();
    await l.stop();
    expect(Date.now() - t0).toBeLessThan(1_000);
    await expect(waiting).rejects.toMatchObject({ code: 'link_stopped' });
    await expect(l.waitConnected(60_000)).rejects.toMatchObject({ code: 'link_stopped' });
    expect(dials).toBe(1);
  });

  it('closes a connection whose handshake the role refused, backs off further each time, then connects', async () => {
    let refuse = true;
    const delays: number[] = [];
    const failures: string[] = [];
    const l = link({
      backoff: { baseMs: 20, capMs: 100 }, random: () => 0.999999,
      handshake: async (conn) => {
        await conn.query({ _: 'client.getWorkerTypesV2' }, 5_000);
        if (refuse) throw new Error('role refuses this peer');
      },
      onFailed: (f) => failures.push(String((f.error as Error).message)),
    });
    l.on('retrying', (ms) => delays.push(ms));
    l.start();
    await expect.poll(() => delays.length, { timeout: 10_000 }).toBeGreaterThanOrEqual(3);
    expect(delays.slice(0, 3)).toEqual([60, 100, 100]);
    expect(failures[0]).toBe('role refuses this peer');
    expect(l.lastError).toBe('role refuses this peer');
    // Each refused connection was closed by the dialer: the peer saw it go.
    await expect.poll(() => accepted.filter((s) => !s.destroyed).length, { timeout: 5_000 }).toBeLessThanOrEqual(1);
    refuse = false;
    await l.waitConnected(10_000);
    expect(l.lastError).toBeUndefined();
  });

  it('reconnects after the peer drops it; the backoff restarts from the base after a stable connection', async () => {
    let clock = 0;
    let refuse = 3;
    const delays: number[] = [];
    const reasons: string[] = [];
    const l = link({
      backoff: { baseMs: 20, capMs: 100, stableMs: 5_000 }, random: () => 0.999999, now: () => clock,
      handshake: async (conn) => {
        await conn.query({ _: 'client.getWorkerTypesV2' }, 5_000);
        if (refuse-- > 0) throw new Error('not yet');
      },
      onDisconnected: (reason, retryMs) => reasons.push(`${reason} / ${retryMs}`),
    });
    l.on('retrying', (ms) => delays.push(ms));
    l.start();
    await l.waitConnected(10_000);
    expect(delays).toEqual([60, 100, 100]);
    // Up for less than stableMs (by the injected clock): the delay keeps its grown value.
    clock += 1_000;
    accepted.at(-1)!.destroy();
    await expect.poll(() => reasons.length, { timeout: 5_000 }).toBe(1);
    expect(reasons[0]).toMatch(/ \/ 100$/);
    await l.waitConnected(10_000);
    // Up for longer than stableMs: the next delay is drawn from the base again.
    clock += 5_000;
    accepted.at(-1)!.destroy();
    await expect.poll(() => reasons.length, { timeout: 5_000 }).toBe(2);
    expect(reasons[1]).toMatch(/ \/ 60$/);
    await l.waitConnected(10_000);
    expect(l.connection).not.toBeNull();
  });

  it('waitAnyConnected resolves with the first link up and names every link when none comes up', async () => {
    const dead = link({ port: await deadPort() });
    const live = link();
    dead.start();
    live.start();
    await expect(waitAnyConnected([dead, live], 10_000)).resolves.toBe(live);
    const dead2 = link({ port: await deadPort() });
    dead2.start();
    await expect(waitAnyConnected([dead, dead2], 300)).rejects.toMatchObject({ code: 'link_timeout', message: expect.stringMatching(/127\.0\.0\.1:\d+: cannot connect.*; 127\.0\.0\.1:\d+: cannot connect/) });
    await expect(waitAnyConnected([], 300)).rejects.toMatchObject({ code: 'link_timeout' });
  });
});

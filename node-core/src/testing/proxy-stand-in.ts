/**
 * A proxy stand-in for the client's and the worker's own tests: an RA-TLS server on loopback
 * (local proof-of-work difficulty) that greets each peer with the proxy's real handshake
 * (proxy/peer-handshake.ts, no payments), then records what the peer sends; the test answers by
 * hand on `session.conn`, as the proxy's request relay would. Test code only.
 */
import type { AddressInfo } from 'node:net';
import { createPeerVerifier, createPolicy, createRaTlsIdentity, createRaTlsServer, fakeQuoteProvider, type PeerVerifier } from '../attestation/index.ts';
import type { Logger } from '../log.ts';
import { Connection } from '../protocol/connection.ts';
import { PROXY_ACCEPTS_FROM_CLIENT, PROXY_ACCEPTS_FROM_WORKER } from '../protocol/messages.ts';
import { LOCAL_POW_DIFFICULTY } from '../protocol/pow.ts';
import { noSettlementProxy } from '../protocol/settlement.ts';
import type { TlObject } from '../protocol/tl-codec.ts';
import { ClientHandshake, WorkerHandshake } from '../proxy/peer-handshake.ts';

export interface StandInSession {
  conn: Connection;
  /** One-way messages the peer sent after its handshake, in order. */
  received: TlObject[];
}

export interface ProxyStandIn {
  port: number;
  /** Accepts any peer (the stand-in's own tests are not about attestation). */
  verifier: PeerVerifier;
  /** Connections whose handshake completed, oldest first. */
  sessions: StandInSession[];
  stop(): Promise<void>;
}

export async function startProxyStandIn(peers: 'client' | 'worker', log: Logger): Promise<ProxyStandIn> {
  const identity = await createRaTlsIdentity({ provider: fakeQuoteProvider(), role: 'proxy' });
  const verifier = createPeerVerifier(createPolicy({ name: 'any' }));
  const settlement = noSettlementProxy();
  const publicKey = Buffer.from(identity.publicKey);
  const sessions: StandInSession[] = [];
  const server = createRaTlsServer({
    identity, verifier, log, powDifficulty: LOCAL_POW_DIFFICULTY,
    onSecureConnection: (socket) => {
      const hs = peers === 'client' ? new ClientHandshake(settlement, publicKey) : new WorkerHandshake(settlement, publicKey);
      const session: StandInSession = { conn: null as unknown as Connection, received: [] };
      session.conn = new Connection(socket, {
        role: 'acceptor', log, accept: peers === 'client' ? PROXY_ACCEPTS_FROM_CLIENT : PROXY_ACCEPTS_FROM_WORKER,
        onQuery: async (q) => {
          const answer = await hs.answer(q);
          if (hs.state === 'ok' && !sessions.includes(session)) sessions.push(session);
          if (!answer) throw new Error(`the proxy stand-in got an unexpected ${q._}`);
          return answer;
        },
        onPacket: (p) => void session.received.push(p),
      });
      socket.resume();
    },
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    verifier,
    sessions,
    async stop() {
      for (const s of sessions) s.conn.close('test done');
      await new Promise((r) => server.close(r));
    },
  };
}

/** Polls `f` until it returns something truthy (a wire event in another process's time). */
export async function until<T>(what: string, f: () => T | undefined | null | false, timeoutMs = 10_000): Promise<T> {
  for (const end = Date.now() + timeoutMs; ;) {
    const v = f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

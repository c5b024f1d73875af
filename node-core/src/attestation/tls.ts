import net from 'node:net';
import tls from 'node:tls';
import { CocoonError } from '../errors.ts';
import { DEFAULT_POW_DIFFICULTY, requirePowFromDialer, solvePowAsDialer } from '../protocol/pow.ts';
import type { Logger } from '../log.ts';
import type { RaTlsIdentity } from './ratls-cert.ts';
import { decodeRefusal, encodeRefusal, type Refusal } from './refusal.ts';
import type { AttestationReport } from './report.ts';
import type { PeerVerifier } from './verifier.ts';

/**
 * Mutual TLS 1.3 between RA-TLS peers (TLS_AES_128_GCM_SHA256 / TLS_AES_256_GCM_SHA384, no session
 * tickets — as the reference). Node's own chain check is off (every peer is self-signed); the TLS
 * handshake completes without trusting the peer, then its certificate goes through the
 * attestation verifier before the application reads or writes a byte. A refused peer is sent the
 * reason (refusal.ts) and the connection is closed; it never reaches the application. Both sides
 * log refusals: the refusing side what it refused, the refused side the reason it was sent.
 *
 * For transports that must speak before TLS (the reference's proof of work), pass the already
 * connected socket: `connectRaTls({ socket })` to dial, `acceptRaTls(socket, …)` to accept.
 *
 * Before TLS, as the reference router does, the acceptor sends a proof-of-work challenge and the
 * dialer solves it (protocol/pow.ts); a dialer that fails it never reaches the TLS handshake.
 */
const BASE: tls.SecureContextOptions & tls.CommonConnectionOptions = {
  minVersion: 'TLSv1.3',
  ciphers: 'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384',
  rejectUnauthorized: false,
};
const REFUSAL_LINGER_MS = 2_000;
const refusals = new WeakMap<net.Socket, Refusal>();

function peerChainLength(socket: tls.TLSSocket): number {
  let cert = socket.getPeerCertificate(true) as tls.DetailedPeerCertificate | undefined;
  let n = 0;
  const seen = new Set<string>();
  while (cert && cert.raw && !seen.has(cert.fingerprint256)) {
    seen.add(cert.fingerprint256);
    n++;
    cert = cert.issuerCertificate;
  }
  return n;
}

async function verifyPeer(socket: tls.TLSSocket, verifier: PeerVerifier): Promise<{ peer: AttestationReport; certificatePem: string | null; der?: Buffer }> {
  // Read once: Node does not keep the peer certificate available for the socket's lifetime.
  const cert = socket.getPeerX509Certificate();
  if (!cert) {
    return { peer: { valid: false, policy: verifier.policy.name, quoteKind: 'none', imageHash: null, imageAllowed: null, measurements: null, tcbStatus: 'unknown', certificate: null, error: 'peer presented no certificate', code: 'bad_certificate' }, certificatePem: null };
  }
  return { peer: await verifier.verify(cert.raw, { chainLength: peerChainLength(socket) }), certificatePem: cert.toString(), der: cert.raw };
}

/** Live policies re-check accepted peers; one that is no longer allowed loses its connection. */
function keepWatching(socket: tls.TLSSocket, verifier: PeerVerifier, der: Buffer | undefined, log: Logger | undefined, peerName: string): void {
  if (!verifier.watch || !der) return;
  const stop = verifier.watch(der, (reason) => {
    log?.warn({ peer: peerName, reason }, 'closing connection: peer no longer allowed');
    socket.destroy();
  });
  socket.once('close', stop);
}

/** The refusal a peer sent before a failed connectRaTls, carried by its error. */
export function refusalOfError(err: unknown): Refusal | undefined {
  return (err as { refusal?: Refusal } | null)?.refusal ?? undefined;
}

/** The refusal the peer sent on this connection, if it sent one (see refusal.ts). */
export function refusalOf(socket: net.Socket): Refusal | undefined {
  return refusals.get(socket);
}

/**
 * Looks at the first bytes the peer sends, without consuming them, for a refusal; the application
 * (or nobody, during verification) still receives them as usual.
 */
function watchForRefusal(socket: tls.TLSSocket, onRefused: (r: Refusal) => void): void {
  socket.prependOnceListener('data', (chunk: Buffer) => {
    const r = decodeRefusal(chunk);
    if (r) {
      refusals.set(socket, r);
      onRefused(r);
    }
  });
}

/** Sends the reason to a refused peer, then closes (destroying it if it does not hang up soon). */
export function refuseConnection(socket: tls.TLSSocket, report: AttestationReport): void {
  const refusal = { code: report.code ?? 'refused', reason: report.error ?? 'refused' };
  socket.on('error', () => undefined);
  if (socket.destroyed) return;
  socket.end(encodeRefusal(refusal));
  setTimeout(() => socket.destroy(), REFUSAL_LINGER_MS).unref();
}

export interface RaTlsServerOptions {
  identity: RaTlsIdentity;
  verifier: PeerVerifier;
  onSecureConnection(socket: tls.TLSSocket, peer: AttestationReport): void;
  log?: Logger;
  handshakeTimeoutMs?: number;
  /** Leading zero bits of PoW asked of every dialer before TLS (default 20, the reference router's). */
  powDifficulty?: number;
}

function serverContext(opts: RaTlsServerOptions): tls.TlsOptions {
  return { ...BASE, key: opts.identity.keyPem, cert: opts.identity.certPem, requestCert: true, handshakeTimeout: opts.handshakeTimeoutMs ?? 10_000, sessionTimeout: 0 };
}

/** Verifies a freshly handshaken server-side socket and hands it on, or refuses it with the reason. */
function onServerHandshake(socket: tls.TLSSocket, opts: RaTlsServerOptions): void {
  socket.pause();
  socket.on('error', () => undefined);
  watchForRefusal(socket, (r) => opts.log?.warn({ remote: socket.remoteAddress, code: r.code, reason: r.reason }, 'peer refused this node\'s attestation'));
  verifyPeer(socket, opts.verifier).then(
    ({ peer, der }) => {
      if (!peer.valid) {
        opts.log?.warn({ remote: socket.remoteAddress, code: peer.code, reason: peer.error }, 'peer refused at handshake');
        refuseConnection(socket, peer);
        return;
      }
      keepWatching(socket, opts.verifier, der, opts.log, `${socket.remoteAddress}:${socket.remotePort}`);
      opts.onSecureConnection(socket, peer);
      socket.resume();
    },
    (err) => {
      opts.log?.error({ err }, 'peer verification crashed');
      socket.destroy();
    },
  );
}

export function createRaTlsServer(opts: RaTlsServerOptions): net.Server {
  const server = tls.createServer(serverContext(opts));
  server.on('secureConnection', (socket) => onServerHandshake(socket, opts));
  server.on('tlsClientError', (err) => opts.log?.debug({ err: err.message }, 'TLS handshake failed'));
  const difficulty = opts.powDifficulty ?? DEFAULT_POW_DIFFICULTY;
  // The listening socket is plain TCP: PoW first, then the connection is handed to the TLS server.
  return net.createServer((socket) => {
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    requirePowFromDialer(socket, { difficulty, timeoutMs: opts.handshakeTimeoutMs ?? 10_000 }).then(
      () => server.emit('connection', socket),
      (err: Error) => {
        opts.log?.info({ remote: socket.remoteAddress, reason: err.message }, 'dialer refused at proof of work');
        socket.destroy();
      },
    );
  });
}

/** Server side of RA-TLS on an accepted socket that has already spoken (e.g. proof of work). */
export function acceptRaTls(raw: net.Socket, opts: RaTlsServerOptions): tls.TLSSocket {
  const socket = new tls.TLSSocket(raw, { isServer: true, secureContext: tls.createSecureContext(serverContext(opts)), requestCert: true, rejectUnauthorized: false });
  const timer = setTimeout(() => socket.destroy(), opts.handshakeTimeoutMs ?? 10_000);
  socket.once('secure', () => {
    clearTimeout(timer);
    onServerHandshake(socket, opts);
  });
  socket.once('error', (err) => {
    clearTimeout(timer);
    opts.log?.debug({ err: err.message }, 'TLS handshake failed');
  });
  return socket;
}

export interface ConnectRaTlsOptions {
  host: string;
  port: number;
  identity: RaTlsIdentity;
  verifier: PeerVerifier;
  /** An already connected socket to run TLS over (after proof of work); host/port then only label it. */
  socket?: net.Socket;
  signal?: AbortSignal;
  timeoutMs?: number;
  log?: Logger;
  /** Refuse PoW challenges harder than this (default 28, as the reference). */
  maxPowDifficulty?: number;
}

/** TCP connect and PoW, the part of a dial before TLS. */
async function dialWithPow(opts: ConnectRaTlsOptions): Promise<net.Socket> {
  const raw = net.connect({ host: opts.host, port: opts.port });
  raw.setNoDelay(true);
  try {
    await new Promise<void>((resolve, reject) => {
      raw.once('connect', resolve);
      raw.once('error', (err) => reject(new CocoonError('connect_failed', `cannot connect to ${opts.host}:${opts.port}: ${err.message}`, { cause: err })));
    });
    raw.removeAllListeners('error');
    await solvePowAsDialer(raw, { maxDifficulty: opts.maxPowDifficulty, timeoutMs: opts.timeoutMs ?? 10_000, signal: opts.signal });
    return raw;
  } catch (err) {
    raw.destroy();
    throw err;
  }
}

export async function connectRaTls(opts: ConnectRaTlsOptions): Promise<{ socket: tls.TLSSocket; peer: AttestationReport; peerCertificatePem: string | null }> {
  // A caller that already spoke to the peer (its own proof of work) passes the connected socket.
  const raw = opts.socket ?? await dialWithPow(opts);
  if (opts.signal?.aborted) {
    raw.destroy();
    throw new CocoonError('cancelled', 'connection attempt cancelled');
  }
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ ...BASE, socket: raw, key: opts.identity.keyPem, cert: opts.identity.certPem, servername: undefined });
    socket.setNoDelay(true);
    watchForRefusal(socket, (r) => opts.log?.warn({ peer: `${opts.host}:${opts.port}`, code: r.code, reason: r.reason }, 'peer refused this node\'s attestation'));
    // The signal outlives this attempt (a reconnect loop's stop signal): its listener must go
    // whichever way the attempt ends, or every retry leaves one behind.
    const onAbort = () => fail(new CocoonError('cancelled', 'connection attempt cancelled'));
    const fail = (err: Error) => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      reject(err);
    };
    const timer = setTimeout(() => fail(new CocoonError('connect_timeout', `no TLS handshake with ${opts.host}:${opts.port} within ${opts.timeoutMs ?? 10_000} ms`)), opts.timeoutMs ?? 10_000);
    if (opts.signal?.aborted) return onAbort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('error', (err) => fail(new CocoonError('connect_failed', `cannot connect to ${opts.host}:${opts.port}: ${err.message}`, { cause: err })));
    socket.once('secureConnect', () => {
      socket.pause();
      verifyPeer(socket, opts.verifier).then(
        ({ peer, certificatePem, der }) => {
          if (!peer.valid) {
            clearTimeout(timer);
            opts.log?.warn({ peer: `${opts.host}:${opts.port}`, code: peer.code, reason: peer.error }, 'peer refused at handshake');
            refuseConnection(socket, peer);
            const err = new CocoonError('attestation_refused', `peer ${opts.host}:${opts.port} refused by ${peer.policy} policy: ${peer.error}`) as CocoonError & { report?: AttestationReport };
            err.report = peer;
            reject(err);
            return;
          }
          // The peer may have hung up while we verified it (typically: it refused *our* attestation).
          if (socket.destroyed || socket.readyState === 'closed') {
            const r = refusalOf(socket);
            // The refusal travels with the error so dialers (worker stats, `cocoon why`) can show it.
            return fail(Object.assign(new CocoonError('connect_failed', r
              ? `${opts.host}:${opts.port} refused this node's attestation (${r.code}): ${r.reason}`
              : `${opts.host}:${opts.port} closed the connection during attestation; it probably refused this node's attestation`), { refusal: r }));
          }
          clearTimeout(timer);
          opts.signal?.removeEventListener('abort', onAbort);
          socket.removeAllListeners('error');
          keepWatching(socket, opts.verifier, der, opts.log, `${opts.host}:${opts.port}`);
          resolve({ socket, peer, peerCertificatePem: certificatePem });
        },
        (err) => fail(err as Error),
      );
    });
  });
}

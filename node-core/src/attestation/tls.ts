import net from 'node:net';
import tls from 'node:tls';
import { CocoonError } from '../errors.ts';
import { DEFAULT_POW_DIFFICULTY, requirePowFromDialer, solvePowAsDialer } from '../protocol/pow.ts';
import type { Logger } from '../log.ts';
import type { RaTlsIdentity } from './ratls-cert.ts';
import type { AttestationReport } from './report.ts';
import type { PeerVerifier } from './verifier.ts';

/**
 * Mutual TLS 1.3 between RA-TLS peers. Node's own chain check is off (every peer is self-signed);
 * instead the peer's certificate goes through the attestation verifier right after the handshake,
 * before the application reads or writes a byte. A refused peer's socket is destroyed and never
 * reaches the application.
 *
 * Before TLS, as the reference router does, the acceptor sends a proof-of-work challenge and the
 * dialer solves it (protocol/pow.ts); a dialer that fails it never reaches the TLS handshake.
 */
const BASE: tls.SecureContextOptions & tls.CommonConnectionOptions = {
  minVersion: 'TLSv1.3',
  rejectUnauthorized: false,
};

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

async function verifyPeer(socket: tls.TLSSocket, verifier: PeerVerifier): Promise<{ peer: AttestationReport; certificatePem: string | null }> {
  // Read once: Node does not keep the peer certificate available for the socket's lifetime.
  const cert = socket.getPeerX509Certificate();
  if (!cert) {
    return { peer: { valid: false, policy: 'tdx', quoteKind: 'none', imageHash: null, imageAllowed: null, measurements: null, tcbStatus: 'unknown', certificate: null, error: 'peer presented no certificate' }, certificatePem: null };
  }
  return { peer: await verifier.verify(cert.raw, { chainLength: peerChainLength(socket) }), certificatePem: cert.toString() };
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

export function createRaTlsServer(opts: RaTlsServerOptions): net.Server {
  const server = tls.createServer({
    ...BASE,
    key: opts.identity.keyPem,
    cert: opts.identity.certPem,
    requestCert: true,
    handshakeTimeout: opts.handshakeTimeoutMs ?? 10_000,
  });
  server.on('secureConnection', (socket) => {
    socket.pause();
    socket.on('error', () => undefined);
    verifyPeer(socket, opts.verifier).then(
      ({ peer }) => {
        if (!peer.valid) {
          opts.log?.warn({ remote: socket.remoteAddress, reason: peer.error }, 'peer refused at handshake');
          socket.destroy();
          return;
        }
        opts.onSecureConnection(socket, peer);
        socket.resume();
      },
      (err) => {
        opts.log?.error({ err }, 'peer verification crashed');
        socket.destroy();
      },
    );
  });
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

export interface ConnectRaTlsOptions {
  host: string;
  port: number;
  identity: RaTlsIdentity;
  verifier: PeerVerifier;
  signal?: AbortSignal;
  timeoutMs?: number;
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
  const raw = await dialWithPow(opts);
  if (opts.signal?.aborted) {
    raw.destroy();
    throw new CocoonError('cancelled', 'connection attempt cancelled');
  }
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ ...BASE, socket: raw, key: opts.identity.keyPem, cert: opts.identity.certPem });
    socket.setNoDelay(true);
    const fail = (err: Error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    };
    const timer = setTimeout(() => fail(new CocoonError('connect_timeout', `no TLS handshake with ${opts.host}:${opts.port} within ${opts.timeoutMs ?? 10_000} ms`)), opts.timeoutMs ?? 10_000);
    opts.signal?.addEventListener('abort', () => fail(new CocoonError('cancelled', 'connection attempt cancelled')), { once: true });
    socket.once('error', (err) => fail(new CocoonError('connect_failed', `cannot connect to ${opts.host}:${opts.port}: ${err.message}`, { cause: err })));
    socket.once('secureConnect', () => {
      socket.pause();
      verifyPeer(socket, opts.verifier).then(
        ({ peer, certificatePem }) => {
          if (!peer.valid) {
            const err = new CocoonError('attestation_refused', `peer ${opts.host}:${opts.port} refused by ${peer.policy} policy: ${peer.error}`) as CocoonError & { report?: AttestationReport };
            err.report = peer;
            return fail(err);
          }
          // The peer may have hung up while we verified it (typically: it refused *our* attestation).
          if (socket.destroyed || socket.readyState === 'closed') {
            return fail(new CocoonError('connect_failed', `${opts.host}:${opts.port} closed the connection during attestation; it probably refused this node's attestation`));
          }
          clearTimeout(timer);
          socket.removeAllListeners('error');
          resolve({ socket, peer, peerCertificatePem: certificatePem });
        },
        (err) => fail(err as Error),
      );
    });
  });
}

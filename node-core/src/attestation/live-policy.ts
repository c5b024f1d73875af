import { errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import { createPolicy, type AttestationPolicy, type PolicySpec } from './policy.ts';
import type { AttestationReport, NodeRole } from './report.ts';
import { createPeerVerifier, type PeerVerifier } from './verifier.ts';

/**
 * Allowlists that follow the root contract. The root bumps its `version` on every change; this
 * module polls a small reader (`read`, e.g. network/root-config.ts `rootAllowlistReader`), and
 * when the version changes it swaps the proxy and worker image allowlists and re-checks every
 * open connection it was told about (`track`), closing those whose peer is no longer allowed,
 * with the reason. Open connections are also re-checked on every poll, so a certificate (or the
 * collateral behind it) that expires takes its connection with it.
 *
 * The roles consume only this interface:
 *   verifierFor(role)   — the verifier for peers of that role (pass to the TLS server / connect);
 *   track(connection)   — after a peer was accepted: re-check it on every change; returns untrack;
 *   subscribe(listener) — told the new allowlists after each change.
 */
export interface RootAllowlists {
  /** The root contract's configuration version: any change to it means "re-read". */
  version: number | string;
  proxyImages: string[];
  workerImages: string[];
}

export interface TrackedConnection {
  role: NodeRole;
  certDer: Buffer;
  /** Close the connection; `reason` says why the peer is no longer allowed. */
  close(reason: string, report: AttestationReport): void;
}

export interface LivePolicy {
  verifierFor(role: NodeRole): PeerVerifier;
  track(conn: TrackedConnection): () => void;
  subscribe(listener: (lists: RootAllowlists) => void): () => void;
  /** Reads the root now; resolves true when its version changed. */
  refresh(): Promise<boolean>;
  current(): RootAllowlists | undefined;
  stop(): void;
}

export interface LivePolicyOptions {
  /** Everything but the allowlists (name, network, TCB, collateral…). */
  spec: Omit<PolicySpec, 'allowedImageHashes'>;
  read: () => Promise<RootAllowlists>;
  pollMs?: number;
  log?: Logger;
  now?: () => Date;
}

/** Reads the root once (a node must not start without its allowlists: fail closed), then polls. */
export async function createLivePolicy(opts: LivePolicyOptions): Promise<LivePolicy> {
  const policies: Record<'proxy' | 'worker', AttestationPolicy> = {
    proxy: createPolicy({ ...opts.spec, allowedImageHashes: [] }),
    worker: createPolicy({ ...opts.spec, allowedImageHashes: [] }),
  };
  const verifierOpts = opts.now ? { now: opts.now } : {};
  const tracked = new Set<TrackedConnection>();
  const watching = (role: NodeRole, v: PeerVerifier): PeerVerifier => ({
    policy: v.policy, expectedRole: v.expectedRole, verify: (der, o) => v.verify(der, o),
    watch(certDer, close) {
      const conn: TrackedConnection = { role, certDer, close: (reason) => close(reason) };
      tracked.add(conn);
      return () => tracked.delete(conn);
    },
  });
  const verifiers: Record<NodeRole, PeerVerifier> = {
    proxy: watching('proxy', createPeerVerifier(policies.proxy, { ...verifierOpts, expectedRole: 'proxy' })),
    worker: watching('worker', createPeerVerifier(policies.worker, { ...verifierOpts, expectedRole: 'worker' })),
    // Clients are not attested; their policy carries no allowlist.
    client: watching('client', createPeerVerifier(createPolicy({ ...opts.spec }), { ...verifierOpts, expectedRole: 'client' })),
  };
  const listeners = new Set<(l: RootAllowlists) => void>();
  let lists: RootAllowlists | undefined;

  const recheck = async () => {
    for (const conn of [...tracked]) {
      const report = await verifiers[conn.role].verify(conn.certDer);
      if (!report.valid && tracked.has(conn)) {
        tracked.delete(conn);
        opts.log?.warn({ role: conn.role, code: report.code, reason: report.error }, 'closing connection: peer no longer allowed');
        conn.close(`attestation no longer valid: ${report.error}`, report);
      }
    }
  };

  const apply = (next: RootAllowlists) => {
    lists = next;
    policies.proxy.setAllowedImageHashes(next.proxyImages);
    policies.worker.setAllowedImageHashes(next.workerImages);
    opts.log?.info({ version: next.version, proxyImages: next.proxyImages.length, workerImages: next.workerImages.length }, 'allowlists from the root contract');
    for (const l of listeners) l(next);
  };

  const refresh = async (): Promise<boolean> => {
    const next = await opts.read();
    const changed = !lists || String(next.version) !== String(lists.version);
    if (changed) apply(next);
    await recheck();
    return changed;
  };

  await refresh();
  const timer = setInterval(() => {
    refresh().catch((err) => opts.log?.warn({ err: errorMessage(err) }, 'cannot read the root contract; keeping the last allowlists'));
  }, opts.pollMs ?? 30_000);
  timer.unref();

  return {
    verifierFor: (role) => verifiers[role],
    track(conn) {
      tracked.add(conn);
      return () => tracked.delete(conn);
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    refresh,
    current: () => lists,
    stop: () => clearInterval(timer),
  };
}

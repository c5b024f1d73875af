import { connectRaTls, refusalOf, refusalOfError, type PeerVerifier, type RaTlsIdentity, type Refusal } from '../attestation/index.ts';
import { errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import { Connection } from '../protocol/connection.ts';
import { MAX_PROTO_VERSION, MIN_PROTO_VERSION, WORKER_ACCEPTS_FROM_PROXY } from '../protocol/messages.ts';
import { ZERO_ADDRESS } from '../protocol/settlement.ts';
import { adviceForRefusal, type Finding } from './findings.ts';

/**
 * Dials one proxy as a worker would (TCP, proof of work, RA-TLS with this worker's identity) and
 * asks `worker.connectToProxy`: three findings — reachable, attested (our check of the proxy),
 * accepting (the proxy's answer, or the refusal it sent before closing). The probe never
 * completes the handshake, so the proxy never routes a request to it.
 */
export interface ProxyProbeOptions {
  endpoint: string;
  identity: RaTlsIdentity;
  /** How this worker judges the proxy (the worker's own policy). */
  verifier: PeerVerifier;
  model: string;
  ownerAddress?: string;
  isTest?: boolean;
  imageHash?: string | null;
  timeoutMs?: number;
  log?: Logger;
}

export async function probeProxy(o: ProxyProbeOptions): Promise<Finding[]> {
  const base = { section: 'proxy' as const, subject: o.endpoint };
  const m = /^(.+):(\d{1,5})$/.exec(o.endpoint);
  if (!m) return [{ ...base, id: 'proxy-reachable', status: 'fail', detail: `"${o.endpoint}" is not HOST:PORT`, fix: 'fix the proxy address in the worker config (network.proxies)' }];
  const host = m[1]!.replace(/^\[|\]$/g, '');
  const port = Number(m[2]);
  const timeoutMs = o.timeoutMs ?? 15_000;
  const refused = (r: Refusal): Finding[] => [
    { ...base, id: 'proxy-reachable', status: 'pass', detail: 'TCP, proof of work and TLS handshake completed' },
    { ...base, id: 'proxy-accepts', status: 'fail', detail: `the proxy refused this worker (${r.code}): ${r.reason}`, fix: adviceForRefusal(r.code, o.imageHash), refusal: r },
  ];

  let socket;
  let peer;
  try {
    ({ socket, peer } = await connectRaTls({ host, port, identity: o.identity, verifier: o.verifier, timeoutMs, ...(o.log && { log: o.log }) }));
  } catch (err) {
    const r = refusalOfError(err);
    if (r) return refused(r);
    const e = err as { code?: string; report?: { code?: string; error?: string } };
    if (e.code === 'attestation_refused') {
      return [
        { ...base, id: 'proxy-reachable', status: 'pass', detail: 'TCP, proof of work and TLS handshake completed' },
        { ...base, id: 'proxy-attested', status: 'fail', detail: `this worker does not trust the proxy (${e.report?.code ?? 'refused'}): ${e.report?.error ?? errorMessage(err)}`, fix: 'the proxy\'s image is not on the root\'s proxy allowlist or its attestation failed: pick another proxy from the root, or tell its operator' },
      ];
    }
    const down = e.code === 'connect_failed' && /ECONNREFUSED|EHOSTUNREACH|ENOTFOUND|ETIMEDOUT|ENETUNREACH/.test(errorMessage(err));
    return [{
      ...base, id: 'proxy-reachable', status: 'fail', detail: `${down ? 'cannot reach the proxy' : 'the handshake failed'}: ${errorMessage(err)}`,
      fix: down ? 'check the address (the root lists the proxy\'s worker address), this host\'s outbound firewall, and that the proxy runs' : 'the proxy hung up during proof of work or TLS: check that this is its worker port and that both sides run compatible versions',
    }];
  }
  const findings: Finding[] = [
    { ...base, id: 'proxy-reachable', status: 'pass', detail: 'TCP, proof of work and TLS handshake completed' },
    { ...base, id: 'proxy-attested', status: 'pass', detail: `the proxy's attestation passes this worker's ${peer.policy} policy${peer.imageHash ? ` (image ${peer.imageHash.slice(0, 16)}…)` : ''}` },
  ];
  const conn = new Connection(socket, { role: 'dialer', log: o.log ?? silentLog, accept: WORKER_ACCEPTS_FROM_PROXY });
  const closed = new Promise<string>((r) => conn.once('close', r));
  socket.resume();
  try {
    const answer = await Promise.race([
      conn.query({
        _: 'worker.connectToProxy', params: {
          _: 'worker.params', flags: 1 | 2, worker_owner_address: o.ownerAddress ?? ZERO_ADDRESS, model: o.model, coefficient: 1000,
          is_test: o.isTest ?? true, proxy_cnt: 1, max_active_requests: 1, min_proto_version: MIN_PROTO_VERSION, max_proto_version: MAX_PROTO_VERSION,
        },
      }, timeoutMs),
      closed.then((reason) => Promise.reject(new Error(reason))),
    ]);
    const params = answer.params as { is_test?: boolean } | undefined;
    if (params && o.isTest !== undefined && params.is_test !== o.isTest) {
      findings.push({ ...base, id: 'proxy-accepts', status: 'fail', detail: `the proxy runs with is_test=${String(params.is_test)}, this worker ${o.isTest}`, fix: 'worker and proxy must be on the same network (test vs production root)' });
    } else {
      findings.push({ ...base, id: 'proxy-accepts', status: 'pass', detail: `the proxy accepts this worker for ${o.model}` });
    }
  } catch (err) {
    const r = refusalOf(socket);
    if (r) return refused(r);
    findings.push({ ...base, id: 'proxy-accepts', status: 'fail', detail: `the proxy closed the worker handshake: ${errorMessage(err)}`, fix: 'the proxy gave no reason: check its logs, or contact its operator' });
  } finally {
    conn.close('cocoon why: probe done');
  }
  return findings;
}

const noop = () => undefined;
const silentLog = { info: noop, warn: noop, error: noop, debug: noop, trace: noop, fatal: noop, child: () => silentLog } as unknown as Logger;

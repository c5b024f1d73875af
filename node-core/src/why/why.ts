import { existsSync } from 'node:fs';
import { createPeerVerifier, createPolicy, createRaTlsIdentity, configfsTsmQuoteProvider, fakeQuoteProvider, type PeerVerifier, type RaTlsIdentity } from '../attestation/index.ts';
import type { ChainConfig } from '../chain/config.ts';
import type { RootData } from '../chain/contract-state.ts';
import { runDoctor } from '../host/doctor.ts';
import { openHost } from '../host/host-access.ts';
import { allowlistOf } from '../image/allowlist.ts';
import type { Logger } from '../log.ts';
import { DEV_IMAGE_HASH } from '../network/dev-images.ts';
import { instancePaths, readStatus, type WorkerConfig } from '../td/index.ts';
import { probeChain } from './chain-probe.ts';
import { adviceForRefusal, reportOf, type Finding, type WhyReport } from './findings.ts';
import { probeProxy } from './proxy-probe.ts';

/**
 * "Why can't my host join?": the host checks, the image's hash against the root's allowlist,
 * the chain endpoint, and each proxy dialed as this worker would — plus, when the worker's guest
 * runs, what its worker reports about each proxy link (a refusal reason included).
 */
export interface WhyOptions {
  /** Host files to check (`/`, or a replayed host tree); null skips the host checks. */
  hostRoot?: string | null;
  /** The worker config (`cocoon td config`): network, proxies, model, development flags. */
  config?: WorkerConfig;
  /** The chain to ask; default: the config's network block. */
  chain?: ChainConfig;
  /** The worker image's hash; default: the development hash for development quotes, else unknown. */
  imageHash?: string | null;
  /** Proxies to dial besides the root's (HOST:PORT as this host reaches them). */
  proxies?: string[];
  /** The identity the probe dials with; default: a TDX quote inside a TD, else a development quote. */
  identity?: RaTlsIdentity;
  /** How the probe judges proxies; default: the worker's policy for the network. */
  proxyVerifier?: PeerVerifier;
  timeoutMs?: number;
  log?: Logger;
}

const TSM = '/sys/kernel/config/tsm/report';

export async function runWhy(o: WhyOptions): Promise<WhyReport> {
  const findings: Finding[] = [];
  const network = o.chain?.network ?? o.config?.network.name ?? 'local';
  const development = network === 'local' || !!o.config?.development;

  // 1. The host.
  if (o.hostRoot !== null) {
    const doctor = await runDoctor({ host: openHost(o.hostRoot ?? '/') });
    for (const c of doctor.checks) {
      const fix = c.fix ? [c.fix.summary, ...(c.fix.commands ?? []).map((x) => `  ${x}`), ...(c.fix.bios ?? []).map((b) => `  BIOS: ${b}`), ...(c.fix.link ? [`  ${c.fix.link}`] : [])].join('\n') : undefined;
      findings.push({ section: 'host', id: `host-${c.id}`, ...(c.subject && { subject: c.subject }), status: c.status, detail: c.detail, ...(c.status !== 'pass' && fix && { fix }) });
    }
  }

  // 2. The chain.
  const chain: ChainConfig | null = o.chain ?? (o.config ? { network: o.config.network.name, endpoint: o.config.network.endpoint, rootAddress: o.config.network.rootContract, ...(process.env.COCOON_TON_API_KEY && { apiKey: process.env.COCOON_TON_API_KEY }) } : null);
  let root: RootData | null = null;
  if (chain) {
    const probe = await probeChain(chain, Math.min(o.timeoutMs ?? 8000, 8000));
    findings.push(...probe.findings);
    root = probe.root;
  } else {
    findings.push({ section: 'chain', id: 'chain-reachable', status: 'skip', detail: 'no network configured', fix: 'pass --config worker.jsonc (its network block), or run a local chain (`cocoon chain up`)' });
  }

  // 3. The image against the root's allowlist.
  const imageHash = o.imageHash !== undefined ? o.imageHash : o.config?.development?.quote === 'fake' ? DEV_IMAGE_HASH : null;
  if (!imageHash) {
    findings.push({ section: 'image', id: 'image-allowed', status: 'warn', detail: 'the image hash is not known here: RTMR0 is only read from a TD booted with this image',
      fix: 'pass --image-hash (what `cocoon image measure … --rtmr0 R` prints, or the guest\'s `cocoon attest` output)' });
  } else if (!root) {
    findings.push({ section: 'image', id: 'image-allowed', status: 'skip', detail: `image ${imageHash}: the root could not be read (see the chain findings)` });
  } else if (allowlistOf(root, 'worker').includes(imageHash)) {
    findings.push({ section: 'image', id: 'image-allowed', status: 'pass', detail: `worker image ${imageHash} is on the root's allowlist` });
  } else {
    findings.push({ section: 'image', id: 'image-allowed', status: 'fail', detail: `worker image ${imageHash} is NOT on the root's allowlist (${root.workerHashes.length} worker images allowed): every proxy will refuse it (image_not_allowed)`,
      fix: `the root's owner adds it: cocoon root add-image --kind worker --hash ${imageHash}${chain && chain.network !== 'local' ? ` --network ${chain.network} --mnemonic-file OWNER_MNEMONIC` : ''}; or run an image the root allows (\`cocoon root show\`)` });
  }

  // 4. The proxies: the root's, and the config's / caller's.
  const endpoints = new Map<string, string>();
  for (const p of root?.proxies ?? []) endpoints.set(p.addressForWorkers, 'listed in the root');
  // A guest reaches the host's loopback as 10.0.2.2 (QEMU user networking); this host dials 127.0.0.1.
  for (const p of o.config?.network.proxies ?? []) endpoints.set(p.replace(/^10\.0\.2\.2:/, '127.0.0.1:'), 'in the worker config');
  for (const p of o.proxies ?? []) endpoints.set(p, 'given');
  if (endpoints.size === 0) {
    findings.push({ section: 'proxy', id: 'proxy-reachable', status: root ? 'fail' : 'skip', detail: root ? 'the root lists no proxies and none is configured' : 'no proxies known (the root could not be read)', ...(root && { fix: 'the network has no proxy yet: add one to network.proxies, or wait for the root to list one' }) });
  } else {
    const insideTd = existsSync(TSM);
    const identity = o.identity ?? await createRaTlsIdentity({ provider: insideTd && !development ? configfsTsmQuoteProvider() : fakeQuoteProvider(), role: 'worker' });
    const verifier = o.proxyVerifier ?? createPeerVerifier(development
      ? createPolicy({ name: 'fake', network: 'local' })
      // Diagnostic: the proxy must be on the root's proxy allowlist; TCB collateral is not fetched here.
      : createPolicy({ name: 'tdx', network: network as 'mainnet' | 'testnet', allowedImageHashes: root ? allowlistOf(root, 'proxy') : [], requireCollateral: false }), { expectedRole: 'proxy' });
    const probes = await Promise.all([...endpoints.keys()].map((endpoint) => probeProxy({
      endpoint, identity, verifier, model: o.config?.model ?? 'Qwen/Qwen3-0.6B', ...(o.config && { ownerAddress: o.config.ownerAddress }),
      isTest: root?.params.isTest ?? true, imageHash, timeoutMs: o.timeoutMs ?? 15_000, ...(o.log && { log: o.log }),
    })));
    for (const list of probes) {
      for (const f of list) {
        // From a host that is not a TD the probe only has a development quote: a production proxy
        // refusing that says nothing about the guest; the guest's worker reports below.
        if (f.refusal && !insideTd && !development && ['development_quote', 'no_quote'].includes(f.refusal.code)) {
          findings.push({ ...f, status: 'skip', detail: `${f.detail} — expected from outside a TD; whether it accepts the guest's worker shows in the worker's own report`, fix: undefined });
        } else findings.push(f);
      }
    }
  }

  // 5. The running guest's worker: what each proxy told it.
  if (o.config) {
    const status = readStatus(instancePaths(o.config.instance, o.config.stateDir));
    const stats = status?.workerStats as { proxies?: Array<{ endpoint: string; connected: boolean; lastError?: string; refusal?: { code: string; reason: string } }> } | undefined;
    if (!status || ['stopped', 'failed'].includes(status.state)) {
      findings.push({ section: 'proxy', id: 'worker-running', status: 'skip', detail: `the worker's guest (instance ${o.config.instance}) is not running${status?.detail ? `: ${status.detail}` : ''}` });
    } else if (!stats?.proxies) {
      findings.push({ section: 'proxy', id: 'worker-running', status: 'warn', detail: `the guest is ${status.state}; its worker has not reported its proxy links yet`, fix: 'wait a minute and run again, or follow `cocoon td logs --follow`' });
    } else {
      for (const p of stats.proxies) {
        findings.push(p.connected
          ? { section: 'proxy', id: 'worker-link', subject: p.endpoint, status: 'pass', detail: 'the guest\'s worker is connected' }
          : { section: 'proxy', id: 'worker-link', subject: p.endpoint, status: 'fail', detail: `the guest's worker is not connected: ${p.lastError ?? 'no reason reported'}`,
              fix: p.refusal ? adviceForRefusal(p.refusal.code, imageHash) : 'see `cocoon td logs` for the worker\'s connection errors', ...(p.refusal && { refusal: p.refusal }) });
      }
    }
  }
  return reportOf(findings);
}

const MARK = { pass: '✔', warn: '!', fail: '✖', skip: '–' } as const;

/** The report as a person reads it in a terminal. */
export function formatWhy(r: WhyReport): string {
  const lines: string[] = [];
  let section = '';
  for (const f of r.findings) {
    if (f.section !== section) {
      section = f.section;
      lines.push('', { host: 'Host', image: 'Image', chain: 'Chain', proxy: 'Proxies' }[section as Finding['section']]);
    }
    lines.push(`  ${MARK[f.status]} ${f.id}${f.subject ? ` ${f.subject}` : ''}: ${f.detail}`);
    if (f.fix && f.status !== 'pass') lines.push(...f.fix.split('\n').map((l) => `      → ${l}`));
  }
  lines.push('', r.ready ? 'Nothing blocks this worker.' : `Blocked. First: ${r.firstFix ?? 'see the failures above'}`);
  return lines.join('\n').replace(/^\n/, '') + '\n';
}

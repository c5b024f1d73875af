import type { AddressInfo } from 'node:net';
import type { PeerVerifier, RaTlsIdentity } from '../attestation/index.ts';
import type { Logger } from '../log.ts';
import { DEFAULT_PRICING, type PricingParams } from '../payments/pricing.ts';
import { CocoonError } from '../errors.ts';
import { apiKeyRequiredByDefault } from './http-gate.ts';
import { createOpenAiServer } from './openai-server.ts';
import { ProxyLink } from './proxy-link.ts';
import type { ClientHandle, ClientStatus } from './status.ts';

/** The client role: an attested link to one proxy and the OpenAI-compatible API on loopback. */
export interface ClientOptions {
  proxy: { host: string; port: number };
  identity: RaTlsIdentity;
  /** Verifies the proxy (its image hash must be allowed for proxies). */
  verifier: PeerVerifier;
  network?: ClientStatus['network'];
  port?: number;
  pricing?: PricingParams;
  knownModels?: string[];
  maxCoefficient?: number;
  requestTimeoutSeconds?: number;
  ownerAddress?: string;
  /** Payments (payments/party-settlement.ts); default: none, as a reference client without TON. */
  settlement?: import('../protocol/settlement.ts').ClientSettlement;
  /**
   * Bearer key the OpenAI API requires. Omitted: none on the local network; on testnet/mainnet
   * the caller must pass one (see loadOrCreateApiKey) or explicitly `null` to run without.
   */
  apiKey?: string | null;
  /** Origins allowed to call the API from a browser (CORS); none by default. */
  allowedOrigins?: string[];
  /** Extra Host header values to accept besides 127.0.0.1/localhost:port. */
  allowedHosts?: string[];
  log: Logger;
}

export interface ClientRunner extends ClientHandle {
  openaiUrl: string;
  port: number;
  waitConnected(timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startClient(opts: ClientOptions): Promise<ClientRunner> {
  const network = opts.network ?? 'local';
  if (opts.apiKey === undefined && apiKeyRequiredByDefault(network)) {
    throw new CocoonError('api_key_required', `a client on ${network} spends real TON: its OpenAI API needs an API key`, { hint: 'pass apiKey (loadOrCreateApiKey(dataDir)) or apiKey: null to run without one deliberately' });
  }
  const link = new ProxyLink({ ...opts.proxy, identity: opts.identity, verifier: opts.verifier, log: opts.log, ...(opts.ownerAddress && { ownerAddress: opts.ownerAddress }), ...(opts.settlement && { settlement: opts.settlement }) });
  const pricing = opts.pricing ?? DEFAULT_PRICING;
  let models: ClientStatus['models'] = [];
  // The attestation is only vouched for while the link it was verified on is up.
  const status = (): ClientStatus => ({ network, proxy: link.state, attestation: attestationNow(link), models, pricing });
  const listeners = new Set<(s: ClientStatus) => void>();
  const notify = () => { for (const l of listeners) l(status()); };
  link.on('status', () => {
    if (!link.connected) { models = []; notify(); return; }
    link.workerTypes().then((t) => { models = t.map((m) => ({ id: m.name, workers: m.workers })); notify(); }, notify);
  });
  // Worker sets change without the client being told; refresh the model list periodically.
  const refresh = setInterval(() => link.connected && link.workerTypes().then((t) => {
    const next = t.map((m) => ({ id: m.name, workers: m.workers }));
    if (JSON.stringify(next) !== JSON.stringify(models)) { models = next; notify(); }
  }, () => undefined), 2000);
  refresh.unref();
  link.start();
  const server = createOpenAiServer({
    link, pricing: () => pricing, status, knownModels: () => opts.knownModels ?? [],
    maxCoefficient: opts.maxCoefficient ?? 4000, defaultTimeoutSeconds: opts.requestTimeoutSeconds ?? 300, log: opts.log,
    gate: {
      port: () => port, apiKey: opts.apiKey ?? null,
      ...(opts.allowedOrigins && { allowedOrigins: opts.allowedOrigins }), ...(opts.allowedHosts && { allowedHosts: opts.allowedHosts }),
    },
  });
  let port = 0;
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', resolve);
  });
  port = (server.address() as AddressInfo).port;
  return {
    openaiUrl: `http://127.0.0.1:${port}/v1`,
    port,
    status,
    onStatus(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    waitConnected: (ms) => link.waitConnected(ms),
    async stop() {
      clearInterval(refresh);
      link.stop();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

/** The proxy's attestation as of now: a report from a link that has since dropped is not valid. */
export function attestationNow(link: Pick<ProxyLink, 'connected' | 'attestation' | 'state'>): ClientStatus['attestation'] {
  const report = link.attestation;
  if (!report || link.connected || !report.valid) return report;
  return { ...report, valid: false, error: `proxy ${link.state.state}${link.state.error ? `: ${link.state.error}` : ''}; attestation was verified on a connection that is no longer up` };
}

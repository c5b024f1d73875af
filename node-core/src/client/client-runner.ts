import type { AddressInfo } from 'node:net';
import type { PeerVerifier, RaTlsIdentity } from '../attestation/index.ts';
import type { Logger } from '../log.ts';
import { DEFAULT_PRICING, type PricingParams } from '../payments/pricing.ts';
import { CocoonError } from '../errors.ts';
import { apiKeyRequiredByDefault } from './http-gate.ts';
import { createOpenAiServer } from './openai-server.ts';
import { ProxyLink } from './proxy-link.ts';
import { AnswerLog } from './answer-log.ts';
import type { ClientSpendLimits } from '../payments/client-limits.ts';
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
  /** Highest worker coefficient (thousandths); `limits.maxCoefficient` when limits are given. */
  maxCoefficient?: number;
  /** The client's own spending caps (payments/client-limits.ts): checked before each request leaves. */
  limits?: ClientSpendLimits;
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
  /** What each answer cost (also `GET /v1/cocoon/answers`). */
  answers: AnswerLog;
  port: number;
  waitConnected(timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startClient(opts: ClientOptions): Promise<ClientRunner> {
  const network = opts.network ?? 'local';
  if (opts.apiKey === undefined && apiKeyRequiredByDefault(network)) {
    throw new CocoonError('api_key_required', `a client on ${network} spends real TON: its OpenAI API needs an API key`, { hint: 'pass apiKey (loadOrCreateApiKey(dataDir)) or apiKey: null to run without one deliberately' });
  }
  const pricing = opts.pricing ?? DEFAULT_PRICING;
  // The answer log reads the link's counters lazily (the link is created next).
  // Kept in the client payment store when settling, so /v1/cocoon/answers survives restarts.
  const answers = new AnswerLog(() => pricing, () => link.chargeCounters()?.onChain ?? null, 1000, opts.settlement?.answerHistory,
    (err) => opts.log.warn({ err: (err as Error).message }, 'could not save the answer log'));
  const link = new ProxyLink({ ...opts.proxy, identity: opts.identity, verifier: opts.verifier, log: opts.log, answers, ...(opts.ownerAddress && { ownerAddress: opts.ownerAddress }), ...(opts.settlement && { settlement: opts.settlement }) });
  const maxCoefficient = opts.limits?.maxCoefficient ?? opts.maxCoefficient ?? 4000;
  let models: ClientStatus['models'] = [];
  // The attestation is only vouched for while the link it was verified on is up.
  const status = (): ClientStatus => ({ network, proxy: link.state, attestation: attestationNow(link), models, pricing, payments: paymentsNow() });
  const paymentsNow = (): ClientStatus['payments'] => {
    const c = link.chargeCounters();
    return {
      blocked: link.blocked,
      charge: c && { signedCounter: c.signed.toString(), onChainCounter: c.onChain.toString() },
      spentNano: answers.spentNano().toString(),
      limits: { maxCostPerRequestNano: opts.limits?.maxRequestNano?.toString() ?? null, maxCostPerSessionNano: opts.limits?.maxSessionNano?.toString() ?? null, maxPriceCoefficient: maxCoefficient / 1000 },
    };
  };
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
    answers, ...(opts.limits && { limits: opts.limits }),
    maxCoefficient, defaultTimeoutSeconds: opts.requestTimeoutSeconds ?? 300, log: opts.log,
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
    answers,
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
      answers.close();
    },
  };
}

/** The proxy's attestation as of now: a report from a link that has since dropped is not valid. */
export function attestationNow(link: Pick<ProxyLink, 'connected' | 'attestation' | 'state'>): ClientStatus['attestation'] {
  const report = link.attestation;
  if (!report || link.connected || !report.valid) return report;
  return { ...report, valid: false, error: `proxy ${link.state.state}${link.state.error ? `: ${link.state.error}` : ''}; attestation was verified on a connection that is no longer up` };
}

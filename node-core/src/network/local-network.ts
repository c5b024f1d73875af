import {
  createPeerVerifier, createPolicy, createRaTlsIdentity, fakeQuoteProvider,
  type AttestationPolicyName, type NodeRole, type RaTlsIdentity,
} from '../attestation/index.ts';
import type { TdMeasurements } from '../attestation/report.ts';
import { startClient, type ClientRunner } from '../client/client-runner.ts';
import { CocoonError } from '../errors.ts';
import { createOpenAiCompatibleBackend } from '../inference/backend.ts';
import { DEFAULT_MODEL, startTestEngine, type TestEngine } from '../inference/test-engine.ts';
import { startTestEngineThread } from '../inference/test-engine-thread.ts';
import { createLogger, type Logger } from '../log.ts';
import { LOCAL_POW_DIFFICULTY } from '../protocol/pow.ts';
import { startProxy, type ProxyHandle } from '../proxy/proxy-runner.ts';
import { startWorker, waitForWorker, type WorkerHandle } from '../worker/worker-runner.ts';
import { DEFAULT_PRICING, type PricingParams } from '../payments/pricing.ts';
import { imageHashOfMeasurements } from '../attestation/td-report.ts';
import { DEV_IMAGE_HASH } from './dev-images.ts';
import { dirname } from 'node:path';

/**
 * The whole network on loopback in one process — test engine (unless a real engine is given),
 * proxy, workers and client — attested with development quotes. Used by `cocoon up`, the app and
 * the tests. Slot for the embedded chain: see `chain` in the options.
 */
export interface LocalNetworkOptions {
  workers?: number;
  model?: string;
  /** A real OpenAI-compatible engine instead of the built-in test engine. */
  backendUrl?: string;
  tokenDelayMs?: number;
  /**
   * Run the test engine on its own thread (default), so its tokenization of a large prompt does
   * not stall the relays of every other role on this event loop; false keeps it on this loop.
   */
  engineThread?: boolean;
  /** Policy the nodes hold each other to: `fake` (default, allowlists of dev images) or `any`. */
  policy?: Extract<AttestationPolicyName, 'fake' | 'any'>;
  clientPort?: number;
  /** Bearer key the client's OpenAI API requires (none by default on the local network). */
  clientApiKey?: string | null;
  /** The client's own spending caps (payments/client-limits.ts). */
  clientLimits?: import('../payments/client-limits.ts').ClientSpendLimits;
  /** Origins allowed to call the client's API from a browser (none by default). */
  allowedOrigins?: string[];
  /**
   * Tests: the worker image the proxy's allowlist expects instead of the development image, so the
   * (development) worker is refused as "image not allowed". Development quotes carry no
   * measurements, so the image hash of every development node is DEV_IMAGE_HASH.
   */
  workerMeasurements?: Partial<TdMeasurements>;
  /** Tests: the proxy image the client's and workers' allowlists expect instead (a proxy they must refuse). */
  proxyMeasurements?: Partial<TdMeasurements>;
  maxActiveRequests?: number;
  /**
   * Start the embedded local TON chain with its state in this directory and take prices from its
   * root contract (`cocoon up` and the app do; unit tests mostly don't, for speed).
   */
  chainDataDir?: string;
  /** Where the chain announces its endpoint (default $COCOON_HOME/local-chain.json; false = nowhere). */
  chainAnnounceFile?: string | false;
  /**
   * With the chain: every answer is paid for (payments/local-settlement.ts) — the proxy ledger,
   * signed charges and payouts, settlement on the embedded chain. Default true when the chain runs.
   */
  settlement?: boolean;
  /** Where the roles' payment stores go (default: the directory above chainDataDir). */
  paymentsDataDir?: string;
  /** Open the dev client contract with the minimum stake when needed (default true; the app opens it itself). */
  openClientContract?: boolean;
  /** Settlement policy for the proxy (default LOCAL_DEV_SETTLEMENT_POLICY: settles within seconds). */
  settlementPolicy?: import('../payments/settlement-scheduler.ts').SettlementPolicy;
  /** How long the proxy waits for a client's register transaction (default 300 s, as the reference). */
  registrationTimeoutMs?: number;
  log?: Logger;
}

export interface LocalNetwork {
  openaiUrl: string;
  models: string[];
  client: ClientRunner;
  proxy: ProxyHandle;
  workers: WorkerHandle[];
  engine: TestEngine | null;
  imageHashes: { proxy: string; worker: string };
  chain: { endpoint: string; rootAddress: string } | null;
  pricing: PricingParams;
  /** The key the OpenAI API requires, or null. */
  apiKey: string | null;
  /** The payments of this network, when it settles on the embedded chain. */
  settlement: import('../payments/local-settlement.ts').LocalSettlement | null;
  describe(): Record<string, unknown>;
  stop(): Promise<void>;
}

export async function startLocalNetwork(opts: LocalNetworkOptions = {}): Promise<LocalNetwork> {
  const log = opts.log ?? createLogger('cocoon');
  const workerCount = opts.workers ?? 1;
  if (!Number.isInteger(workerCount) || workerCount < 0 || workerCount > 64) throw new CocoonError('bad_option', `workers must be 0..64, got ${workerCount}`);
  const policyName = opts.policy ?? 'fake';
  const stoppers: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const s of stoppers.reverse()) await s().catch(() => undefined);
  };
  try {
    let engine: TestEngine | null = null;
    let model = opts.model;
    let backendUrl = opts.backendUrl;
    if (!backendUrl) {
      const engineOptions = { model: model ?? DEFAULT_MODEL, tokenDelayMs: opts.tokenDelayMs ?? 0 };
      engine = opts.engineThread === false
        ? await startTestEngine({ ...engineOptions, log: log.child({ role: 'engine' }) })
        : await startTestEngineThread(engineOptions);
      stoppers.push(() => engine!.stop());
      backendUrl = engine.url;
      model = engine.model;
    }
    const backend = createOpenAiCompatibleBackend({ baseUrl: backendUrl });
    const served = await backend.listModels();
    model ??= served[0];
    if (!model || !served.includes(model)) {
      throw new CocoonError('model_not_served', `the engine at ${backendUrl} serves ${served.join(', ') || 'no models'}, not "${model ?? '(none)'}"`, { hint: 'pass --model with one of the served models' });
    }

    const imageHashes = { proxy: DEV_IMAGE_HASH, worker: DEV_IMAGE_HASH };
    // Allowlists: the root contract's when the chain runs, else the development images alone.
    let allowed = { proxy: [imageHashes.proxy], worker: [imageHashes.worker] };
    let chain: LocalNetwork['chain'] = null;
    let pricing = DEFAULT_PRICING;
    let settlement: LocalNetwork['settlement'] = null;
    if (opts.chainDataDir) {
      const { startLocalChain } = await import('../chain/local/local-chain.ts');
      const { allowImagesOnRoot, readRootConfig } = await import('./root-config.ts');
      const local = await startLocalChain({
        dataDir: opts.chainDataDir, log: log.child({ role: 'chain' }),
        ...(opts.chainAnnounceFile !== undefined && { announceFile: opts.chainAnnounceFile }),
      });
      stoppers.push(() => local.stop());
      chain = { endpoint: local.endpoint, rootAddress: local.rootAddress };
      const rootChain = { network: 'local' as const, endpoint: local.endpoint, rootAddress: local.rootAddress };
      const owner = local.wallets.find((w) => w.name === 'owner')!;
      await allowImagesOnRoot(rootChain, owner.mnemonic, [{ kind: 'proxyImage', hash: imageHashes.proxy }, { kind: 'workerImage', hash: imageHashes.worker }]);
      const root = await readRootConfig(rootChain);
      pricing = root.pricing;
      allowed = { proxy: root.allowedProxyImages, worker: root.allowedWorkerImages };
      if (opts.settlement ?? true) {
        const { startLocalSettlement } = await import('../payments/local-settlement.ts');
        settlement = await startLocalSettlement({
          endpoint: local.endpoint, rootAddress: local.rootAddress, chainDataDir: opts.chainDataDir,
          dataDir: opts.paymentsDataDir ?? dirname(opts.chainDataDir), workers: workerCount, log,
          ...(opts.openClientContract !== undefined && { openClientContract: opts.openClientContract }),
          ...(opts.settlementPolicy && { policy: opts.settlementPolicy }),
          ...(opts.registrationTimeoutMs !== undefined && { registrationTimeoutMs: opts.registrationTimeoutMs }),
        });
        // Stopped after the roles (stoppers run in reverse), so the last answers are in the ledger; flushed before the chain stops.
        const s = settlement;
        stoppers.push(() => s.stop({ flush: true }));
      }
    }
    if (opts.workerMeasurements) allowed.worker = [imageHashOfMeasurements(opts.workerMeasurements)];
    if (opts.proxyMeasurements) allowed.proxy = [imageHashOfMeasurements(opts.proxyMeasurements)];
    log.warn({ banner: 'DEVELOPMENT MODE — NOT CONFIDENTIAL', policy: policyName }, 'local network: development quotes prove nothing');
    const policyFor = (list: string[] | undefined) => createPolicy({ name: policyName, network: 'local', ...(list && policyName !== 'any' && { allowedImageHashes: list }) });
    // Proxies and workers carry development quotes; the client a plain certificate, as the reference's client does.
    const identity = (role: NodeRole): Promise<RaTlsIdentity> => createRaTlsIdentity({ provider: role === 'client' ? null : fakeQuoteProvider(), role });

    const proxy = await startProxy({
      identity: await identity('proxy'),
      workerVerifier: createPeerVerifier(policyFor(allowed.worker), { expectedRole: 'worker' }),
      clientVerifier: createPeerVerifier(policyFor(undefined), { expectedRole: 'client' }),
      // Development network only: a token proof of work so local dials are instant (reference: 20).
      powDifficulty: LOCAL_POW_DIFFICULTY,
      log: log.child({ role: 'proxy' }),
      ...(settlement && { settlement: settlement.proxy }),
    });
    stoppers.push(() => proxy.stop());

    const workers: WorkerHandle[] = [];
    for (let i = 0; i < workerCount; i++) {
      const worker = await startWorker({
        proxies: [proxy.workerEndpoint], backend, model, identity: await identity('worker'),
        verifier: createPeerVerifier(policyFor(allowed.proxy), { expectedRole: 'proxy' }), log: log.child({ role: 'worker', worker: i }),
        ...(settlement && { settlement: settlement.workers[i]! }),
        ...(opts.maxActiveRequests !== undefined && { maxActiveRequests: opts.maxActiveRequests }),
      });
      stoppers.push(() => worker.stop());
      workers.push(worker);
    }

    const client = await startClient({
      proxy: proxy.endpoint, identity: await identity('client'), verifier: createPeerVerifier(policyFor(allowed.proxy), { expectedRole: 'proxy' }),
      knownModels: [model], pricing, log: log.child({ role: 'client' }), ...(settlement && { settlement: settlement.client }), ...(opts.clientPort !== undefined && { port: opts.clientPort }),
      apiKey: opts.clientApiKey ?? null, ...(opts.allowedOrigins && { allowedOrigins: opts.allowedOrigins }),
      ...(opts.clientLimits && { limits: opts.clientLimits }),
    });
    stoppers.push(() => client.stop());
    // With a deliberately unacceptable image the refusal is the point; don't wait for success.
    if (!opts.proxyMeasurements) await client.waitConnected(15_000);
    if (!opts.workerMeasurements && !opts.proxyMeasurements) await Promise.all(workers.map((w) => waitForWorker(w)));

    const describe = () => ({
      openai: client.openaiUrl,
      ...(opts.clientApiKey && { apiKey: opts.clientApiKey }),
      models: [model],
      network: 'local',
      policy: policyName,
      engine: engine ? { url: engine.url, kind: 'test-engine' } : { url: backendUrl, kind: 'external' },
      proxy: { clientPort: proxy.endpoint.port, workerPort: proxy.workerEndpoint.port, stats: proxy.statsUrl, imageHash: imageHashes.proxy },
      workers: workers.map((w) => ({ stats: w.statsUrl })),
      client: { port: client.port, status: `${client.openaiUrl}/cocoon/status` },
      chain: chain ?? { embedded: false },
      payments: settlement ? { contracts: settlement.contracts, dirs: settlement.dirs } : null,
      pricing,
      pid: process.pid,
    });
    return { openaiUrl: client.openaiUrl, models: [model], client, proxy, workers, engine, imageHashes, chain, pricing, apiKey: opts.clientApiKey ?? null, settlement, describe, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

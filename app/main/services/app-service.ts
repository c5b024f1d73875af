import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Address } from '@ton/core';
import type { ClientAccount } from '../../../node-core/src/payments/client-account.ts';
import type { TransactionSigner } from '../../../node-core/src/payments/wallet-signer.ts';
import OpenAI from 'openai';
import type { ClientHandle } from '../../../node-core/src/client/status.ts';
import { CocoonError, errorMessage } from '../../../node-core/src/errors.ts';
import type { CostBreakdown } from '../../../node-core/src/payments/pricing.ts';
import {
  isRequestName, requestSchemas, requestsIn, type AppEvents, type ChatUsage, type EventName, type HandlersFor, type RequestArgs, type RequestHandler,
  type RequestHandlers, type RequestName, type RequestResults, type RequestsIn, type StoredMessage,
} from '../../shared/api-contract.ts';
import { ConversationStore } from './conversation-store.ts';
import { SettingsStore } from './settings-store.ts';
import { readLogTail } from './log-tail.ts';
import { MoneyRequests, type MoneyRequestName } from './money-requests.ts';
import { argumentError, chatFailure } from './user-errors.ts';
import type { DevWalletAccess } from './dev-wallet.ts';
import type { OwnerService } from './owner-service.ts';
import type { PtyService } from './pty-service.ts';
import type { WalletSession } from './wallet-session.ts';
import type { OwnerEconomics } from './owner-economics.ts';
import type { ChargeTracker } from './charge-tracker.ts';
import { fetchAnswerCost, reportedCostFields, requestIdOf } from './answer-cost.ts';

/**
 * Everything the UI can ask of the app, as plain functions with no Electron in sight: the IPC
 * handlers in Electron and the WebSocket in web mode both call `handle`, which validates the
 * arguments against the contract before any service code runs. Chat goes through the client's
 * OpenAI endpoint with the official `openai` package, exactly as a developer's app would.
 */
export interface AppServiceOptions {
  openaiUrl: string;
  /** The key the client's OpenAI API requires (shown in Settings); absent: none. */
  apiKey?: string | null;
  client: ClientHandle;
  dataDir: string;
  network: 'local' | 'testnet' | 'mainnet';
  /** Local mode: the embedded chain's development wallet (absent when the chain is not running). */
  devWallet?: DevWalletAccess;
  /** The developer's client contract (local mode: on the embedded chain). */
  clientAccount?: ClientAccount;
  /** The local network's backend running now (null: the built-in test engine). */
  activeBackendUrl?: string | null;
  /** The JSON log file the Settings screen's log viewer reads (absent: no log file). */
  logFile?: string;
  /** Owner mode (host checks, GPU plans, TD launcher); absent, its requests say so. */
  owner?: OwnerService;
  /** The embedded terminal; absent or disabled, pty requests are refused. */
  pty?: PtyService;
  /** TON Connect (main process); absent, wallet.* requests are refused. */
  walletSession?: WalletSession;
  /** The client account of a connected wallet's address (read and planned here, signed by the wallet). */
  accountFor?: (owner: Address) => Promise<ClientAccount>;
  /** Balance of any address on the running network's chain. */
  balanceOf?: (address: Address) => Promise<bigint>;
  /** Owner economics (worker earnings, claims, the proxy operator's contract); absent, economics.* is refused. */
  economics?: OwnerEconomics | Promise<OwnerEconomics>;
  /** Local network only: development wallets that sign for the worker owner and the proxy operator when no wallet is connected. */
  devSigners?: { worker?: TransactionSigner; proxy?: TransactionSigner };
  /** The client's charge counters (its payment store and contract); absent, charges.get answers null. */
  charges?: ChargeTracker;
}

/** The requests AppService answers itself. */
type CoreRequestName = Exclude<RequestName, RequestsIn<'owner.'> | RequestsIn<'pty.'> | MoneyRequestName>;

/** Handlers for a group of requests whose service this app instance lacks: each refuses, saying why. */
function unavailable<N extends RequestName>(names: readonly N[], refusal: () => CocoonError): HandlersFor<N> {
  const refuse = (): never => { throw refusal(); };
  const handlers = {} as Record<N, () => never>;
  for (const n of names) handlers[n] = refuse;
  return handlers;
}

export class AppService extends EventEmitter {
  private readonly openai: OpenAI;
  private readonly conversations: ConversationStore;
  private readonly settings: SettingsStore;
  /** One typed handler per request of the contract, keyed by its name. */
  private readonly handlers: RequestHandlers;
  private readonly streams = new Map<string, AbortController>();
  private readonly unsubscribe: () => void;

  constructor(private readonly opts: AppServiceOptions) {
    super();
    this.openai = new OpenAI({ baseURL: opts.openaiUrl, apiKey: opts.apiKey ?? 'local', maxRetries: 0 });
    this.conversations = new ConversationStore(opts.dataDir);
    this.settings = new SettingsStore(opts.dataDir);
    const { owner, pty } = opts;
    this.handlers = {
      ...this.coreHandlers(),
      ...new MoneyRequests(opts, this.settings).handlers(),
      ...(owner ? owner.handlers : unavailable(requestsIn('owner.'), () => new CocoonError('no_owner_mode', 'owner mode is not available in this app instance'))),
      ...(pty ? pty.handlers : unavailable(requestsIn('pty.'), () => new CocoonError('terminal_disabled', 'the embedded terminal is not available in this app instance'))),
    };
    const unsubscribeStatus = opts.client.onStatus((s) => this.emitEvent('status', s));
    const forward = (event: EventName, payload: unknown) => this.emitEvent(event, payload as never);
    opts.owner?.on('event', forward);
    opts.pty?.on('event', forward);
    const onWallet = (state: AppEvents['wallet.session']) => this.emitEvent('wallet.session', state);
    opts.walletSession?.on('state', onWallet);
    this.unsubscribe = () => {
      opts.walletSession?.off('state', onWallet);
      unsubscribeStatus();
      opts.owner?.off('event', forward);
      opts.pty?.off('event', forward);
    };
  }

  emitEvent<E extends EventName>(event: E, payload: AppEvents[E]): void {
    this.emit('event', event, payload);
  }

  /**
   * The single entry point for UI calls: checks the name and validates the arguments against the
   * contract at the boundary, then calls that request's handler. Errors are CocoonErrors.
   */
  async handle(name: string, args: unknown): Promise<unknown> {
    if (!isRequestName(name)) throw new CocoonError('unknown_request', `unknown request "${name.slice(0, 100)}"`);
    const parsed = requestSchemas[name].safeParse(args);
    if (!parsed.success) throw argumentError(name, parsed.error.issues[0]!);
    return this.call(name, parsed.data);
  }

  private call<N extends RequestName>(name: N, args: RequestArgs<N>): Promise<RequestResults[N]> | RequestResults[N] {
    const handler: RequestHandler<N> = this.handlers[name];
    return handler(...args);
  }

  /** The requests AppService answers itself (the rest come from the owner, terminal and money services). */
  private coreHandlers(): HandlersFor<CoreRequestName> {
    return {
      'status.get': () => this.opts.client.status(),
      'models.list': async () => {
        const list = await this.openai.models.list();
        // The client's model list adds how many workers serve each model.
        return list.data.map((m) => ({ id: m.id, workers: (m as { workers?: number }).workers ?? 0 }));
      },
      'chat.start': (req) => this.startChat(req),
      'chat.stop': (streamId) => {
        const ac = this.streams.get(streamId);
        ac?.abort();
        return { stopped: ac !== undefined };
      },
      'conversations.list': () => this.conversations.list(),
      'conversations.save': (c) => this.conversations.save(c),
      'conversations.truncate': (id, keep) => this.conversations.truncate(id, keep),
      'conversations.delete': async (id) => ({ deleted: await this.conversations.delete(id) }),
      'charges.get': async () => (this.opts.charges ? this.opts.charges.info() : null),
      'settings.get': () => this.settingsInfo(),
      'settings.set': async (patch) => {
        await this.settings.update(patch);
        return this.settingsInfo();
      },
      'logs.tail': async ({ lines }) => (this.opts.logFile ? readLogTail(this.opts.logFile, lines) : []),
    };
  }

  private async settingsInfo(): Promise<RequestResults['settings.get']> {
    const saved = await this.settings.read();
    const active = this.opts.activeBackendUrl ?? null;
    return {
      network: this.opts.network,
      openaiBaseUrl: this.opts.openaiUrl,
      apiKey: this.opts.apiKey ?? null,
      dataDir: this.opts.dataDir,
      backendUrl: saved.backendUrl,
      activeBackend: { kind: active ? 'url' : 'test-engine', url: active },
      logLevel: saved.logLevel,
      logFile: this.opts.logFile ?? null,
      restartRequired: saved.backendUrl !== active || saved.network.name !== this.opts.network,
      savedNetwork: { name: saved.network.name, endpoint: saved.network.endpoint, apiKeySet: Boolean(saved.network.apiKey), rootAddress: saved.network.rootAddress, tonConnectManifestUrl: saved.network.tonConnectManifestUrl ?? null },
    };
  }

  private async startChat(req: RequestArgs<'chat.start'>[0]): Promise<{ streamId: string }> {
    // The prompt is stored before anything is sent, so it survives whatever happens to the answer.
    if (req.append.length > 0) await this.conversations.append(req.conversationId, req.append);
    else if (!(await this.conversations.get(req.conversationId))) throw new CocoonError('not_found', 'this conversation no longer exists; start a new one');
    return this.streamAnswer(req);
  }

  private streamAnswer(req: RequestArgs<'chat.start'>[0]): { streamId: string } {
    const streamId = randomUUID();
    const ac = new AbortController();
    this.streams.set(streamId, ac);
    const started = performance.now();
    const chargedBefore = this.opts.charges?.reported() ?? 0n;
    void (async () => {
      let content = '';
      let reasoning = '';
      let firstTokenAt: number | null = null;
      let finishReason: string | null = null;
      let usage: ChatUsage | undefined;
      let cost: CostBreakdown | undefined;
      let failure: string | null = null;
      let requestId: string | null = null;
      try {
        const { data: stream, response } = await this.openai.chat.completions.create({
          model: req.model, messages: req.messages, temperature: req.temperature, max_tokens: req.maxTokens,
          stream: true, stream_options: { include_usage: true },
        }, { signal: ac.signal }).withResponse();
        requestId = requestIdOf(response.headers);
        for await (const chunk of stream) {
          const choice = chunk.choices[0];
          const delta = choice?.delta as { content?: string; reasoning_content?: string } | undefined;
          if (delta?.content || delta?.reasoning_content) {
            firstTokenAt ??= performance.now();
            content += delta.content ?? '';
            reasoning += delta.reasoning_content ?? '';
            this.emitEvent('chat.delta', { streamId, ...(delta.content && { content: delta.content }), ...(delta.reasoning_content && { reasoning: delta.reasoning_content }) });
          }
          if (choice?.finish_reason) finishReason = choice.finish_reason;
          if (chunk.usage) {
            usage = chunk.usage as ChatUsage;
            cost = (chunk as unknown as { cost?: CostBreakdown }).cost;
          }
        }
        if (!usage && !ac.signal.aborted) failure = 'the answer ended without usage data';
      } catch (err) {
        if (!ac.signal.aborted) failure = chatFailure(err, req.model);
      } finally {
        this.streams.delete(streamId);
      }
      const status = usage && !failure ? 'complete' : ac.signal.aborted ? 'stopped' : 'interrupted';
      const now = performance.now();
      // An answer that ended early has no final usage in its stream: the client's answer log says
      // what reached it and is charged (absent on clients without the log: "cost not reported").
      if (status !== 'complete' && !cost && requestId && (content || reasoning)) {
        const reported = reportedCostFields(await fetchAnswerCost({ openaiUrl: this.opts.openaiUrl, apiKey: this.opts.apiKey ?? null, id: requestId }));
        if (reported.usage && reported.cost) {
          usage = reported.usage;
          cost = reported.cost as unknown as CostBreakdown;
        }
      }
      // The proxy's counter after this answer places its charge (pending → signed → settled).
      const mark = cost && this.opts.charges ? await this.opts.charges.markAfter(chargedBefore) : null;
      const message: StoredMessage | null = content || reasoning || status === 'complete' ? {
        role: 'assistant', content, at: new Date().toISOString(), status, model: req.model, finishReason,
        ...(reasoning && { reasoning }),
        ...(usage && { usage }), ...(cost && { cost: cost as unknown as Record<string, unknown> }),
        ...(failure && { error: failure }),
        ...(mark && { charge: { counter: mark } }),
        ...(firstTokenAt !== null && { ttftMs: Math.round(firstTokenAt - started) }),
        durationMs: Math.round(now - started),
      } : null;
      let error = failure;
      if (message) {
        try {
          await this.conversations.append(req.conversationId, [message]);
        } catch (err) {
          error = `the answer could not be saved: ${errorMessage(err)}`;
        }
      }
      this.emitEvent('chat.end', { streamId, conversationId: req.conversationId, message, error });
    })();
    return { streamId };
  }

  close(): void {
    this.unsubscribe();
    this.opts.owner?.close();
    this.opts.pty?.dispose();
    for (const ac of this.streams.values()) ac.abort();
  }
}

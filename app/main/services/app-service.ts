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
  requestSchemas, type AppEvents, type ChatUsage, type StoredMessage, type EventName, type RequestArgs, type RequestName, type RequestResults,
} from '../../shared/api-contract.ts';
import { ConversationStore } from './conversation-store.ts';
import { SettingsStore } from './settings-store.ts';
import { readLogTail } from './log-tail.ts';
import { MoneyRequests } from './money-requests.ts';
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

export class AppService extends EventEmitter {
  private readonly openai: OpenAI;
  private readonly conversations: ConversationStore;
  private readonly settings: SettingsStore;
  private readonly money: MoneyRequests;
  private readonly streams = new Map<string, AbortController>();
  private readonly unsubscribe: () => void;

  constructor(private readonly opts: AppServiceOptions) {
    super();
    this.openai = new OpenAI({ baseURL: opts.openaiUrl, apiKey: opts.apiKey ?? 'local', maxRetries: 0 });
    this.conversations = new ConversationStore(opts.dataDir);
    this.settings = new SettingsStore(opts.dataDir);
    this.money = new MoneyRequests(opts, this.settings);
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

  /** The single entry point for UI calls: validates, dispatches, and reports errors as CocoonError. */
  async handle(name: string, args: unknown): Promise<unknown> {
    if (!Object.hasOwn(requestSchemas, name)) throw new CocoonError('unknown_request', `unknown request "${name}"`);
    const schema = requestSchemas[name as RequestName];
    const parsed = schema.safeParse(args);
    if (!parsed.success) {
      throw argumentError(name, parsed.error.issues[0]!);
    }
    if (name.startsWith('owner.')) {
      if (!this.opts.owner) throw new CocoonError('no_owner_mode', 'owner mode is not available in this app instance');
      return this.opts.owner.dispatch(name, parsed.data as unknown[]);
    }
    if (name.startsWith('pty.')) return this.ptyRequest(name as RequestName, parsed.data as unknown[]);
    if (MoneyRequests.handles(name)) return this.money.dispatch(name as RequestName, parsed.data as unknown[]);
    return this.dispatch(name as RequestName, parsed.data as never);
  }

  private async ptyRequest(name: RequestName, a: unknown[]): Promise<unknown> {
    const pty = this.opts.pty;
    if (!pty) throw new CocoonError('terminal_disabled', 'the embedded terminal is not available in this app instance');
    switch (name) {
      case 'pty.open': return pty.open(a[0] as RequestArgs<'pty.open'>[0]);
      case 'pty.write': return pty.write(a[0] as RequestArgs<'pty.write'>[0]);
      case 'pty.resize': return pty.resize(a[0] as RequestArgs<'pty.resize'>[0]);
      case 'pty.close': return pty.close(a[0] as string);
    }
    throw new CocoonError('unknown_request', `unknown request "${name}"`);
  }

  private async dispatch<N extends RequestName>(name: N, args: RequestArgs<N>): Promise<RequestResults[N]> {
    const a = args as unknown[];
    switch (name) {
      case 'status.get':
        return this.opts.client.status() as RequestResults[N];
      case 'models.list': {
        const list = await this.openai.models.list();
        return list.data.map((m) => ({ id: m.id, workers: (m as unknown as { workers?: number }).workers ?? 0 })) as RequestResults[N];
      }
      case 'chat.start':
        return (await this.startChat(a[0] as RequestArgs<'chat.start'>[0])) as RequestResults[N];
      case 'chat.stop': {
        const ac = this.streams.get(a[0] as string);
        ac?.abort();
        return { stopped: ac !== undefined } as RequestResults[N];
      }
      case 'conversations.list':
        return (await this.conversations.list()) as RequestResults[N];
      case 'conversations.save':
        return (await this.conversations.save(a[0] as RequestArgs<'conversations.save'>[0])) as RequestResults[N];
      case 'conversations.truncate':
        return (await this.conversations.truncate(a[0] as string, a[1] as number)) as RequestResults[N];
      case 'conversations.delete':
        return { deleted: await this.conversations.delete(a[0] as string) } as RequestResults[N];
      case 'wallet.get':
        return (await this.money.walletInfo()) as RequestResults[N];
      case 'charges.get':
        return (this.opts.charges ? await this.opts.charges.info() : null) as RequestResults[N];
      case 'settings.get':
        return (await this.settingsInfo()) as RequestResults[N];
      case 'settings.set':
        await this.settings.update(a[0] as RequestArgs<'settings.set'>[0]);
        return (await this.settingsInfo()) as RequestResults[N];
      case 'logs.tail':
        return (this.opts.logFile ? await readLogTail(this.opts.logFile, (a[0] as { lines: number }).lines) : []) as RequestResults[N];
    }
    throw new CocoonError('unknown_request', `unknown request "${String(name)}"`);
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

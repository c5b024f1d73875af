import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { fromNano } from '@ton/core';
import OpenAI from 'openai';
import type { ClientHandle } from '../../../node-core/src/client/status.ts';
import { CocoonError, errorMessage } from '../../../node-core/src/errors.ts';
import type { CostBreakdown } from '../../../node-core/src/payments/pricing.ts';
import {
  requestSchemas, type AppEvents, type ChatUsage, type EventName, type RequestArgs, type RequestName, type RequestResults,
} from '../../shared/api-contract.ts';
import { ConversationStore } from './conversation-store.ts';
import type { DevWalletAccess } from './dev-wallet.ts';

/**
 * Everything the UI can ask of the app, as plain functions with no Electron in sight: the IPC
 * handlers in Electron and the WebSocket in web mode both call `handle`, which validates the
 * arguments against the contract before any service code runs. Chat goes through the client's
 * OpenAI endpoint with the official `openai` package, exactly as a developer's app would.
 */
export interface AppServiceOptions {
  openaiUrl: string;
  client: ClientHandle;
  dataDir: string;
  network: 'local' | 'testnet' | 'mainnet';
  /** Local mode: the embedded chain's development wallet (absent when the chain is not running). */
  devWallet?: DevWalletAccess;
}

export class AppService extends EventEmitter {
  private readonly openai: OpenAI;
  private readonly conversations: ConversationStore;
  private readonly streams = new Map<string, AbortController>();
  private readonly unsubscribe: () => void;

  constructor(private readonly opts: AppServiceOptions) {
    super();
    this.openai = new OpenAI({ baseURL: opts.openaiUrl, apiKey: 'local', maxRetries: 0 });
    this.conversations = new ConversationStore(opts.dataDir);
    this.unsubscribe = opts.client.onStatus((s) => this.emitEvent('status', s));
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
      const issue = parsed.error.issues[0]!;
      throw new CocoonError('bad_arguments', `${name}: invalid argument ${issue.path.join('.') || '(arguments)'}: ${issue.message}`);
    }
    return this.dispatch(name as RequestName, parsed.data as never);
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
        return this.startChat(a[0] as RequestArgs<'chat.start'>[0]) as RequestResults[N];
      case 'chat.stop': {
        const ac = this.streams.get(a[0] as string);
        ac?.abort();
        return { stopped: ac !== undefined } as RequestResults[N];
      }
      case 'conversations.list':
        return (await this.conversations.list()) as RequestResults[N];
      case 'conversations.save':
        await this.conversations.save(a[0] as RequestArgs<'conversations.save'>[0]);
        return { saved: true } as RequestResults[N];
      case 'conversations.delete':
        return { deleted: await this.conversations.delete(a[0] as string) } as RequestResults[N];
      case 'wallet.get':
        return (await this.walletInfo()) as RequestResults[N];
    }
    throw new CocoonError('unknown_request', `unknown request "${String(name)}"`);
  }

  private async walletInfo(): Promise<RequestResults['wallet.get']> {
    const dev = this.opts.devWallet;
    let balanceTon: string | null = null;
    let balanceError: string | null = null;
    if (dev) {
      try {
        balanceTon = fromNano(await dev.balanceNano());
      } catch (err) {
        balanceError = `the local chain did not answer the balance query: ${errorMessage(err)}`;
      }
    }
    return {
      network: this.opts.network,
      mode: this.opts.network === 'local' ? 'development' : 'tonconnect',
      address: dev?.address ?? null,
      balanceTon,
      contractActionsDisabledReason: balanceError ?? 'client-contract balance, stake, top-up and withdraw are not wired to the chain layer yet',
    };
  }

  private startChat(req: RequestArgs<'chat.start'>[0]): { streamId: string } {
    const streamId = randomUUID();
    const ac = new AbortController();
    this.streams.set(streamId, ac);
    void (async () => {
      let finishReason: string | null = null;
      try {
        const stream = await this.openai.chat.completions.create({
          model: req.model, messages: req.messages, temperature: req.temperature, max_tokens: req.maxTokens,
          stream: true, stream_options: { include_usage: true },
        }, { signal: ac.signal });
        for await (const chunk of stream) {
          const choice = chunk.choices[0];
          const delta = choice?.delta as { content?: string; reasoning_content?: string } | undefined;
          if (delta?.content || delta?.reasoning_content) {
            this.emitEvent('chat.delta', { streamId, ...(delta.content && { content: delta.content }), ...(delta.reasoning_content && { reasoning: delta.reasoning_content }) });
          }
          if (choice?.finish_reason) finishReason = choice.finish_reason;
          if (chunk.usage) {
            const cost = (chunk as unknown as { cost: CostBreakdown }).cost;
            this.emitEvent('chat.done', { streamId, usage: chunk.usage as ChatUsage, cost, finishReason });
            return;
          }
        }
        if (ac.signal.aborted) this.emitEvent('chat.error', { streamId, message: 'stopped' });
        else this.emitEvent('chat.error', { streamId, message: 'the answer ended without usage data' });
      } catch (err) {
        this.emitEvent('chat.error', { streamId, message: ac.signal.aborted ? 'stopped' : errorMessage(err) });
      } finally {
        this.streams.delete(streamId);
      }
    })();
    return { streamId };
  }

  close(): void {
    this.unsubscribe();
    for (const ac of this.streams.values()) ac.abort();
  }
}

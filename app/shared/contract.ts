import { z } from 'zod';
import type { AttestationReport } from '../../node-core/src/attestation/report.ts';
import type { CostBreakdown, PricingParams } from '../../node-core/src/payments/pricing.ts';

/**
 * The one app API: every request main (and web mode) answers, with a zod schema for its
 * arguments and the type of its result, plus the events main pushes. Imported by main, preload,
 * web mode and the renderer (types only there), so the four cannot drift apart.
 */

export interface AppStatus {
  network: 'local' | 'testnet' | 'mainnet';
  proxy: { endpoint: string; state: 'connecting' | 'connected' | 'disconnected' | 'refused'; error?: string; since: string };
  attestation: AttestationReport | null;
  models: { id: string; workers: number }[];
  pricing: PricingParams;
}

export interface ChatMessage { role: 'system' | 'user' | 'assistant'; content: string }

export interface AnswerRecord {
  requestId: string;
  model: string;
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number } | null;
  cost: CostBreakdown | null;
  finishedAt: string;
  stopped: boolean;
}

export interface Conversation {
  id: string;
  title: string;
  model: string;
  systemPrompt: string;
  temperature: number;
  maxTokens: number;
  messages: ChatMessage[];
  answers: AnswerRecord[];
  updatedAt: string;
}

export interface WalletInfo {
  network: 'local' | 'testnet' | 'mainnet';
  mode: 'local-dev' | 'tonconnect';
  /** Local development wallet address when mode is local-dev. */
  address: string | null;
  /** Why client-contract actions (balance, stake, top-up, withdraw) are unavailable. */
  contractActionsDisabledReason: string | null;
  /** TON Connect manifest URL the renderer passes to the SDK (testnet/mainnet only). */
  tonConnectManifestUrl: string | null;
}

const id = z.string().min(1, 'must not be empty').max(128, 'must be at most 128 characters').regex(/^[A-Za-z0-9_-]+$/, 'may only contain letters, digits, "_" and "-"');
const messageSchema = z.object({
  role: z.enum(['system', 'user', 'assistant']),
  content: z.string().max(200_000, 'must be at most 200000 characters'),
});

export const conversationSchema = z.object({
  id,
  title: z.string().max(200),
  model: z.string().max(200),
  systemPrompt: z.string().max(20_000),
  temperature: z.number().min(0).max(2),
  maxTokens: z.number().int().min(1).max(32_768),
  messages: z.array(messageSchema).max(2_000),
  answers: z.array(z.object({
    requestId: z.string(),
    model: z.string(),
    usage: z.object({ prompt_tokens: z.number(), completion_tokens: z.number(), total_tokens: z.number() }).nullable(),
    cost: z.any().nullable(),
    finishedAt: z.string(),
    stopped: z.boolean(),
  })).max(2_000),
  updatedAt: z.string(),
});

export const requestSchemas = {
  'status.get': z.object({}).strict(),
  'models.list': z.object({}).strict(),
  'chat.start': z.object({
    conversationId: id,
    model: z.string().min(1, 'pick a model first').max(200),
    systemPrompt: z.string().max(20_000).default(''),
    temperature: z.number().min(0, 'must be between 0 and 2').max(2, 'must be between 0 and 2'),
    maxTokens: z.number().int('must be a whole number').min(1, 'must be between 1 and 32768').max(32_768, 'must be between 1 and 32768'),
    messages: z.array(messageSchema).min(1, 'must contain at least one message').max(2_000),
  }).strict(),
  'chat.stop': z.object({ requestId: id }).strict(),
  'conversations.list': z.object({}).strict(),
  'conversations.save': z.object({ conversation: conversationSchema }).strict(),
  'conversations.delete': z.object({ id }).strict(),
  'wallet.get': z.object({}).strict(),
} as const;

export type RequestName = keyof typeof requestSchemas;
export type RequestArgs<N extends RequestName> = z.input<(typeof requestSchemas)[N]>;
export type ParsedArgs<N extends RequestName> = z.output<(typeof requestSchemas)[N]>;

export interface RequestResults {
  'status.get': AppStatus;
  'models.list': { id: string; workers: number }[];
  'chat.start': { requestId: string };
  'chat.stop': { stopped: boolean };
  'conversations.list': Conversation[];
  'conversations.save': { saved: true };
  'conversations.delete': { deleted: boolean };
  'wallet.get': WalletInfo;
}

export interface AppEvents {
  status: AppStatus;
  'chat.delta': { requestId: string; content: string };
  'chat.done': { requestId: string; stopped: boolean; answer: AnswerRecord; content: string };
  'chat.error': { requestId: string; message: string };
}
export type EventName = keyof AppEvents;
export const EVENT_NAMES: EventName[] = ['status', 'chat.delta', 'chat.done', 'chat.error'];

/** What preload puts on `window.cocoon` and what web mode's transport implements. */
export interface CocoonApi {
  call<N extends RequestName>(name: N, args: RequestArgs<N>): Promise<RequestResults[N]>;
  on<E extends EventName>(event: E, listener: (payload: AppEvents[E]) => void): () => void;
}

/** Error shape that crosses the boundary (IPC / HTTP): the CocoonError fields. */
export interface AppErrorPayload { code: string; message: string; hint?: string }

export const IPC_CALL_CHANNEL = 'cocoon:call';
export const IPC_EVENT_CHANNEL = 'cocoon:event';

export function isRequestName(name: unknown): name is RequestName {
  return typeof name === 'string' && Object.hasOwn(requestSchemas, name);
}

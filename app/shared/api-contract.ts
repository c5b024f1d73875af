import { z } from 'zod';
import type { ClientStatus } from '../../node-core/src/client/status.ts';
import type { CostBreakdown } from '../../node-core/src/payments/pricing.ts';
import type { CheckResult, DoctorReport } from '../../node-core/src/host/check.ts';
import type { GpuPlan } from '../../node-core/src/host/gpu-prep.ts';
import type { PciGpu } from '../../node-core/src/host/pci.ts';
import type { Finding, WhyReport } from '../../node-core/src/why/findings.ts';

/**
 * The app API contract: every request the renderer may make (name → argument schema → result
 * type) and every event main may push. Imported by main (validates arguments), the preload
 * (exposes exactly these), web mode (serves them over WebSocket) and the renderer (calls them).
 * Type-only imports from node-core keep the renderer free of Node code.
 */
export type { ClientStatus, CostBreakdown, CheckResult, DoctorReport, GpuPlan, PciGpu, Finding, WhyReport };

/** A chat turn as the app sends it: plain text only (the OpenAI wire form, with tools and parts, is node-core/src/inference/openai-types.ts). */
export const appChatMessageSchema = z.object({
  role: z.enum(['system', 'user', 'assistant']),
  content: z.string().max(200_000),
});

const usageSchema = z.object({
  prompt_tokens: z.number(), completion_tokens: z.number(), total_tokens: z.number(),
  prompt_tokens_details: z.object({ cached_tokens: z.number().optional() }).optional(),
  completion_tokens_details: z.object({ reasoning_tokens: z.number().optional() }).optional(),
});

/**
 * A message as a conversation keeps it. An assistant answer carries its state: `complete`, or
 * `stopped` (the user pressed Stop) / `interrupted` (the connection or the worker failed) with the
 * partial text it had — never a marker written into the text.
 */
export const storedMessageSchema = appChatMessageSchema.extend({
  usage: usageSchema.optional(),
  cost: z.record(z.string(), z.unknown()).optional(),
  at: z.string().optional(),
  status: z.enum(['complete', 'stopped', 'interrupted']).optional(),
  /** Why an interrupted answer ended, in words a person can act on. */
  error: z.string().max(2_000).optional(),
  reasoning: z.string().max(200_000).optional(),
  finishReason: z.string().max(64).nullable().optional(),
  model: z.string().max(256).optional(),
  /** Time to first token and total time, measured by the app from the request to the stream. */
  ttftMs: z.number().nonnegative().optional(),
  durationMs: z.number().nonnegative().optional(),
  /**
   * Where this answer sits in the client's cumulative charge: the client's counter right after it
   * (adjusted tokens, decimal). The cost viewer compares it with the signed and on-chain counters.
   */
  charge: z.object({ counter: z.string().regex(/^\d{1,30}$/) }).optional(),
});

export const conversationSchema = z.object({
  id: z.string().regex(/^[\w-]{1,64}$/),
  title: z.string().max(200),
  model: z.string().max(256),
  systemPrompt: z.string().max(20_000),
  temperature: z.number().min(0).max(2),
  maxTokens: z.number().int().min(1).max(32_768),
  messages: z.array(storedMessageSchema).max(10_000),
  updatedAt: z.string(),
});

export type ChatMessage = z.infer<typeof appChatMessageSchema>;
export type StoredMessage = z.infer<typeof storedMessageSchema>;
export type Conversation = z.infer<typeof conversationSchema>;

const tonAmount = z.string().regex(/^(?=.*[1-9])\d{1,9}(\.\d{1,9})?$/, 'must be a positive TON amount such as "15" or "0.5"');

const ptyId = z.string().regex(/^pty-\d{1,9}$/, 'must be a terminal id from pty.open');

/** What the owner sets for a worker before launch (the launcher's full config file carries more). */
export const workerConfigSchema = z.object({
  ownerAddress: z.string().min(1, 'the owner TON address is required').max(100),
  gpu: z.string().regex(/^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/, 'must be a PCI address such as 0000:41:00.0').nullable(),
  model: z.string().min(1).max(256),
});
export type WorkerConfigInput = z.infer<typeof workerConfigSchema>;

/** The network choice as the Settings screen sends it (main checks addresses and URLs in depth). */
const networkSettingsInput = z.object({
  name: z.enum(['local', 'testnet', 'mainnet']),
  endpoint: z.string().max(2_000).nullable().default(null),
  apiKey: z.string().max(200).nullable().default(null),
  rootAddress: z.string().max(100).nullable().default(null),
  /** Testnet/mainnet: the public https URL of the TON Connect manifest (phone wallets fetch it). */
  tonConnectManifestUrl: z.string().max(2_000).nullable().optional(),
}).strict();

const accountActionInput = z.object({
  amountTon: tonAmount,
  /** Mainnet: the user confirmed that real TON moves (asked once, before the first transaction). */
  confirmMainnet: z.boolean().optional(),
});

export const requestSchemas = {
  'status.get': z.tuple([]),
  'models.list': z.tuple([]),
  'chat.start': z.tuple([z.object({
    /** The answer is appended to this conversation by main when the stream ends, whatever the renderer does meanwhile. */
    conversationId: z.string().regex(/^[\w-]{1,64}$/),
    /** Messages to append to the stored conversation before the answer (the new prompt; none for a retry). */
    append: z.array(storedMessageSchema).max(4).default([]),
    model: z.string().min(1).max(256),
    messages: z.array(appChatMessageSchema).min(1).max(10_000),
    temperature: z.number().min(0).max(2),
    maxTokens: z.number().int().min(1).max(32_768),
  })]),
  'chat.stop': z.tuple([z.string().min(1).max(64)]),
  'conversations.list': z.tuple([]),
  'conversations.save': z.tuple([conversationSchema]),
  'conversations.delete': z.tuple([z.string().regex(/^[\w-]{1,64}$/)]),
  /** Keeps the first N messages: retry and regenerate drop the answer they replace. */
  'conversations.truncate': z.tuple([z.string().regex(/^[\w-]{1,64}$/), z.number().int().min(0).max(10_000)]),
  'wallet.get': z.tuple([]),
  /** The client's charge counters (own count, signed by the proxy, on chain), for the cost viewer's per-answer state. */
  'charges.get': z.tuple([]),
  'settings.get': z.tuple([]),
  'settings.set': z.tuple([z.object({
    backendUrl: z.string().url().max(2_000).refine((u) => /^https?:\/\//.test(u), 'must be an http(s) URL of an OpenAI-compatible engine').nullable().optional(),
    logLevel: z.enum(['error', 'warn', 'info', 'debug']).optional(),
    /** The TON network for the next start; main checks endpoint and root address for the network. */
    network: networkSettingsInput.optional(),
  }).strict()]),
  'logs.tail': z.tuple([z.object({ lines: z.number().int().min(1).max(2_000) })]),
  // Client-contract actions; amounts are decimal TON strings (up to 9 decimals), never floats.
  'account.stake': z.tuple([accountActionInput]),
  'account.topUp': z.tuple([accountActionInput]),
  'account.withdraw': z.tuple([accountActionInput]),
  /** What an action will ask the wallet to sign: amount, attached value, estimated fee, signer. Sends nothing. */
  'account.quote': z.tuple([z.object({ action: z.enum(['stake', 'topUp', 'withdraw']), amountTon: tonAmount })]),
  // TON Connect, run by main: the page shows the list, the QR code and the link, and the state.
  'wallet.session': z.tuple([]),
  'wallet.connect': z.tuple([z.object({ appName: z.string().regex(/^[\w.-]{1,64}$/, 'must be a wallet app_name from the wallet list') })]),
  'wallet.disconnect': z.tuple([]),
  // Owner economics: a worker's earnings (owner address typed, or the connected wallet's when null), claims, the proxy operator's contract.
  'economics.worker': z.tuple([z.object({ ownerAddress: z.string().min(1).max(100).nullable(), range: z.enum(['hour', 'day', 'week']) })]),
  'economics.claim': z.tuple([z.object({ ownerAddress: z.string().min(1).max(100).nullable() })]),
  'economics.proxy': z.tuple([]),
  'economics.proxy.act': z.tuple([z.object({ action: z.enum(['stake', 'withdraw', 'close']), amountTon: tonAmount.optional() })]),
  // Owner mode. The app never changes the host itself: GPU preparation is planned here and run by
  // the owner (sudo) in the embedded terminal.
  'owner.doctor': z.tuple([]),
  'owner.gpus': z.tuple([]),
  'owner.gpu.plan': z.tuple([z.object({ action: z.enum(['prepare', 'restore']), bdf: z.string().min(1).max(32) })]),
  'owner.config.check': z.tuple([workerConfigSchema]),
  'owner.td.status': z.tuple([]),
  'owner.td.start': z.tuple([workerConfigSchema]),
  'owner.td.stop': z.tuple([]),
  'owner.worker.stats': z.tuple([]),
  /** "Why can't my host join?": host, image allowlist, chain endpoint, proxies (the same report as `cocoon why`). */
  'owner.why': z.tuple([]),
  // The embedded terminal: a login shell of the local user, opened only when the owner asks.
  'pty.open': z.tuple([z.object({ cols: z.number().int().min(10).max(500), rows: z.number().int().min(4).max(200) })]),
  'pty.write': z.tuple([z.object({ id: ptyId, data: z.string().max(65_536) })]),
  'pty.resize': z.tuple([z.object({ id: ptyId, cols: z.number().int().min(10).max(500), rows: z.number().int().min(4).max(200) })]),
  'pty.close': z.tuple([ptyId]),
} as const;

export type RequestName = keyof typeof requestSchemas;

export interface ModelInfo {
  id: string;
  workers: number;
}

export interface ChatUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details?: { cached_tokens?: number };
  completion_tokens_details?: { reasoning_tokens?: number };
}

export interface WalletInfo {
  network: 'local' | 'testnet' | 'mainnet';
  /** Local mode: the built-in development wallet; otherwise TON Connect. */
  mode: 'development' | 'tonconnect';
  address: string | null;
  /** Balance of `address` on its chain, in TON (decimal string), when known. */
  balanceTon: string | null;
  /** Why client-contract actions (balance, top-up, withdraw) are not available, when they are not. */
  contractActionsDisabledReason: string | null;
  /** The developer's client contract at the proxy, when the chain layer is reachable. */
  clientAccount: ClientAccountInfo | null;
}

/**
 * The client's charges at its proxy, as `cocoon status --json` shows them under
 * `client.charged.{ledger,signed,onChain}`: counters (adjusted tokens) and their nanoTON, decimal.
 * `ledger` is the client's own count of what it received (what it can be charged for).
 */
export interface ChargesInfo {
  network: 'local' | 'testnet' | 'mainnet';
  contract: string;
  counters: { ledger: string; signed: string; onChain: string };
  nanoTon: { ledger: string; signed: string; onChain: string };
  /** Why the on-chain figures may be stale, when the chain could not be read. */
  chainError: string | null;
  readAt: string;
}

/** What the Settings screen shows; `restartRequired` when a saved change applies on the next start. */
export interface AppSettings {
  network: 'local' | 'testnet' | 'mainnet';
  /** The OpenAI-compatible base URL of the local client, for the developer's own code. */
  openaiBaseUrl: string;
  /** The key the OpenAI API requires (Authorization: Bearer), or null when it needs none. */
  apiKey: string | null;
  dataDir: string;
  /** The local network's inference backend: null is the built-in deterministic test engine. */
  backendUrl: string | null;
  /** The backend running now (may differ from `backendUrl` until the next start). */
  activeBackend: { kind: 'test-engine' | 'url'; url: string | null };
  logLevel: 'error' | 'warn' | 'info' | 'debug';
  logFile: string | null;
  restartRequired: boolean;
  /** The saved network (may differ from `network`, the running one, until the next start). */
  savedNetwork?: NetworkSettingsInfo;
}

export interface LogLine {
  time: string;
  level: string;
  source: string;
  message: string;
}

export interface ClientAccountInfo {
  contract: string;
  proxyContract: string;
  deployed: boolean;
  balanceTon: string;
  stakeTon: string;
  minStakeTon: string;
  chargedTon: string;
  /** After an action: the hash of what the wallet sent (hex), and who signed it. */
  lastTransaction?: { action: 'stake' | 'topUp' | 'withdraw'; hash: string; signer: string };
  /** The contract's latest transactions on chain, newest first (wallet.get only). */
  history?: Array<{ at: string; hash: string; action: string; valueTon: string; sentTon: string; ok: boolean }>;
}

/** Shown before the wallet is asked: nothing is sent by a quote. */
export interface AccountQuote {
  action: 'stake' | 'topUp' | 'withdraw';
  network: 'local' | 'testnet' | 'mainnet';
  /** The contract the messages go to. */
  contract: string;
  amountTon: string;
  /** Everything the wallet attaches (the amount plus the value paying the contract's work). */
  attachedTon: string;
  /** Estimated fee; what the contract does not spend comes back. */
  feeTon: string;
  /** Which wallet signs: the connected TON Connect wallet, or the local development wallet. */
  signer: string;
  /** Mainnet and not yet confirmed: the app asks before the first transaction. */
  needsMainnetConfirmation: boolean;
}

/** The TON Connect session as main holds it. */
export interface WalletSessionState {
  network: 'local' | 'testnet' | 'mainnet';
  state: 'disconnected' | 'connecting' | 'connected';
  /** The app's own wallet list for this network (local: the development wallet test double). */
  wallets: Array<{ appName: string; name: string; image: string }>;
  /** While connecting: the universal link to open in (or hand to) the wallet, and its QR code. */
  universalLink: string | null;
  qrDataUrl: string | null;
  /** The connected address, only after its ton_proof verified. */
  address: string | null;
  walletName: string | null;
  /** The network the wallet says it is on, in words. */
  walletNetwork: string | null;
  /** Why the last connection was refused, or a wrong-network warning. */
  error: string | null;
}

/** One worker's earnings: the proxy's signed side (from its ledger, when wired) and the chain's paid side. */
export interface WorkerEconomics {
  network: 'local' | 'testnet' | 'mainnet';
  owner: string;
  workerContract: string;
  proxyContract: string;
  deployed: boolean;
  /** Tokens served (ledger), or null when the proxy's ledger is not available to the app. */
  tokensServed: string | null;
  /** TON the proxy signed for this worker (latest signed payout), null without the ledger. */
  signedTon: string | null;
  /** TON paid to the worker contract on chain (its paid-tokens counter × the worker fee). */
  paidTon: string;
  /** Signed but not yet claimed on chain. */
  pendingTon: string | null;
  /** Usage per bucket of the chosen range (empty without the ledger). */
  series: Array<{ at: string; tokens: number; earnedTon: string }>;
  payouts: Array<{ signedAt: string; tokens: string; amountTon: string; claimed: boolean; hash: string | null }>;
  /** Whether "claim now" has something to submit, and if not why. */
  claimable: boolean;
  /** What the claim's wallet transfer attaches (processing, plus the deploy when the worker contract is new) and its estimated fee; unspent value returns. */
  claimAttachedTon?: string;
  claimFeeTon?: string;
  /** What is not available yet and why (e.g. the proxy's ledger is not connected). */
  notes: string[];
}

export interface ProxyEconomics {
  network: 'local' | 'testnet' | 'mainnet';
  contract: string | null;
  owner: string | null;
  deployed: boolean;
  state: 'running' | 'closing' | 'closed' | null;
  stakeTon: string;
  minStakeTon: string;
  /** The owner's earnings, withdrawable. */
  earningsTon: string;
  workerReserveTon: string;
  /** Client money the contract holds beyond stake, earnings and the worker reserve. */
  clientFundsTon: string;
  closeDelaySeconds: number;
  /** Closing: when the close completes (unix seconds), for the countdown. */
  unlockAt: number | null;
  /** Why actions are not available, when they are not. */
  disabledReason: string | null;
  /** What each action attaches beyond a stake amount, and the estimated fee (unspent value returns). */
  actionAttachedTon?: string;
  actionFeeTon?: string;
}

/** The saved network choice (applies on the next start); the API key is never sent back, only whether one is set. */
export interface NetworkSettingsInfo {
  name: 'local' | 'testnet' | 'mainnet';
  endpoint: string | null;
  apiKeySet: boolean;
  rootAddress: string | null;
  tonConnectManifestUrl: string | null;
}

export interface RequestResults {
  'status.get': ClientStatus;
  'models.list': ModelInfo[];
  'chat.start': { streamId: string };
  'chat.stop': { stopped: boolean };
  'conversations.list': Conversation[];
  'conversations.save': Conversation;
  'conversations.truncate': Conversation;
  'conversations.delete': { deleted: boolean };
  'wallet.get': WalletInfo;
  /** null when this app instance has no payment tracking (no chain, or settlement off). */
  'charges.get': ChargesInfo | null;
  'settings.get': AppSettings;
  'settings.set': AppSettings;
  'logs.tail': LogLine[];
  'account.stake': ClientAccountInfo;
  'account.topUp': ClientAccountInfo;
  'account.withdraw': ClientAccountInfo;
  'account.quote': AccountQuote;
  'wallet.session': WalletSessionState;
  'wallet.connect': WalletSessionState;
  'wallet.disconnect': WalletSessionState;
  'economics.worker': WorkerEconomics;
  'economics.claim': WorkerEconomics & { claimed: { hash: string; tokens: string; signer: string } };
  'economics.proxy': ProxyEconomics;
  'economics.proxy.act': ProxyEconomics & { sent: { action: 'stake' | 'withdraw' | 'close'; hash: string; signer: string } };
  'owner.doctor': DoctorReport & { hostRoot: string; at: string };
  'owner.gpus': Array<PciGpu & { ccMode: 'on' | 'off' | 'devtools' | null }>;
  'owner.gpu.plan': GpuPlan & { commandLine: string };
  'owner.config.check': WorkerConfigCheck;
  'owner.td.status': TdStatus;
  'owner.td.start': TdStatus;
  'owner.td.stop': TdStatus;
  'owner.worker.stats': WorkerDashboard;
  'owner.why': WhyReport & { at: string };
  'pty.open': { id: string; shell: string };
  'pty.write': { written: boolean };
  'pty.resize': { resized: boolean };
  'pty.close': { closed: boolean };
}

export interface WorkerConfigCheck {
  ok: boolean;
  /** Field → what is wrong with it. */
  errors: Record<string, string>;
  /** The owner address in its canonical user-friendly form, when valid. */
  ownerAddress: string | null;
  network: 'mainnet' | 'testnet' | null;
}

/** TD guest phases, in launch order; `unavailable` when this build has no launcher. */
export type TdPhase = 'unavailable' | 'stopped' | 'starting' | 'booted' | 'worker-connected' | 'serving' | 'stopping' | 'crashed';

export interface TdStatus {
  phase: TdPhase;
  /** Why the phase is what it is (crash reason, missing launcher…). */
  message: string | null;
  mode: 'tdx' | 'emulation' | null;
  pid: number | null;
  since: string;
  restarts: number;
  /** The worker's `/jsonstats` URL on the host (forwarded port) once it serves. */
  statsUrl: string | null;
}

/**
 * The TD guest launcher as owner mode needs it (main process side). The launcher module
 * (node-core/src/td) implements it; the app only starts, stops, watches state and console.
 */
export interface TdSupervisorApi {
  start(config: WorkerConfigInput): Promise<TdStatus>;
  stop(): Promise<TdStatus>;
  status(): TdStatus;
  /** The guest worker's latest `/jsonstats`, as the guest reports it on its console (no host port needed). */
  workerStats?(): Record<string, unknown> | null;
  onConsole(listener: (chunk: string) => void): () => void;
  onState(listener: (status: TdStatus) => void): () => void;
}

export interface WorkerDashboard {
  available: boolean;
  /** Why there are no numbers (no worker running, stats unreachable). */
  reason: string | null;
  phase: TdPhase;
  model: string | null;
  active: number;
  completed: number;
  failed: number;
  cancelled: number;
  /** Completed requests per second since the previous reading. */
  requestsPerSecond: number | null;
  /** Tokens per second since the previous reading, when the worker reports token counts. */
  tokensPerSecond: number | null;
  /** Tokens the worker generated since it started (its `tokens` counter), when it reports them. */
  tokens?: number | null;
  /** Each proxy link; `refusal` is the reason a proxy sent when it refused this worker's attestation. */
  proxies: Array<{ endpoint: string; connected: boolean; lastError?: string; refusal?: { code: string; reason: string } }>;
}

export type RequestArgs<N extends RequestName> = z.infer<(typeof requestSchemas)[N]>;

export interface AppEvents {
  status: ClientStatus;
  'chat.delta': { streamId: string; content?: string; reasoning?: string };
  /**
   * The stream ended: `message` is the assistant answer main appended to the conversation
   * (complete, stopped or interrupted with its partial text), or null when nothing was produced;
   * `error` says why it failed, in words a person can act on.
   */
  'chat.end': { streamId: string; conversationId: string; message: StoredMessage | null; error: string | null };
  'owner.td.state': TdStatus;
  'owner.td.console': { data: string };
  'pty.data': { id: string; data: string };
  'pty.exit': { id: string; exitCode: number };
  'wallet.session': WalletSessionState;
}

export type EventName = keyof AppEvents;

/** The one object the preload exposes as `window.cocoon` and web mode emulates. */
export interface CocoonApi {
  request<N extends RequestName>(name: N, ...args: RequestArgs<N>): Promise<RequestResults[N]>;
  on<E extends EventName>(event: E, listener: (payload: AppEvents[E]) => void): () => void;
}

// ---------------------------------------------------------------------------------------------
// Dispatch: main implements one handler per request, typed by this contract (no casts, no switch).

/** The handler of one request: its validated arguments in, its result out. */
export type RequestHandler<N extends RequestName> = (...args: RequestArgs<N>) => Promise<RequestResults[N]> | RequestResults[N];
/** Every request's handler; a missing or mistyped one is a compile error in main. */
export type RequestHandlers = { [N in RequestName]: RequestHandler<N> };
/** The handlers of one group of requests (`owner.`, `pty.`…), as the service owning that group provides them. */
export type HandlersFor<N extends RequestName> = { [K in N]: RequestHandler<K> };
/** The request names that start with `prefix`. */
export type RequestsIn<P extends string> = Extract<RequestName, `${P}${string}`>;

export const REQUEST_NAMES = Object.keys(requestSchemas) as RequestName[];

export function isRequestName(name: unknown): name is RequestName {
  return typeof name === 'string' && Object.hasOwn(requestSchemas, name);
}

// ---------------------------------------------------------------------------------------------
// The wire between the renderer and main: channels, frames and errors, for Electron IPC and the
// web-mode WebSocket alike.

/** Electron IPC channels: requests (invoke) and events (main → page). */
export const IPC_CHANNELS = { request: 'cocoon:request', event: 'cocoon:event' } as const;
/** Web mode: the WebSocket path (the access token rides in its `?token=`), and the largest frame accepted. */
export const WEB_API_PATH = '/api';
export const WEB_MAX_FRAME_BYTES = 1024 * 1024;

/** Errors that cross the boundary: a code a program can act on and a message a person can read. */
export interface ApiError {
  code: string;
  message: string;
}

/** The codes the transport itself uses (services add their own, e.g. `not_found`, `no_wallet`). */
export const TRANSPORT_ERRORS = {
  /** The frame is not JSON or not `{id, method, args}`. */
  badMessage: 'bad_message',
  /** The arguments do not match the request's schema; the message names the field. */
  badArguments: 'bad_arguments',
  unknownRequest: 'unknown_request',
  /** IPC from a frame that is not the app page. */
  forbidden: 'forbidden',
  /** The renderer lost its link to main (web mode). */
  disconnected: 'disconnected',
  /** A bug in main: the request failed in a way no handler anticipated. */
  internal: 'internal',
} as const;

/** Renderer → main (web mode): one request. IPC carries the same `method` and `args` as invoke arguments. */
export const requestFrameSchema = z.object({
  id: z.number().int().safe(),
  method: z.string().max(128),
  args: z.array(z.unknown()),
});
export type RequestFrame = z.infer<typeof requestFrameSchema>;

/** Main → renderer: the answer to a request (`id` null when the frame had no usable id). */
export type ReplyFrame = { id: number | null; result: unknown } | { id: number | null; error: ApiError };
/** Main → renderer: a pushed event. */
export type EventFrame = { [E in EventName]: { event: E; payload: AppEvents[E] } }[EventName];
/** What an IPC `invoke` resolves with (IPC has no ids of its own to carry). */
export type IpcReply = { result: unknown } | { error: ApiError };

/** The request names that start with `prefix`, at run time. */
export function requestsIn<P extends string>(prefix: P): Array<RequestsIn<P>> {
  return REQUEST_NAMES.filter((n): n is RequestsIn<P> => n.startsWith(prefix));
}

import { create } from 'zustand';
import { useEffect } from 'react';
import type { AppSettings, ChargesInfo, ClientStatus, Conversation, CostBreakdown, ModelInfo, StoredMessage, WalletInfo, ChatUsage } from '../../shared/api-contract.ts';
import { api, appLink, type LinkState } from './api.ts';

/**
 * One answer's accounting, as the client API reported it. A stopped or interrupted answer may
 * have no reported cost (`cost` and `usage` absent): it is listed, and says so.
 */
export interface CostRecord {
  at: string;
  model: string;
  conversation: string;
  status: 'complete' | 'stopped' | 'interrupted';
  usage?: ChatUsage;
  cost?: CostBreakdown;
  /** The client's charge counter right after this answer (see shared/charge-state.ts). */
  chargeMark?: string;
}

/** An answer on its way: text so far and timing, per conversation (several may stream at once). */
export interface LiveStream {
  streamId: string;
  content: string;
  reasoning: string;
  startedAt: number;
  firstTokenAt: number | null;
}

interface AppState {
  link: LinkState;
  status: ClientStatus | null;
  statusError: string | null;
  models: ModelInfo[];
  wallet: WalletInfo | null;
  /** The client's charge counters (own count, signed, on chain); null when this app does not track them. */
  charges: ChargesInfo | null;
  settings: AppSettings | null;
  conversations: Conversation[];
  /** Conversations that exist only in the renderer until their first message. */
  unsaved: string[];
  activeId: string | null;
  streams: Record<string, LiveStream>;
  drafts: Record<string, string>;
  chatErrors: Record<string, string>;
  load(): Promise<void>;
  newConversation(): void;
  select(id: string): void;
  setDraft(id: string, text: string): void;
  update(patch: Partial<Pick<Conversation, 'model' | 'systemPrompt' | 'temperature' | 'maxTokens'>>): void;
  remove(id: string): Promise<void>;
  send(text: string): Promise<boolean>;
  retry(): Promise<void>;
  continueAnswer(): Promise<void>;
  stop(): Promise<void>;
  dismissError(id: string): void;
  refreshCharges(): Promise<void>;
  saveSettings(patch: { backendUrl?: string | null; logLevel?: AppSettings['logLevel']; network?: { name: AppSettings['network']; endpoint: string | null; apiKey: string | null; rootAddress: string | null; tonConnectManifestUrl?: string | null } }): Promise<void>;
}

const DRAFTS_KEY = 'cocoon.drafts';
const newId = () => `c-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;

function blankConversation(model: string): Conversation {
  return { id: newId(), title: 'New conversation', model, systemPrompt: 'You are a helpful assistant.', temperature: 0.7, maxTokens: 512, messages: [], updatedAt: new Date().toISOString() };
}

function loadDrafts(): Record<string, string> {
  try {
    const parsed = JSON.parse(localStorage.getItem(DRAFTS_KEY) ?? '{}') as unknown;
    return parsed && typeof parsed === 'object' ? parsed as Record<string, string> : {};
  } catch {
    return {};
  }
}

/** Every answer with a cost, oldest first: the cost history survives reloads because answers do. */
export function costHistory(conversations: Conversation[]): CostRecord[] {
  const out: CostRecord[] = [];
  for (const c of conversations) {
    for (const m of c.messages) {
      if (m.role !== 'assistant') continue;
      const status = m.status ?? 'complete';
      const priced = m.cost && m.usage;
      if (!priced && status === 'complete') continue;
      out.push({
        at: m.at ?? c.updatedAt, model: m.model ?? c.model, conversation: c.title, status,
        ...(priced && { usage: m.usage!, cost: m.cost as unknown as CostBreakdown }), ...(m.charge && { chargeMark: m.charge.counter }),
      });
    }
  }
  return out.sort((a, b) => a.at.localeCompare(b.at));
}

/** The prompt the model sees: the system prompt, then the conversation as stored. */
function promptOf(c: Conversation, extra: StoredMessage[] = []) {
  return [
    ...(c.systemPrompt.trim() ? [{ role: 'system' as const, content: c.systemPrompt }] : []),
    ...[...c.messages, ...extra].filter((m) => m.content.trim() !== '').map((m) => ({ role: m.role, content: m.content })),
  ];
}

export const useApp = create<AppState>((set, get) => {
  const byId = (id: string | null) => get().conversations.find((c) => c.id === id) ?? null;
  const replace = (c: Conversation) => set({ conversations: get().conversations.map((x) => (x.id === c.id ? c : x)) });
  const setError = (id: string, message: string | null) => {
    const { [id]: _old, ...rest } = get().chatErrors;
    set({ chatErrors: message ? { ...rest, [id]: message } : rest });
  };
  const persistDrafts = () => {
    try {
      localStorage.setItem(DRAFTS_KEY, JSON.stringify(get().drafts));
    } catch { /* storage full or disabled: drafts stay in memory */ }
  };
  const ensureSaved = async (c: Conversation) => {
    if (!get().unsaved.includes(c.id)) return;
    await api.request('conversations.save', c);
    set({ unsaved: get().unsaved.filter((x) => x !== c.id) });
  };

  appLink.onLink((link) => {
    const was = get().link.state;
    set({ link });
    if (link.state !== 'connected') {
      // Answers in flight cannot finish while main is unreachable: keep their text visibly.
      for (const [cid, s] of Object.entries(get().streams)) {
        const c = byId(cid);
        if (c && (s.content || s.reasoning)) replace({ ...c, messages: [...c.messages, { role: 'assistant', content: s.content, reasoning: s.reasoning, status: 'interrupted', error: 'the connection to the app was lost', at: new Date().toISOString() }] });
      }
      set({ streams: {} });
    } else if (was !== 'connected') {
      // Back online: errors from the outage no longer describe the app's state.
      set({ chatErrors: {}, statusError: null });
      void get().load();
    }
  });

  api.on('status', (status) => {
    set({ status, statusError: null, models: status.models.map((m) => ({ id: m.id, workers: m.workers })) });
  });

  // Deltas can outrun the reply to chat.start; they wait here until the stream id is known.
  const early = new Map<string, Array<() => void>>();
  const streamOwner = (streamId: string) => Object.entries(get().streams).find(([, s]) => s.streamId === streamId)?.[0] ?? null;
  const whenKnown = (streamId: string, run: (cid: string) => void) => {
    const cid = streamOwner(streamId);
    if (cid) return run(cid);
    if (early.size > 64) early.clear();
    early.set(streamId, [...(early.get(streamId) ?? []), () => { const c = streamOwner(streamId); if (c) run(c); }]);
  };

  api.on('chat.delta', (d) => whenKnown(d.streamId, (cid) => {
    const s = get().streams[cid]!;
    set({ streams: { ...get().streams, [cid]: { ...s, firstTokenAt: s.firstTokenAt ?? performance.now(), content: s.content + (d.content ?? ''), reasoning: s.reasoning + (d.reasoning ?? '') } } });
  }));
  // The end is ONE state update (stream off + answer appended) so the composer never comes back
  // without the answer in place.
  api.on('chat.end', (d) => whenKnown(d.streamId, (cid) => {
    const { [cid]: _done, ...streams } = get().streams;
    const c = byId(cid);
    const conversations = c && d.message ? get().conversations.map((x) => (x.id === cid ? { ...c, messages: [...c.messages, d.message!], updatedAt: new Date().toISOString() } : x)) : get().conversations;
    const { [cid]: _e, ...chatErrors } = get().chatErrors;
    set({ streams, conversations, chatErrors: d.error && !d.message ? { ...chatErrors, [cid]: d.error } : chatErrors });
  }));

  const start = async (c: Conversation, append: StoredMessage[], prompt: ReturnType<typeof promptOf>) => {
    const model = c.model || get().models.find((m) => m.workers > 0)?.id;
    if (!model) {
      setError(c.id, 'No model is available: no worker is connected to the proxy yet.');
      return false;
    }
    setError(c.id, null);
    const pendingStream: LiveStream = { streamId: `pending-${Date.now()}`, content: '', reasoning: '', startedAt: performance.now(), firstTokenAt: null };
    set({ streams: { ...get().streams, [c.id]: pendingStream } });
    try {
      await ensureSaved(c);
      const { streamId } = await api.request('chat.start', { conversationId: c.id, append, model, messages: prompt, temperature: c.temperature, maxTokens: c.maxTokens });
      const s = get().streams[c.id];
      if (s) set({ streams: { ...get().streams, [c.id]: { ...s, streamId } } });
      for (const run of early.get(streamId) ?? []) run();
      early.delete(streamId);
      return true;
    } catch (e) {
      const { [c.id]: _s, ...streams } = get().streams;
      set({ streams });
      setError(c.id, (e as Error).message);
      return false;
    }
  };

  return {
    link: appLink.current(), status: null, statusError: null, models: [], wallet: null, charges: null, settings: null,
    conversations: [], unsaved: [], activeId: null, streams: {}, drafts: loadDrafts(), chatErrors: {},

    async load() {
      try {
        const [status, stored, wallet, settings] = await Promise.all([api.request('status.get'), api.request('conversations.list'), api.request('wallet.get'), api.request('settings.get')]);
        const models = await api.request('models.list').catch(() => status.models);
        // Conversations made here but not sent yet stay; main's copy wins for everything else.
        const local = get().conversations.filter((c) => get().unsaved.includes(c.id));
        const conversations = [...local, ...stored];
        const activeId = conversations.some((c) => c.id === get().activeId) ? get().activeId : conversations[0]?.id ?? null;
        set({ status, wallet, settings, models, conversations, activeId, statusError: null });
        if (conversations.length === 0) get().newConversation();
      } catch (e) {
        set({ statusError: (e as Error).message });
      }
    },

    newConversation() {
      const c = blankConversation(get().models.find((m) => m.workers > 0)?.id ?? get().models[0]?.id ?? '');
      set({ conversations: [c, ...get().conversations], unsaved: [...get().unsaved, c.id], activeId: c.id });
    },

    select(id) {
      set({ activeId: id });
    },

    setDraft(id, text) {
      set({ drafts: { ...get().drafts, [id]: text } });
      persistDrafts();
    },

    dismissError(id) {
      setError(id, null);
    },

    /** Re-reads the charge counters; when the chain's moved, the wallet's balances moved with it. */
    async refreshCharges() {
      if (get().link.state !== 'connected') return;
      try {
        const charges = await api.request('charges.get');
        const before = get().charges?.counters.onChain;
        set({ charges });
        if (charges && before !== undefined && charges.counters.onChain !== before) set({ wallet: await api.request('wallet.get') });
      } catch { /* the link state says why; the next poll tries again */ }
    },

    update(patch) {
      const c = byId(get().activeId);
      if (!c) return;
      const updated = { ...c, ...patch, updatedAt: new Date().toISOString() };
      replace(updated);
      if (!get().unsaved.includes(c.id)) void api.request('conversations.save', updated).catch((e: Error) => setError(c.id, `The change was not saved: ${e.message}`));
    },

    async remove(id) {
      if (!get().unsaved.includes(id)) await api.request('conversations.delete', id);
      const rest = get().conversations.filter((c) => c.id !== id);
      const { [id]: _d, ...drafts } = get().drafts;
      set({ conversations: rest, unsaved: get().unsaved.filter((x) => x !== id), drafts, activeId: get().activeId === id ? rest[0]?.id ?? null : get().activeId });
      persistDrafts();
      if (rest.length === 0) get().newConversation();
    },

    async send(text) {
      const c = byId(get().activeId);
      if (!c || get().streams[c.id]) return false;
      const prompt: StoredMessage = { role: 'user', content: text, at: new Date().toISOString() };
      const titled: Conversation = { ...c, title: c.messages.length === 0 ? text.slice(0, 60) : c.title, model: c.model || get().models.find((m) => m.workers > 0)?.id || '' };
      // Shown at once; main stores it before anything is sent. On failure the draft comes back.
      replace({ ...titled, messages: [...titled.messages, prompt] });
      const ok = await start(titled, [prompt], promptOf(titled, [prompt]));
      if (!ok) replace(titled);
      else get().setDraft(c.id, '');
      return ok;
    },

    /** Retry a stopped or failed answer, or regenerate a complete one: the last answer is replaced. */
    async retry() {
      const c = byId(get().activeId);
      if (!c || get().streams[c.id]) return;
      const last = c.messages.at(-1);
      const keep = last?.role === 'assistant' ? c.messages.length - 1 : c.messages.length;
      if (keep === 0) return;
      try {
        const truncated = get().unsaved.includes(c.id) ? { ...c, messages: c.messages.slice(0, keep) } : await api.request('conversations.truncate', c.id, keep);
        replace(truncated);
        await start(truncated, [], promptOf(truncated));
      } catch (e) {
        setError(c.id, (e as Error).message);
      }
    },

    /** Ask the model to go on from a stopped or cut-off answer; the request shows as a user turn. */
    async continueAnswer() {
      const c = byId(get().activeId);
      if (!c || get().streams[c.id]) return;
      const prompt: StoredMessage = { role: 'user', content: 'Continue exactly where you stopped.', at: new Date().toISOString() };
      replace({ ...c, messages: [...c.messages, prompt] });
      if (!(await start(c, [prompt], promptOf(c, [prompt])))) replace(c);
    },

    async stop() {
      const c = byId(get().activeId);
      const s = c ? get().streams[c.id] : undefined;
      if (s && !s.streamId.startsWith('pending-')) await api.request('chat.stop', s.streamId);
    },

    async saveSettings(patch) {
      set({ settings: await api.request('settings.set', patch) });
    },
  };
});

/**
 * The client's charge counters, re-read every `everyMs` while the calling component is shown
 * (the cost viewer and the wallet panel); the chain moves them without telling the page.
 */
export function useCharges(everyMs: number): ChargesInfo | null {
  const refreshCharges = useApp((s) => s.refreshCharges);
  useEffect(() => {
    void refreshCharges();
    const t = setInterval(() => void refreshCharges(), everyMs);
    return () => clearInterval(t);
  }, [refreshCharges, everyMs]);
  return useApp((s) => s.charges);
}

import { create } from 'zustand';
import type { ClientStatus, Conversation, CostBreakdown, ModelInfo, WalletInfo, ChatUsage } from '../../shared/api-contract.ts';
import { api } from './api.ts';

/** One answer's accounting, as the client API reported it. */
export interface CostRecord {
  at: string;
  model: string;
  usage: ChatUsage;
  cost: CostBreakdown;
}

interface AppState {
  status: ClientStatus | null;
  statusError: string | null;
  models: ModelInfo[];
  wallet: WalletInfo | null;
  conversations: Conversation[];
  activeId: string | null;
  streaming: { streamId: string; conversationId: string; content: string; reasoning: string } | null;
  chatError: string | null;
  costs: CostRecord[];
  load(): Promise<void>;
  newConversation(): void;
  select(id: string): void;
  update(patch: Partial<Pick<Conversation, 'model' | 'systemPrompt' | 'temperature' | 'maxTokens'>>): void;
  remove(id: string): Promise<void>;
  send(text: string): Promise<void>;
  stop(): Promise<void>;
}

const newId = () => `c-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;

function blankConversation(model: string): Conversation {
  return { id: newId(), title: 'New conversation', model, systemPrompt: 'You are a helpful assistant.', temperature: 0.7, maxTokens: 512, messages: [], updatedAt: new Date().toISOString() };
}

export const useApp = create<AppState>((set, get) => {
  const active = () => get().conversations.find((c) => c.id === get().activeId) ?? null;
  const persist = (c: Conversation) => api.request('conversations.save', c).catch((e: Error) => set({ chatError: `could not save the conversation: ${e.message}` }));
  const replace = (c: Conversation) => set({ conversations: get().conversations.map((x) => (x.id === c.id ? c : x)) });

  api.on('status', (status) => {
    set({ status, models: status.models.map((m) => ({ id: m.id, workers: m.workers })) });
  });
  // Events can outrun the reply to chat.start; they wait here until the stream id is known.
  const early = new Map<string, Array<() => void>>();
  const onStream = <T extends { streamId: string }>(handler: (d: T) => void) => (d: T) => {
    if (get().streaming?.streamId === d.streamId) return handler(d);
    if (get().streaming === null) early.set(d.streamId, [...(early.get(d.streamId) ?? []), () => handler(d)]);
  };
  const replayEarly = (streamId: string) => {
    for (const run of early.get(streamId) ?? []) run();
    early.clear();
  };

  api.on('chat.delta', onStream((d) => {
    const s = get().streaming;
    if (!s || s.streamId !== d.streamId) return;
    set({ streaming: { ...s, content: s.content + (d.content ?? ''), reasoning: s.reasoning + (d.reasoning ?? '') } });
  }));
  // Each stream end is ONE state update (streaming off + message appended), so the UI never shows
  // the composer back without the answer in place.
  api.on('chat.done', onStream((d) => {
    const s = get().streaming;
    if (!s || s.streamId !== d.streamId) return;
    const conv = get().conversations.find((c) => c.id === s.conversationId);
    const costs = [...get().costs, { at: new Date().toISOString(), model: conv?.model ?? '', usage: d.usage, cost: d.cost }];
    if (!conv) return set({ streaming: null, costs });
    const updated: Conversation = {
      ...conv,
      messages: [...conv.messages, { role: 'assistant', content: s.content, usage: d.usage, cost: d.cost as unknown as Record<string, unknown>, at: new Date().toISOString() }],
      updatedAt: new Date().toISOString(),
    };
    set({ streaming: null, costs, conversations: get().conversations.map((x) => (x.id === updated.id ? updated : x)) });
    void persist(updated);
  }));
  api.on('chat.error', onStream((d) => {
    const s = get().streaming;
    if (!s || s.streamId !== d.streamId) return;
    const conv = get().conversations.find((c) => c.id === s.conversationId);
    const chatError = d.message === 'stopped' ? null : d.message;
    if (!conv || !s.content) return set({ streaming: null, chatError });
    // Keep what arrived before the stop or failure, marked as partial.
    const updated: Conversation = { ...conv, messages: [...conv.messages, { role: 'assistant', content: `${s.content} [${d.message === 'stopped' ? 'stopped' : 'interrupted'}]`, at: new Date().toISOString() }], updatedAt: new Date().toISOString() };
    set({ streaming: null, chatError, conversations: get().conversations.map((x) => (x.id === updated.id ? updated : x)) });
    void persist(updated);
  }));

  return {
    status: null, statusError: null, models: [], wallet: null, conversations: [], activeId: null, streaming: null, chatError: null, costs: [],

    async load() {
      try {
        const [status, conversations, wallet] = await Promise.all([api.request('status.get'), api.request('conversations.list'), api.request('wallet.get')]);
        const models = await api.request('models.list').catch(() => status.models);
        set({ status, wallet, models, conversations, activeId: conversations[0]?.id ?? null, statusError: null });
        if (conversations.length === 0) get().newConversation();
      } catch (e) {
        set({ statusError: (e as Error).message });
      }
    },

    newConversation() {
      const c = blankConversation(get().models[0]?.id ?? '');
      set({ conversations: [c, ...get().conversations], activeId: c.id });
    },

    select(id) {
      set({ activeId: id, chatError: null });
    },

    update(patch) {
      const c = active();
      if (!c) return;
      const updated = { ...c, ...patch, updatedAt: new Date().toISOString() };
      replace(updated);
      void persist(updated);
    },

    async remove(id) {
      await api.request('conversations.delete', id);
      const rest = get().conversations.filter((c) => c.id !== id);
      set({ conversations: rest, activeId: rest[0]?.id ?? null });
      if (rest.length === 0) get().newConversation();
    },

    async send(text) {
      let c = active();
      if (!c || get().streaming) return;
      const model = c.model || get().models[0]?.id;
      if (!model) return set({ chatError: 'no model is available: no worker is connected to the proxy' });
      c = {
        ...c, model,
        title: c.messages.length === 0 ? text.slice(0, 60) : c.title,
        messages: [...c.messages, { role: 'user', content: text, at: new Date().toISOString() }],
        updatedAt: new Date().toISOString(),
      };
      replace(c);
      void persist(c);
      set({ chatError: null });
      const messages = [
        ...(c.systemPrompt.trim() ? [{ role: 'system' as const, content: c.systemPrompt }] : []),
        ...c.messages.map((m) => ({ role: m.role, content: m.content.replace(/ \[(stopped|interrupted)\]$/, '') })),
      ];
      try {
        const { streamId } = await api.request('chat.start', { model, messages, temperature: c.temperature, maxTokens: c.maxTokens });
        set({ streaming: { streamId, conversationId: c.id, content: '', reasoning: '' } });
        replayEarly(streamId);
      } catch (e) {
        set({ chatError: (e as Error).message });
      }
    },

    async stop() {
      const s = get().streaming;
      if (s) await api.request('chat.stop', s.streamId);
    },
  };
});

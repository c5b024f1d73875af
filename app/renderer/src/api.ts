import type { AppEvents, CocoonApi, EventName, RequestArgs, RequestName, RequestResults } from '../../shared/api-contract.ts';

/**
 * The renderer's only way to the app: `window.cocoon` from the Electron preload, or the same
 * contract over the web-mode WebSocket (the page's own origin; the access token travels in the
 * WebSocket URL, taken from the page's ?token=; web mode sets no cookie).
 */
declare global {
  interface Window {
    cocoon?: CocoonApi;
  }
}

function webSocketApi(): CocoonApi {
  const listeners = new Map<string, Set<(p: unknown) => void>>();
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  let nextId = 1;
  let socket: WebSocket;
  let ready: Promise<void>;

  const connect = () => {
    const token = new URLSearchParams(location.search).get('token');
    socket = new WebSocket(`ws://${location.host}/api${token ? `?token=${encodeURIComponent(token)}` : ''}`);
    ready = new Promise((resolve, reject) => {
      socket.onopen = () => resolve();
      socket.onerror = () => reject(new Error('cannot reach the Cocoon app (web mode); is `cocoon app --web` still running?'));
    });
    socket.onmessage = (ev) => {
      const msg = JSON.parse(String(ev.data)) as { id?: number; result?: unknown; error?: { message: string; code: string }; event?: string; payload?: unknown };
      if (msg.event) {
        for (const l of listeners.get(msg.event) ?? []) l(msg.payload);
        return;
      }
      const p = pending.get(msg.id ?? -1);
      if (!p) return;
      pending.delete(msg.id!);
      if (msg.error) p.reject(Object.assign(new Error(msg.error.message), { code: msg.error.code }));
      else p.resolve(msg.result);
    };
    socket.onclose = () => {
      for (const p of pending.values()) p.reject(new Error('connection to the app closed'));
      pending.clear();
      for (const l of listeners.get('__disconnected') ?? []) l(undefined);
    };
  };
  connect();

  return {
    async request<N extends RequestName>(name: N, ...args: RequestArgs<N>): Promise<RequestResults[N]> {
      await ready;
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
        socket.send(JSON.stringify({ id, method: name, args }));
      });
    },
    on<E extends EventName>(event: E, listener: (payload: AppEvents[E]) => void) {
      const set = listeners.get(event) ?? new Set();
      set.add(listener as (p: unknown) => void);
      listeners.set(event, set);
      return () => set.delete(listener as (p: unknown) => void);
    },
  };
}

export const api: CocoonApi = window.cocoon ?? webSocketApi();

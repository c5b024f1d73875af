import type { AppEvents, CocoonApi, EventFrame, EventName, ReplyFrame, RequestArgs, RequestFrame, RequestName, RequestResults, WEB_API_PATH } from '../../shared/api-contract.ts';

/**
 * The renderer's only way to the app: `window.cocoon` from the Electron preload, or the same
 * contract over the web-mode WebSocket (the page's own origin; the access token travels in the
 * WebSocket URL, taken from the page's ?token=; web mode sets no cookie).
 *
 * Web mode can lose its backend (Ctrl-C, crash, restart). The transport then fails every pending
 * request at once with a message, reports the link state, and reconnects with backoff; a refused
 * reconnect (the app restarted with another token) says what to do instead of retrying forever.
 */
declare global {
  interface Window {
    cocoon?: CocoonApi;
  }
}

export type LinkState =
  | { state: 'connected' }
  | { state: 'reconnecting'; attempt: number; reason: string }
  | { state: 'refused'; reason: string };

export interface AppLink {
  api: CocoonApi;
  onLink(listener: (s: LinkState) => void): () => void;
  current(): LinkState;
}

/** The contract's WebSocket path, spelled out (the renderer imports types only); drift is a compile error. */
const API_PATH: typeof WEB_API_PATH = '/api';

const LOST = 'The connection to the Cocoon app was lost (was `cocoon app --web` stopped?). Reconnecting…';

function webSocketLink(): AppLink {
  const listeners = new Map<string, Set<(p: unknown) => void>>();
  const linkListeners = new Set<(s: LinkState) => void>();
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  let nextId = 1;
  let socket: WebSocket | null = null;
  let link: LinkState = { state: 'reconnecting', attempt: 0, reason: 'connecting' };
  let opened: Promise<void>;
  let markOpen: () => void = () => undefined;
  const resetOpened = () => { opened = new Promise((r) => { markOpen = r; }); };
  resetOpened();

  const setLink = (s: LinkState) => {
    link = s;
    for (const l of linkListeners) l(s);
  };

  const failPending = (reason: string) => {
    for (const p of pending.values()) p.reject(Object.assign(new Error(reason), { code: 'disconnected' }));
    pending.clear();
  };

  const connect = (attempt: number) => {
    const token = new URLSearchParams(location.search).get('token');
    const ws = new WebSocket(`ws://${location.host}${API_PATH}${token ? `?token=${encodeURIComponent(token)}` : ''}`);
    socket = ws;
    let wasOpen = false;
    ws.onopen = () => {
      wasOpen = true;
      setLink({ state: 'connected' });
      markOpen();
    };
    ws.onmessage = (ev) => {
      let msg: ReplyFrame | EventFrame;
      try {
        msg = JSON.parse(String(ev.data)) as ReplyFrame | EventFrame;
      } catch {
        return;
      }
      if ('event' in msg) {
        for (const l of listeners.get(msg.event) ?? []) l(msg.payload);
        return;
      }
      const p = msg.id === null ? undefined : pending.get(msg.id);
      if (!p || msg.id === null) return;
      pending.delete(msg.id);
      if ('error' in msg) p.reject(Object.assign(new Error(msg.error.message), { code: msg.error.code }));
      else p.resolve(msg.result);
    };
    ws.onclose = () => {
      if (socket !== ws) return;
      socket = null;
      resetOpened();
      failPending(LOST);
      if (!wasOpen && attempt >= 2) {
        // The server is up but refuses the upgrade (a restart issues a new token), or is gone.
        void probe().then((refusal) => {
          if (refusal) return setLink({ state: 'refused', reason: refusal });
          schedule(attempt + 1);
        });
        return;
      }
      schedule(attempt + 1);
    };
  };

  const schedule = (attempt: number) => {
    setLink({ state: 'reconnecting', attempt, reason: LOST });
    const delay = Math.min(5_000, 250 * 2 ** Math.min(attempt, 5)) * (0.8 + Math.random() * 0.4);
    setTimeout(() => connect(attempt), delay);
  };

  /** Tells a server that refuses us apart from one that is down. */
  async function probe(): Promise<string | null> {
    try {
      const token = new URLSearchParams(location.search).get('token') ?? '';
      const res = await fetch(`/?token=${encodeURIComponent(token)}`, { cache: 'no-store' });
      if (res.status === 401 || res.status === 403) {
        return 'The Cocoon app was restarted and no longer accepts this page\'s access token. Open the URL the app printed when it started (`cocoon app --web` prints it; `--json` too).';
      }
      return null;
    } catch {
      return null;
    }
  }

  connect(0);

  const api: CocoonApi = {
    async request<N extends RequestName>(name: N, ...args: RequestArgs<N>): Promise<RequestResults[N]> {
      if (link.state === 'refused') throw Object.assign(new Error(link.reason), { code: 'disconnected' });
      // A request made while the link is down waits for it briefly instead of vanishing.
      const ready = await Promise.race([opened.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 5_000))]);
      if (!ready || !socket || socket.readyState !== WebSocket.OPEN) throw Object.assign(new Error(LOST), { code: 'disconnected' });
      const id = nextId++;
      const ws = socket;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
        const frame: RequestFrame = { id, method: name, args };
        ws.send(JSON.stringify(frame));
      });
    },
    on<E extends EventName>(event: E, listener: (payload: AppEvents[E]) => void) {
      const set = listeners.get(event) ?? new Set();
      set.add(listener as (p: unknown) => void);
      listeners.set(event, set);
      return () => set.delete(listener as (p: unknown) => void);
    },
  };
  return {
    api,
    onLink(listener) {
      linkListeners.add(listener);
      return () => linkListeners.delete(listener);
    },
    current: () => link,
  };
}

/** Electron: IPC to main cannot drop while the window lives. */
function electronLink(api: CocoonApi): AppLink {
  return { api, onLink: () => () => undefined, current: () => ({ state: 'connected' }) };
}

export const appLink: AppLink = window.cocoon ? electronLink(window.cocoon) : webSocketLink();
export const api: CocoonApi = appLink.api;

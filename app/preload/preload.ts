import { contextBridge, ipcRenderer } from 'electron';
import type { CocoonApi } from '../shared/api-contract.ts';

/**
 * Exposes exactly the app API contract as `window.cocoon`: one request function and one event
 * subscription. No Node or Electron object crosses into the renderer.
 */
const api: CocoonApi = {
  async request(name, ...args) {
    const reply = (await ipcRenderer.invoke('cocoon:request', name, args)) as { result?: unknown; error?: { code: string; message: string } };
    if (reply.error) throw Object.assign(new Error(reply.error.message), { code: reply.error.code });
    return reply.result as never;
  },
  on(event, listener) {
    const handler = (_e: unknown, name: string, payload: unknown) => {
      if (name === event) listener(payload as never);
    };
    ipcRenderer.on('cocoon:event', handler);
    return () => ipcRenderer.off('cocoon:event', handler);
  },
};

contextBridge.exposeInMainWorld('cocoon', api);

import { contextBridge, ipcRenderer } from 'electron';
import type { CocoonApi, IPC_CHANNELS, IpcReply } from '../shared/api-contract.ts';

/**
 * Exposes exactly the app API contract as `window.cocoon`: one request function and one event
 * subscription. No Node or Electron object crosses into the renderer.
 */
// The contract's channel names, spelled out (a value import would bundle zod into the preload);
// the type makes any drift from the contract a compile error.
const CHANNELS: typeof IPC_CHANNELS = { request: 'cocoon:request', event: 'cocoon:event' };

const api: CocoonApi = {
  async request(name, ...args) {
    const reply = (await ipcRenderer.invoke(CHANNELS.request, name, args)) as IpcReply;
    if ('error' in reply) throw Object.assign(new Error(reply.error.message), { code: reply.error.code });
    return reply.result as never;
  },
  on(event, listener) {
    const handler = (_e: unknown, name: string, payload: unknown) => {
      if (name === event) listener(payload as never);
    };
    ipcRenderer.on(CHANNELS.event, handler);
    return () => ipcRenderer.off(CHANNELS.event, handler);
  },
};

contextBridge.exposeInMainWorld('cocoon', api);

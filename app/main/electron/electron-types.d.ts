// Minimal typings for the parts of Electron this app uses. The `electron` npm package (which ships
// the real typings) is optional because its binary cannot be installed on every machine; these
// declarations keep `tsc --noEmit` strict without it. Keep them in step with what main.ts and the
// preload call.
declare module 'electron' {
  interface WebContents {
    send(channel: string, ...args: unknown[]): void;
    on(event: 'will-navigate', listener: (event: { preventDefault(): void }, url: string) => void): void;
    setWindowOpenHandler(handler: (details: { url: string }) => { action: 'deny' | 'allow' }): void;
  }
  export class BrowserWindow {
    constructor(options: Record<string, unknown>);
    webContents: WebContents;
    loadFile(path: string): Promise<void>;
    loadURL(url: string): Promise<void>;
    focus(): void;
    static getAllWindows(): BrowserWindow[];
  }
  export const app: {
    requestSingleInstanceLock(): boolean;
    quit(): void;
    exit(code: number): void;
    whenReady(): Promise<void>;
    on(event: 'second-instance' | 'window-all-closed', listener: () => void): void;
    on(event: 'before-quit', listener: (event: { preventDefault(): void }) => void): void;
  };
  export interface WebFrameMain {
    url: string;
    parent: WebFrameMain | null;
  }
  export interface IpcMainInvokeEvent {
    senderFrame: WebFrameMain | null;
  }
  export const ipcMain: { handle(channel: string, listener: (event: IpcMainInvokeEvent, ...args: unknown[]) => unknown): void };
  export const protocol: {
    registerSchemesAsPrivileged(schemes: Array<{ scheme: string; privileges: Record<string, boolean> }>): void;
    handle(scheme: string, handler: (request: Request) => Response | Promise<Response>): void;
  };
  export const ipcRenderer: {
    invoke(channel: string, ...args: unknown[]): Promise<unknown>;
    on(channel: string, listener: (event: unknown, ...args: never[]) => void): void;
    off(channel: string, listener: (event: unknown, ...args: never[]) => void): void;
  };
  export const contextBridge: { exposeInMainWorld(key: string, api: unknown): void };
  export const shell: { openExternal(url: string): Promise<void> };
  export const session: {
    defaultSession: {
      setPermissionRequestHandler(handler: (webContents: unknown, permission: string, callback: (granted: boolean) => void) => void): void;
      webRequest: {
        onHeadersReceived(listener: (details: { responseHeaders?: Record<string, string[]> }, callback: (response: { responseHeaders: Record<string, string[]> }) => void) => void): void;
      };
    };
  };
  export const Menu: { setApplicationMenu(menu: unknown): void; buildFromTemplate(template: Array<Record<string, unknown>>): unknown };
}

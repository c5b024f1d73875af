import { app, BrowserWindow, ipcMain, Menu, protocol, session, shell } from 'electron';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { startLocalNetwork } from '../../../node-core/src/network/local-network.ts';
import { errorMessage } from '../../../node-core/src/errors.ts';
import { cocoonHome } from '../../../node-core/src/cocoon-home.ts';
import { tuneHeap } from '../../../node-core/src/heap-tuning.ts';
import { contentSecurityPolicy } from '../security.ts';
import { SettingsStore } from '../services/settings-store.ts';
import { checkNetworkSettings, LOCAL_NETWORK_SETTINGS } from '../services/network-settings.ts';
import type { WalletSession } from '../services/wallet-session.ts';
import { startMoneyServices } from '../services/money-services.ts';
import { APP_SETTLEMENT_POLICY, localPaymentViews } from '../services/local-payments.ts';
import { APP_ENTRY, APP_SCHEME, isTrustedSender, serveAppRequest } from './renderer-origin.ts';
import { AppService } from '../services/app-service.ts';
import { toApiError } from '../services/user-errors.ts';
import { IPC_CHANNELS, TRANSPORT_ERRORS, type IpcReply } from '../../shared/api-contract.ts';
import { OwnerService } from '../services/owner-service.ts';
import { createTdAdapter } from '../services/td-adapter.ts';
import { PtyService } from '../services/pty-service.ts';

/**
 * Electron main process, kept thin: one window, a menu, single-instance lock, the services
 * started with the app and stopped with it. All behaviour lives in AppService, shared with web
 * mode; IPC here only forwards validated calls and events.
 */
// A second launch only focuses the first window (see 'second-instance'); it must not start a
// second network, so it exits before any service starts.
const primaryInstance = app.requestSingleInstanceLock();
// The renderer's own origin (app://cocoon), registered before 'ready' as Electron requires.
protocol.registerSchemesAsPrivileged([{ scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } }]);
if (!primaryInstance) app.exit(0);
// The local network's roles run in this process (heap-tuning.ts).
tuneHeap();

const appDataDir = join(cocoonHome(), 'app');
mkdirSync(appDataDir, { recursive: true });
// A desktop app has no terminal to read stderr from: logs go to <data dir>/app/app.log.
const log = pino({ name: 'app', level: process.env.COCOON_LOG_LEVEL ?? 'info' }, pino.destination({ dest: join(appDataDir, 'app.log'), mkdir: true }));
let service: AppService | null = null;
let stopNetwork: (() => Promise<void>) | null = null;
let walletSession: WalletSession | null = null;
// The TON network chosen in Settings applies from start to quit: it fixes the CSP and the wallet session.
const tonNetwork = await new SettingsStore(appDataDir).read().then((s) => checkNetworkSettings(s.network)).catch((err: unknown) => {
  log.error({ err: errorMessage(err) }, 'the saved network settings are invalid; running on the local network');
  return LOCAL_NETWORK_SETTINGS;
});

async function createWindow(): Promise<void> {
  const chainDataDir = join(appDataDir, 'chain');
  const network = await startLocalNetwork({ log, tokenDelayMs: 15, chainDataDir, openClientContract: false, settlementPolicy: APP_SETTLEMENT_POLICY }); // the app opens the client contract from the wallet panel
  stopNetwork = network.stop;
  const views = localPaymentViews(network);
  const money = await startMoneyServices({ tonNetwork, localChain: network.chain ?? null, chainDataDir, appDataDir, log: log as never, ...(views.earningsLedger && { earningsLedger: views.earningsLedger }) });
  walletSession = money.walletSession;
  // The window is the local user's own: the terminal is on, owner mode reads $COCOON_HOST_ROOT or /.
  // The TD launcher: $COCOON_TD_CONFIG (a worker config file), else the development guest on this local network.
  const td = createTdAdapter({
    ...(process.env.COCOON_TD_CONFIG && { configFile: process.env.COCOON_TD_CONFIG }), log: log.child({ source: 'td' }),
    localNetwork: { proxyWorkerPort: network.proxy.workerEndpoint.port, engineUrl: network.engine?.url ?? null, rootAddress: network.chain?.rootAddress ?? null, chainEndpoint: network.chain?.endpoint ?? null },
  });
  stopNetwork = async () => { await td.close().catch(() => undefined); await network.stop(); };
  const owner = new OwnerService({ hostRoot: process.env.COCOON_HOST_ROOT ?? '/', network: 'local', td });
  const pty = new PtyService({ enabled: true });
  service = new AppService({ openaiUrl: network.openaiUrl, apiKey: network.apiKey, client: network.client, dataDir: appDataDir, network: tonNetwork.name, logFile: join(appDataDir, 'app.log'), owner, pty, ...money.options, ...(views.charges && { charges: views.charges }) });

  ipcMain.handle(IPC_CHANNELS.request, async (e, name: unknown, args: unknown): Promise<IpcReply> => {
    if (!isTrustedSender(e.senderFrame)) {
      log.warn({ frame: e.senderFrame?.url }, 'IPC from a frame that is not the app page; refused');
      return { error: { code: TRANSPORT_ERRORS.forbidden, message: 'IPC is answered for the app page only' } };
    }
    try {
      return { result: await service!.handle(String(name), args) };
    } catch (err) {
      return { error: toApiError(err) };
    }
  });

  const win = new BrowserWindow({
    width: 1280, height: 820, title: 'Cocoon Desktop',
    webPreferences: { preload: join(import.meta.dirname, 'preload.cjs'), contextIsolation: true, sandbox: true, nodeIntegration: false, webSecurity: true },
  });
  service.on('event', (event: string, payload: unknown) => win.webContents.send(IPC_CHANNELS.event, event, payload));
  // Bundled, this file is dist/electron/main.mjs; the renderer build sits beside it in dist/renderer.
  const rendererDir = join(import.meta.dirname, '..', 'renderer');
  protocol.handle(APP_SCHEME, (request) => {
    const r = serveAppRequest(request.url, rendererDir, contentSecurityPolicy(tonNetwork.name));
    return new Response(new Uint8Array(r.body), { status: r.status, headers: r.headers });
  });
  // Navigation and new windows are blocked; external links open in the system browser.
  win.webContents.on('will-navigate', (e) => e.preventDefault());
  win.webContents.setWindowOpenHandler(({ url }) => {
    if (url.startsWith('https://')) void shell.openExternal(url);
    return { action: 'deny' };
  });
  await win.loadURL(APP_ENTRY);
}

if (primaryInstance) app.whenReady().then(() => {
  session.defaultSession.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));
  session.defaultSession.webRequest.onHeadersReceived((details, cb) => cb({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [contentSecurityPolicy(tonNetwork.name)] } }));
  Menu.setApplicationMenu(Menu.buildFromTemplate([{ role: 'fileMenu' }, { role: 'editMenu' }, { role: 'viewMenu' }, { role: 'windowMenu' }]));
  return createWindow();
}).catch((err) => {
  log.error({ err }, 'app failed to start');
  app.exit(1);
});

app.on('second-instance', () => BrowserWindow.getAllWindows()[0]?.focus());
app.on('window-all-closed', () => app.quit());
// Quit waits for the node services to stop so ports and the chain's lock are released.
app.on('before-quit', (event) => {
  const stop = stopNetwork;
  if (!stop) return;
  event.preventDefault();
  stopNetwork = null;
  service?.close();
  void walletSession?.close();
  stop().catch((err: unknown) => log.error({ err }, 'stopping the local network failed')).finally(() => app.quit());
});

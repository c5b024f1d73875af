import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { checkNetworkSettings, LOCAL_NETWORK_SETTINGS, networkSettingsSchema, type NetworkSettings } from './network-settings.ts';

/**
 * The app's own settings (`<data dir>/settings.json`): the local network's inference backend and
 * the log level. Read at start by web mode and Electron; the Settings screen writes them. A file
 * that does not validate is reported, never silently replaced by defaults.
 */
export const savedSettingsSchema = z.object({
  backendUrl: z.string().url().nullable().default(null),
  logLevel: z.enum(['error', 'warn', 'info', 'debug']).default('info'),
  /** The TON network for the next start (local: the embedded chain). */
  network: networkSettingsSchema.default(LOCAL_NETWORK_SETTINGS),
  /** Mainnet: the user confirmed once that transactions move real TON. */
  mainnetConfirmed: z.boolean().default(false),
});
export type SavedSettings = z.infer<typeof savedSettingsSchema>;

export class SettingsStore {
  readonly file: string;

  constructor(dataDir: string) {
    this.file = join(dataDir, 'settings.json');
  }

  async read(): Promise<SavedSettings> {
    let raw: unknown = {};
    try {
      raw = JSON.parse(await readFile(this.file, 'utf8'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return savedSettingsSchema.parse({});
      throw new Error(`${this.file} is not valid JSON (${(err as Error).message}); fix or delete it`);
    }
    const parsed = savedSettingsSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new Error(`${this.file}: ${issue.path.join('.') || '(file)'}: ${issue.message}; fix or delete it`);
    }
    return parsed.data;
  }

  async update(patch: Partial<Omit<SavedSettings, 'network'>> & { network?: NetworkSettings | undefined }): Promise<SavedSettings> {
    // A network change is checked in depth (https endpoint, root address of that network) before it is saved.
    if (patch.network) patch = { ...patch, network: checkNetworkSettings(patch.network) };
    const next = savedSettingsSchema.parse({ ...(await this.read()), ...Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)) });
    await mkdir(join(this.file, '..'), { recursive: true });
    // Mode 0600: the file may hold the TON API key.
    await writeFile(`${this.file}.tmp`, JSON.stringify(next, null, 2) + '\n', { mode: 0o600 });
    await rename(`${this.file}.tmp`, this.file);
    return next;
  }
}

import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { conversationSchema, type Conversation } from '../../shared/api-contract.ts';

/**
 * Conversations persisted in the app's data directory as one JSON file, written atomically
 * (temp file + rename) so a crash mid-write never loses the previous state.
 */
export class ConversationStore {
  private readonly file: string;
  private cache: Map<string, Conversation> | null = null;

  constructor(private readonly dataDir: string) {
    this.file = join(dataDir, 'conversations.json');
  }

  async list(): Promise<Conversation[]> {
    const all = await this.load();
    return [...all.values()].sort((a, b) => b.updatedAt.localeCompare(a.updatedAt));
  }

  async save(conversation: Conversation): Promise<void> {
    const all = await this.load();
    all.set(conversation.id, conversation);
    await this.persist(all);
  }

  async delete(id: string): Promise<boolean> {
    const all = await this.load();
    const existed = all.delete(id);
    if (existed) await this.persist(all);
    return existed;
  }

  private async load(): Promise<Map<string, Conversation>> {
    if (this.cache) return this.cache;
    let raw: unknown = [];
    try {
      raw = JSON.parse(await readFile(this.file, 'utf8'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        // A damaged file is kept aside, not overwritten, so nothing is silently lost.
        await rename(this.file, `${this.file}.damaged-${Date.now()}`).catch(() => undefined);
      }
    }
    const list = Array.isArray(raw) ? raw : [];
    this.cache = new Map(list.flatMap((c) => {
      const parsed = conversationSchema.safeParse(c);
      return parsed.success ? [[parsed.data.id, parsed.data] as const] : [];
    }));
    return this.cache;
  }

  private async persist(all: Map<string, Conversation>): Promise<void> {
    await mkdir(this.dataDir, { recursive: true });
    const tmp = `${this.file}.tmp`;
    await writeFile(tmp, JSON.stringify([...all.values()]));
    await rename(tmp, this.file);
  }
}

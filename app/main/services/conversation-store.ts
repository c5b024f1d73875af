import { appendFile, mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CocoonError } from '../../../node-core/src/errors.ts';
import { conversationSchema, storedMessageSchema, type Conversation, type StoredMessage } from '../../shared/api-contract.ts';

/**
 * Conversations persisted by main, one JSON-lines file per conversation under
 * `<data dir>/conversations/`: a `meta` line, then one `msg` line per message. An answer is
 * appended as one line when its stream ends (main saw every delta, so the renderer never has to
 * send the whole conversation back); settings edits and truncations rewrite only that one small
 * file, atomically (temp file + rename). A damaged line is skipped, never the whole history.
 */
type Meta = Omit<Conversation, 'messages'>;

/** A request for a conversation that is gone (deleted in another window, or never existed). */
function missing(id: string): CocoonError {
  return new CocoonError('not_found', `conversation ${id} does not exist (it may have been deleted); start a new one`);
}
type Line = { t: 'meta'; meta: Meta } | { t: 'msg'; msg: StoredMessage };

const metaSchema = conversationSchema.omit({ messages: true });

export class ConversationStore {
  private readonly dir: string;
  /**
   * Every conversation, read once. The promise is shared: two calls at start (the page's list and
   * a status read) must not both read the folder while the first is still importing the legacy
   * file, or the second would see half of it and replace the list with that half.
   */
  private loaded: Promise<Map<string, Conversation>> | null = null;
  /** Writes to one conversation are serialised so an append never interleaves with a rewrite. */
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(private readonly dataDir: string) {
    this.dir = join(dataDir, 'conversations');
  }

  async list(): Promise<Conversation[]> {
    const all = await this.load();
    return [...all.values()].sort((a, b) => b.updatedAt.localeCompare(a.updatedAt));
  }

  async get(id: string): Promise<Conversation | null> {
    return (await this.load()).get(id) ?? null;
  }

  /**
   * Creates a conversation, or updates its settings and title. Messages are owned by main once a
   * conversation exists (appended per answer), so a stale copy from the renderer can never drop an
   * answer that arrived meanwhile; only a new conversation takes the messages it is given.
   */
  async save(conversation: Conversation): Promise<Conversation> {
    const all = await this.load();
    const existing = all.get(conversation.id);
    const next: Conversation = existing ? { ...conversation, messages: existing.messages } : conversation;
    all.set(next.id, next);
    await this.serial(next.id, () => this.rewrite(next));
    return next;
  }

  /** Appends messages (a user prompt, an answer) with one write; bumps `updatedAt`. */
  async append(id: string, messages: StoredMessage[]): Promise<Conversation> {
    const all = await this.load();
    const existing = all.get(id);
    if (!existing) throw missing(id);
    const updatedAt = new Date().toISOString();
    const next: Conversation = { ...existing, updatedAt, messages: [...existing.messages, ...messages] };
    all.set(id, next);
    const { messages: _m, ...meta } = next;
    const lines = [...messages.map((msg): Line => ({ t: 'msg', msg })), { t: 'meta', meta } as Line];
    await this.serial(id, () => appendFile(this.file(id), lines.map((l) => JSON.stringify(l)).join('\n') + '\n'));
    return next;
  }

  /** Keeps the first `keep` messages (regenerate / retry drop the answer they replace). */
  async truncate(id: string, keep: number): Promise<Conversation> {
    const all = await this.load();
    const existing = all.get(id);
    if (!existing) throw missing(id);
    const next: Conversation = { ...existing, messages: existing.messages.slice(0, keep), updatedAt: new Date().toISOString() };
    all.set(id, next);
    await this.serial(id, () => this.rewrite(next));
    return next;
  }

  async delete(id: string): Promise<boolean> {
    const all = await this.load();
    const existed = all.delete(id);
    if (existed) await this.serial(id, () => rm(this.file(id), { force: true }));
    return existed;
  }

  private file(id: string): string {
    return join(this.dir, `${id}.jsonl`);
  }

  private serial<T>(id: string, write: () => Promise<T>): Promise<T> {
    const run = (this.queues.get(id) ?? Promise.resolve()).then(async () => {
      await mkdir(this.dir, { recursive: true });
      return write();
    });
    this.queues.set(id, run.catch(() => undefined));
    return run;
  }

  private async rewrite(c: Conversation): Promise<void> {
    const { messages, ...meta } = c;
    const lines: Line[] = [{ t: 'meta', meta }, ...messages.map((msg): Line => ({ t: 'msg', msg }))];
    const tmp = `${this.file(c.id)}.tmp`;
    await writeFile(tmp, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    await rename(tmp, this.file(c.id));
  }

  private load(): Promise<Map<string, Conversation>> {
    this.loaded ??= this.readAll().catch((err: unknown) => {
      this.loaded = null; // a failed read is tried again by the next call
      throw err;
    });
    return this.loaded;
  }

  private async readAll(): Promise<Map<string, Conversation>> {
    const all = new Map<string, Conversation>();
    let names: string[] = [];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    for (const name of names.filter((n) => n.endsWith('.jsonl'))) {
      const c = parseConversation(await readFile(join(this.dir, name), 'utf8'));
      if (c) all.set(c.id, c);
    }
    for (const c of await this.importLegacy()) if (!all.has(c.id)) all.set(c.id, c);
    return all;
  }

  /** The first slice kept every conversation in one `conversations.json`: import it once, keep the old file aside. */
  private async importLegacy(): Promise<Conversation[]> {
    const legacy = join(this.dataDir, 'conversations.json');
    let raw: unknown;
    try {
      raw = JSON.parse(await readFile(legacy, 'utf8'));
    } catch {
      return [];
    }
    const imported = (Array.isArray(raw) ? raw : []).flatMap((c) => {
      const parsed = conversationSchema.safeParse(migrateLegacy(c));
      return parsed.success ? [parsed.data] : [];
    });
    for (const c of imported) await this.serial(c.id, () => this.rewrite(c));
    await rename(legacy, `${legacy}.imported`).catch(() => undefined);
    return imported;
  }
}

function parseConversation(text: string): Conversation | null {
  let meta: Meta | null = null;
  const messages: StoredMessage[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      continue; // a torn last line after a crash: the lines before it are intact
    }
    const l = parsed as Partial<Line>;
    if (l.t === 'meta') {
      const m = metaSchema.safeParse(l.meta);
      if (m.success) meta = m.data;
    } else if (l.t === 'msg') {
      const m = storedMessageSchema.safeParse(l.msg);
      if (m.success) messages.push(m.data);
    }
  }
  return meta ? { ...meta, messages } : null;
}

/** Old answers carried " [stopped]" / " [interrupted]" in their text; that is state now. */
function migrateLegacy(c: unknown): unknown {
  if (!c || typeof c !== 'object' || !Array.isArray((c as Conversation).messages)) return c;
  const conv = c as Conversation;
  return {
    ...conv,
    messages: conv.messages.map((m) => {
      const marker = / \[(stopped|interrupted)\]$/.exec(m.content ?? '');
      return marker && m.role === 'assistant' ? { ...m, content: m.content.slice(0, marker.index), status: marker[1] } : m;
    }),
  };
}

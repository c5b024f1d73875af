import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConversationStore } from './conversation-store.ts';

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function seedLegacy(n: number): void {
  const conversations = Array.from({ length: n }, (_, c) => ({
    id: `c-${c}`, title: `Conversation ${c}`, model: 'm', systemPrompt: '', temperature: 0.7, maxTokens: 64,
    updatedAt: new Date(Date.now() - c * 60_000).toISOString(), messages: [{ role: 'user', content: `hello ${c}` }],
  }));
  writeFileSync(join(dir, 'conversations.json'), JSON.stringify(conversations));
}

describe('conversation store', () => {
  it('imports the legacy file once, even when a second read starts while the import is half done', async () => {
    dir = mkdtempSync(join(tmpdir(), 'conv-store-'));
    seedLegacy(60);
    const store = new ConversationStore(dir);
    const first = store.list();
    // Start the second read once the import has written most of the files, not all.
    const folder = 'conversations';
    for (let i = 0; i < 2000 && !(existsSync(join(dir, folder)) && readdirSync(join(dir, folder)).length >= 50); i++) await new Promise((r) => setImmediate(r));
    const second = store.list();
    expect((await first).length).toBe(60);
    expect((await second).length).toBe(60);
    expect((await new ConversationStore(dir).list()).length).toBe(60);
    expect(existsSync(join(dir, 'conversations.json.imported'))).toBe(true);
  });
});

import { mkdtempSync, readFileSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalNetwork, type LocalNetwork } from '../../../node-core/src/network/local-network.ts';
import { AppService } from './app-service.ts';
import { ConversationStore } from './conversation-store.ts';

const conversation = (id: string) => ({
  id, title: 't', model: 'Qwen/Qwen3-0.6B', systemPrompt: '', temperature: 0.5, maxTokens: 16,
  messages: [{ role: 'user' as const, content: 'hi' }], updatedAt: new Date().toISOString(),
});

describe('AppService handlers', () => {
  let net: LocalNetwork;
  let service: AppService;
  let dataDir: string;
  beforeAll(async () => {
    net = await startLocalNetwork();
    dataDir = mkdtempSync(join(tmpdir(), 'app-service-'));
    service = new AppService({ openaiUrl: net.openaiUrl, client: net.client, dataDir, network: 'local' });
  });
  afterAll(async () => {
    service.close();
    await net.stop();
  });

  it('refuses unknown requests and names the bad argument', async () => {
    await expect(service.handle('fs.readFile', [])).rejects.toMatchObject({ code: 'unknown_request' });
    await expect(service.handle('__proto__', [])).rejects.toMatchObject({ code: 'unknown_request' });
    await expect(service.handle('chat.start', [{ model: 'm', messages: [], temperature: 1, maxTokens: 5 }])).rejects.toMatchObject({ code: 'bad_arguments', message: expect.stringMatching(/0\.messages/) });
    await expect(service.handle('chat.start', [{ model: 'm', messages: [{ role: 'user', content: 'x' }], temperature: 9, maxTokens: 5 }])).rejects.toMatchObject({ message: expect.stringMatching(/temperature/) });
    await expect(service.handle('conversations.delete', ['../../etc/passwd'])).rejects.toMatchObject({ code: 'bad_arguments' });
    await expect(service.handle('status.get', 'not-an-array')).rejects.toMatchObject({ code: 'bad_arguments' });
  });

  it('reports status and models from the real client', async () => {
    const status = await service.handle('status.get', []) as { proxy: { state: string } };
    expect(status.proxy.state).toBe('connected');
    expect(await service.handle('models.list', [])).toEqual([{ id: 'Qwen/Qwen3-0.6B', workers: 1 }]);
  });

  it('streams a chat as delta events and ends with usage and cost', async () => {
    const events: Array<[string, { streamId: string }]> = [];
    service.on('event', (e, p) => events.push([e, p]));
    const { streamId } = await service.handle('chat.start', [{ model: 'Qwen/Qwen3-0.6B', messages: [{ role: 'user', content: 'hi' }], temperature: 0.2, maxTokens: 8 }]) as { streamId: string };
    await expect.poll(() => events.find(([e, p]) => e === 'chat.done' && p.streamId === streamId), { timeout: 10_000 }).toBeTruthy();
    const done = events.find(([e]) => e === 'chat.done')![1] as unknown as { usage: { completion_tokens: number }; cost: { totalNanoTon: number }; finishReason: string };
    expect(done.usage.completion_tokens).toBe(8);
    expect(done.finishReason).toBe('length');
    expect(done.cost.totalNanoTon).toBeGreaterThan(0);
    expect(events.filter(([e]) => e === 'chat.delta').length).toBeGreaterThan(0);
  });

  it('persists conversations atomically and keeps a damaged file aside', async () => {
    await service.handle('conversations.save', [conversation('c-1')]);
    expect((await service.handle('conversations.list', [])) as unknown[]).toHaveLength(1);
    expect(JSON.parse(readFileSync(join(dataDir, 'conversations.json'), 'utf8'))[0].id).toBe('c-1');
    const dir = mkdtempSync(join(tmpdir(), 'store-'));
    writeFileSync(join(dir, 'conversations.json'), '{broken');
    const store = new ConversationStore(dir);
    expect(await store.list()).toEqual([]);
    expect(readdirSync(dir).some((f) => f.startsWith('conversations.json.damaged-'))).toBe(true);
  });
});

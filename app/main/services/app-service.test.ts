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
    // 20 ms per token keeps an answer streaming long enough for the stop test to land mid-stream.
    net = await startLocalNetwork({ tokenDelayMs: 20 });
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
    await expect(service.handle('chat.start', [{ conversationId: 'c-x', model: 'm', messages: [], temperature: 1, maxTokens: 5 }])).rejects.toMatchObject({ code: 'bad_arguments', message: expect.stringMatching(/^Messages: .*0\.messages/) });
    await expect(service.handle('chat.start', [{ conversationId: 'c-x', model: 'm', messages: [{ role: 'user', content: 'x' }], temperature: 9, maxTokens: 5 }])).rejects.toMatchObject({ message: expect.stringMatching(/^Temperature: .*temperature/) });
    await expect(service.handle('account.stake', [{ amountTon: '-1' }])).rejects.toMatchObject({ message: expect.stringMatching(/^Amount: must be a positive TON amount/) });
    await expect(service.handle('conversations.delete', ['../../etc/passwd'])).rejects.toMatchObject({ code: 'bad_arguments' });
    await expect(service.handle('status.get', 'not-an-array')).rejects.toMatchObject({ code: 'bad_arguments' });
  });

  it('answers a request for a conversation that does not exist with not_found (found by the web-mode fuzz suite)', async () => {
    await expect(service.handle('conversations.truncate', ['__proto__', 1])).rejects.toMatchObject({ code: 'not_found', message: expect.stringMatching(/conversation __proto__ does not exist/) });
    const prompt = { role: 'user', content: 'x' };
    await expect(service.handle('chat.start', [{ conversationId: 'c-gone', append: [prompt], model: 'm', messages: [prompt], temperature: 1, maxTokens: 5 }])).rejects.toMatchObject({ code: 'not_found' });
  });

  it('reports status and models from the real client', async () => {
    const status = await service.handle('status.get', []) as { proxy: { state: string } };
    expect(status.proxy.state).toBe('connected');
    expect(await service.handle('models.list', [])).toEqual([{ id: 'Qwen/Qwen3-0.6B', workers: 1 }]);
  });

  it('streams a chat as delta events, stores the prompt first and appends the answer with usage, cost and timing', async () => {
    const events: Array<[string, { streamId: string }]> = [];
    service.on('event', (e, p) => events.push([e, p]));
    await service.handle('conversations.save', [{ ...conversation('c-stream'), messages: [] }]);
    const prompt = { role: 'user', content: 'hi', at: new Date().toISOString() };
    const { streamId } = await service.handle('chat.start', [{ conversationId: 'c-stream', append: [prompt], model: 'Qwen/Qwen3-0.6B', messages: [{ role: 'user', content: 'hi' }], temperature: 0.2, maxTokens: 8 }]) as { streamId: string };
    await expect.poll(() => events.find(([e, p]) => e === 'chat.end' && p.streamId === streamId), { timeout: 10_000 }).toBeTruthy();
    const end = events.find(([e, p]) => e === 'chat.end' && p.streamId === streamId)![1] as unknown as { error: string | null; message: { status: string; usage: { completion_tokens: number }; cost: { totalNanoTon: number }; finishReason: string; ttftMs: number; durationMs: number; content: string } };
    expect(end.error).toBeNull();
    expect(end.message.status).toBe('complete');
    expect(end.message.usage.completion_tokens).toBe(8);
    expect(end.message.finishReason).toBe('length');
    expect(end.message.cost.totalNanoTon).toBeGreaterThan(0);
    expect(end.message.durationMs).toBeGreaterThanOrEqual(end.message.ttftMs);
    expect(events.filter(([e]) => e === 'chat.delta').length).toBeGreaterThan(0);
    const stored = (await service.handle('conversations.list', []) as Array<{ id: string; messages: Array<{ role: string; content: string }> }>).find((c) => c.id === 'c-stream')!;
    expect(stored.messages.map((m) => m.role)).toEqual(['user', 'assistant']);
    expect(stored.messages[1]!.content).toBe(end.message.content);
  });

  it('keeps a stopped answer\'s partial text as state, not as a marker in the text', async () => {
    const events: Array<[string, { streamId: string }]> = [];
    service.on('event', (e, p) => events.push([e, p]));
    await service.handle('conversations.save', [{ ...conversation('c-stop'), messages: [] }]);
    const { streamId } = await service.handle('chat.start', [{ conversationId: 'c-stop', append: [{ role: 'user', content: 'long' }], model: 'Qwen/Qwen3-0.6B', messages: [{ role: 'user', content: 'long' }], temperature: 0.2, maxTokens: 2000 }]) as { streamId: string };
    await expect.poll(() => events.some(([e, p]) => e === 'chat.delta' && p.streamId === streamId), { timeout: 10_000 }).toBe(true);
    await service.handle('chat.stop', [streamId]);
    await expect.poll(() => events.find(([e, p]) => e === 'chat.end' && p.streamId === streamId), { timeout: 10_000 }).toBeTruthy();
    const end = events.find(([e, p]) => e === 'chat.end' && p.streamId === streamId)![1] as unknown as { error: string | null; message: { status: string; content: string } };
    expect(end.error).toBeNull();
    expect(end.message.status).toBe('stopped');
    expect(end.message.content.length).toBeGreaterThan(0);
    expect(end.message.content).not.toMatch(/\[stopped\]/);
  });

  it('stores one file per conversation, appends answers, and never lets a stale save drop an answer', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'store-'));
    const store = new ConversationStore(dir);
    await store.save(conversation('c-1'));
    await store.append('c-1', [{ role: 'assistant', content: 'answer', status: 'complete' }]);
    // The renderer's older copy (one message) saves new settings: the answer stays.
    await store.save({ ...conversation('c-1'), temperature: 1.5 });
    const reread = await new ConversationStore(dir).list();
    expect(reread).toHaveLength(1);
    expect(reread[0]!.temperature).toBe(1.5);
    expect(reread[0]!.messages.map((m) => m.content)).toEqual(['hi', 'answer']);
    expect(readdirSync(join(dir, 'conversations'))).toEqual(['c-1.jsonl']);
    // A torn last line (crash mid-append) loses only that line.
    writeFileSync(join(dir, 'conversations', 'c-1.jsonl'), readFileSync(join(dir, 'conversations', 'c-1.jsonl'), 'utf8') + '{"t":"msg","msg":{"role":"assis');
    expect((await new ConversationStore(dir).list())[0]!.messages).toHaveLength(2);
    expect((await store.truncate('c-1', 1)).messages).toHaveLength(1);
  });

  it('imports the first slice\'s conversations.json once, turning " [stopped]" markers into state', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'store-legacy-'));
    writeFileSync(join(dir, 'conversations.json'), JSON.stringify([{ ...conversation('c-old'), messages: [{ role: 'user', content: 'q' }, { role: 'assistant', content: 'partial [stopped]' }] }]));
    const [c] = await new ConversationStore(dir).list();
    expect(c!.messages[1]).toMatchObject({ content: 'partial', status: 'stopped' });
    expect(readdirSync(dir).sort()).toEqual(['conversations', 'conversations.json.imported']);
  });

  it('saves settings, reports when a restart is needed, and refuses a bad backend URL with a field name', async () => {
    const before = await service.handle('settings.get', []) as { activeBackend: { kind: string }; restartRequired: boolean; openaiBaseUrl: string };
    expect(before).toMatchObject({ activeBackend: { kind: 'test-engine' }, restartRequired: false, openaiBaseUrl: net.openaiUrl });
    const after = await service.handle('settings.set', [{ backendUrl: 'http://127.0.0.1:8000' }]) as { backendUrl: string; restartRequired: boolean };
    expect(after).toMatchObject({ backendUrl: 'http://127.0.0.1:8000', restartRequired: true });
    await expect(service.handle('settings.set', [{ backendUrl: 'file:///etc/passwd' }])).rejects.toMatchObject({ code: 'bad_arguments', message: expect.stringMatching(/^Backend URL: /) });
    await expect(service.handle('settings.set', [{ shell: 'rm -rf /' }])).rejects.toMatchObject({ code: 'bad_arguments' });
  });
});

describe('AppService: network settings and mainnet confirmation', () => {
  let net: LocalNetwork;
  beforeAll(async () => { net = await startLocalNetwork({ tokenDelayMs: 0 }); });
  afterAll(async () => { await net.stop(); });
  const ROOT = 'EQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAM9c';

  it('saves a checked network for the next start, says a restart is needed, and never returns the API key', async () => {
    const service = new AppService({ openaiUrl: net.openaiUrl, client: net.client, dataDir: mkdtempSync(join(tmpdir(), 'app-net-')), network: 'local' });
    try {
      await expect(service.handle('settings.set', [{ network: { name: 'mainnet', endpoint: 'http://toncenter.com/api/v2/jsonRPC', apiKey: null, rootAddress: ROOT } }]))
        .rejects.toMatchObject({ code: 'bad_network_settings', message: expect.stringMatching(/^network\.endpoint: .*https/) });
      expect(await service.handle('settings.get', [])).toMatchObject({ network: 'local', restartRequired: false, savedNetwork: { name: 'local' } });
      const saved = await service.handle('settings.set', [{ network: { name: 'mainnet', endpoint: 'https://toncenter.com/api/v2/jsonRPC', apiKey: 'secret-key-123', rootAddress: ROOT } }]);
      expect(saved).toMatchObject({ network: 'local', restartRequired: true, savedNetwork: { name: 'mainnet', apiKeySet: true, rootAddress: ROOT } });
      expect(JSON.stringify(saved)).not.toContain('secret-key-123');
    } finally {
      service.close();
    }
  });

  it('on mainnet asks once for confirmation before the first transaction', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'app-mainnet-'));
    const service = new AppService({ openaiUrl: net.openaiUrl, client: net.client, dataDir, network: 'mainnet' });
    try {
      await expect(service.handle('account.topUp', [{ amountTon: '1' }])).rejects.toMatchObject({ code: 'mainnet_confirmation_required' });
      // Confirmed: remembered; this instance has no wallet connected, so it says so next.
      await expect(service.handle('account.topUp', [{ amountTon: '1', confirmMainnet: true }])).rejects.toMatchObject({ code: 'no_wallet' });
      await expect(service.handle('account.topUp', [{ amountTon: '1' }])).rejects.toMatchObject({ code: 'no_wallet' });
      expect(JSON.parse(readFileSync(join(dataDir, 'settings.json'), 'utf8')).mainnetConfirmed).toBe(true);
      expect(await service.handle('wallet.get', [])).toMatchObject({ network: 'mainnet', mode: 'tonconnect', contractActionsDisabledReason: expect.stringMatching(/connect your wallet/) });
    } finally {
      service.close();
    }
  });
});

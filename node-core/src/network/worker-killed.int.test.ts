import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { spawnRole, stopRole } from '../../bench/spawn-role.ts';
import { startLocalNetwork } from './local-network.ts';

describe('a worker process killed mid-stream', () => {
  it('ends the client stream with an error event instead of hanging', async () => {
    // The proxy and client in this process; the only worker is a real process we SIGKILL.
    const net = await startLocalNetwork({ workers: 0 });
    // Development quotes on both sides: the local network's proxy holds workers to the fake policy.
    const worker = await spawnRole(['worker', '--proxy', `127.0.0.1:${net.proxy.workerEndpoint.port}`, '--token-delay-ms', '40', '--quote', 'fake', '--policy', 'fake', '--allow-image', net.imageHashes.proxy]);
    try {
      await expect.poll(() => net.proxy.stats().workers.length, { timeout: 15_000 }).toBe(1);
      const openai = new OpenAI({ baseURL: net.openaiUrl, apiKey: 'x', maxRetries: 0, timeout: 20_000 });
      const stream = await openai.chat.completions.create({ model: net.models[0]!, messages: [{ role: 'user', content: 'die mid-stream' }], stream: true });
      let parts = 0;
      const started = Date.now();
      await expect((async () => {
        for await (const chunk of stream) {
          if (chunk.choices[0]?.delta.content && ++parts === 3) worker.child.kill('SIGKILL');
        }
      })()).rejects.toThrow(/worker/);
      expect(parts).toBeGreaterThanOrEqual(3);
      expect(Date.now() - started).toBeLessThan(15_000);
      await expect.poll(() => net.proxy.stats().workers.length).toBe(0);
    } finally {
      await stopRole(worker.child);
      await net.stop();
    }
  });
});

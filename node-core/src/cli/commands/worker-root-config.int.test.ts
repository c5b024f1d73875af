/**
 * `cocoon worker --root-config FILE` (TON disabled, as the reference's `--disable-ton FILE`): the
 * adjusted tokens the worker reports use the file's price multipliers, not our local defaults
 * (DEFAULT_PRICING bills cached tokens at 0.1×; the reference's `--local-all` root at 1×). A real
 * worker process behind our proxy; the test engine's prefix cache makes the second answer to the
 * same prompt report cached tokens.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { spawnRole, stopRole } from '../../../bench/spawn-role.ts';
import { startLocalNetwork } from '../../network/local-network.ts';
import { DEFAULT_PRICING } from '../../payments/pricing.ts';

const EMPTY_CELL = 'b5ee9c72010101010002000000';

describe('a worker run from a root config file', () => {
  it('reports adjusted tokens with the root\'s multipliers', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cocoon-worker-root-'));
    const file = join(dir, 'root.json');
    // The full form's multipliers: cached 1× (our default is 0.1×), completion 3×.
    writeFileSync(file, JSON.stringify({
      proxy_hashes: [], worker_hashes: [], model_types: ['m'], registered_proxies: [], price_per_token: 2, worker_fee_per_token: 1,
      last_proxy_seqno: 0, version: 1, params_version: 1, struct_version: 3, unique_id: 13, is_test: 1,
      proxy_delay_before_close: 600, client_delay_before_close: 300, min_proxy_stake: 1000000000, min_client_stake: 1000000000,
      prompt_tokens_price_multiplier: 10000, cached_tokens_price_multiplier: 10000, completion_tokens_price_multiplier: 30000, reasoning_tokens_price_multiplier: 10000,
      proxy_sc_code: EMPTY_CELL, worker_sc_code: EMPTY_CELL, client_sc_code: EMPTY_CELL,
    }));
    expect(DEFAULT_PRICING.multipliers.cached).not.toBe(10000);
    const net = await startLocalNetwork({ workers: 0 });
    const worker = await spawnRole<{ model: string }>(['worker', '--proxy', `127.0.0.1:${net.proxy.workerEndpoint.port}`, '--root-config', file, '--quote', 'fake', '--policy', 'fake', '--allow-image', net.imageHashes.proxy]);
    try {
      await expect.poll(() => net.proxy.stats().workers.length, { timeout: 15_000 }).toBe(1);
      const openai = new OpenAI({ baseURL: net.openaiUrl, apiKey: 'x', maxRetries: 0, timeout: 20_000 });
      const ask = () => openai.chat.completions.create({ model: worker.info.model, messages: [{ role: 'user', content: 'the same prompt twice, so the second is cached' }], max_tokens: 8 });
      await ask();
      const second = await ask() as unknown as { usage: { prompt_tokens: number; completion_tokens: number; prompt_tokens_details?: { cached_tokens?: number } }; cost: { adjusted: { prompt: number; cached: number; completion: number } } };
      const cached = second.usage.prompt_tokens_details?.cached_tokens ?? 0;
      expect(cached).toBeGreaterThan(0);
      expect(second.cost.adjusted.cached).toBe(cached);
      expect(second.cost.adjusted.prompt).toBe(second.usage.prompt_tokens - cached);
      expect(second.cost.adjusted.completion).toBe(3 * second.usage.completion_tokens);
    } finally {
      await stopRole(worker.child);
      await net.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses --root-config with --settle', async () => {
    await expect(spawnRole(['worker', '--proxy', '127.0.0.1:9', '--root-config', '/nonexistent.json', '--settle', '--quote', 'fake', '--policy', 'any'])).rejects.toThrow(/cannot be combined with --settle/);
  });
});

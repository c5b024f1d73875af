/**
 * The root rules of a settling proxy follow the root as read from the chain: its version for
 * `min_config_version`, its model allowlist (always checked off the test network), and a new
 * root version replaces them; a failed re-read keeps the last rules. The reader here is scripted
 * (the chain read itself is `readRootData`, covered with the embedded chain elsewhere).
 */
import { describe, expect, it } from 'vitest';
import { configVersionTooLow, liveRootRules, modelNameHash, rootMultipliers, parseReferenceRootConfig, type RootSnapshot } from './root-config-file.ts';

describe('root rules from the chain', () => {
  it('follow the root\'s version and model allowlist, and keep the last rules when a read fails', async () => {
    const reads: Array<RootSnapshot | Error> = [
      { version: 3, isTest: false, modelHashes: [modelNameHash('Org/A')] },
      new Error('endpoint down'),
      { version: 4, isTest: false, modelHashes: [modelNameHash('Org/B')] },
    ];
    const errors: unknown[] = [];
    const rules = await liveRootRules(async () => { const r = reads.shift()!; if (r instanceof Error) throw r; return r; }, { checkModels: false, refreshMs: 3_600_000, onError: (e) => errors.push(e) });
    try {
      expect(rules.modelAllowed('Org/A')).toBe(true); // off the test network: checked although not asked
      expect(rules.modelAllowed('Org/B')).toBe(false);
      expect(configVersionTooLow(rules, 4)).toBe(true);
      await rules.refresh();
      expect(errors).toHaveLength(1);
      expect(rules.configVersion()).toBe(3);
      await rules.refresh();
      expect(rules.configVersion()).toBe(4);
      expect(configVersionTooLow(rules, 4)).toBe(false);
      expect(rules.modelAllowed('Org/B')).toBe(true);
      expect(rules.modelAllowed('Org/A')).toBe(false);
    } finally {
      rules.stop();
    }
  });

  it('on the test network checks models only when asked', async () => {
    const snap = { version: 1, isTest: true, modelHashes: [modelNameHash('Org/A')] };
    const off = await liveRootRules(async () => snap, { checkModels: false, refreshMs: 3_600_000 });
    const on = await liveRootRules(async () => snap, { checkModels: true, refreshMs: 3_600_000 });
    expect(off.modelAllowed('Org/X')).toBeNull();
    expect(on.modelAllowed('Org/X')).toBe(false);
    off.stop();
    on.stop();
  });
});

describe('root multipliers', () => {
  const E = 'b5ee9c72010101010002000000';
  const base = { proxy_hashes: [], worker_hashes: [], model_types: [], registered_proxies: [], price_per_token: 2, worker_fee_per_token: 1, last_proxy_seqno: 0, version: 1, params_version: 1, proxy_sc_code: E, worker_sc_code: E, client_sc_code: E };
  it('are the file\'s: 1× for every kind in the pseudo form, as written in the full form', () => {
    expect(rootMultipliers(parseReferenceRootConfig(base))).toEqual({ prompt: 10000, cached: 10000, completion: 10000, reasoning: 10000 });
    const full = parseReferenceRootConfig({ ...base, struct_version: 3, unique_id: 1, is_test: 1, proxy_delay_before_close: 1, client_delay_before_close: 1, min_proxy_stake: 1, min_client_stake: 1,
      prompt_tokens_price_multiplier: 10000, cached_tokens_price_multiplier: 1000, completion_tokens_price_multiplier: 20000, reasoning_tokens_price_multiplier: 30000 });
    expect(rootMultipliers(full)).toEqual({ prompt: 10000, cached: 1000, completion: 20000, reasoning: 30000 });
  });
});

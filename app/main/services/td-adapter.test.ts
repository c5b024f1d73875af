import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EXAMPLE_CONFIG, parseWorkerConfig } from '../../../node-core/src/td/index.ts';
import { createTdAdapter, workerConfigFor } from './td-adapter.ts';

/** How owner mode turns the owner's step-3 answers into a launcher config. */
const dir = mkdtempSync(join(tmpdir(), 'td-adapter-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const OWNER = 'UQAuz15H1ZHrZ_psVrAra7HealMIVeFq0wguqlmFno1f3B-m';
const net = { proxyWorkerPort: 4567, engineUrl: 'http://127.0.0.1:8000', rootAddress: null, chainEndpoint: null };

describe('td adapter config', () => {
  it('lays the answers over a config file: the GPU means TDX, the file\'s network and image stay', () => {
    const file = join(dir, 'worker.jsonc');
    writeFileSync(file, EXAMPLE_CONFIG);
    const { raw, baseDir } = workerConfigFor({ ownerAddress: OWNER, gpu: '0000:41:00.0', model: 'Qwen/Qwen3-8B' }, { configFile: file });
    const c = parseWorkerConfig(raw, baseDir);
    expect(c).toMatchObject({ mode: 'tdx', gpu: '0000:41:00.0', model: 'Qwen/Qwen3-8B', ownerAddress: OWNER, network: { name: 'mainnet' } });
    expect(c.image.kernel).toBe(join(dir, 'image/image.vmlinuz'));
    // No GPU with a TDX config: refused with what to do, nothing launched.
    expect(() => workerConfigFor({ ownerAddress: OWNER, gpu: null, model: 'm' }, { configFile: file })).toThrow(/TDX mode needs the GPU/);
  });

  it('without a file, on the local network: the development guest dialing the app\'s proxy through 10.0.2.2', () => {
    const { raw } = workerConfigFor({ ownerAddress: OWNER, gpu: null, model: 'test-model' }, { localNetwork: net });
    expect(raw).toMatchObject({
      mode: 'emulation', network: { name: 'local', proxies: ['10.0.2.2:4567'] },
      development: { quote: 'fake', policy: 'fake', shareHostNode: true, backend: 'http://10.0.2.2:8000' },
    });
  });

  it('without a file and no local network: a clear error naming --td-config', () => {
    expect(() => workerConfigFor({ ownerAddress: OWNER, gpu: null, model: 'm' }, {})).toThrow(/--td-config/);
  });

  it('reports stopped before any launch, and a bad config fails start without running anything', async () => {
    const td = createTdAdapter({ configFile: join(dir, 'missing.jsonc') });
    expect(td.status()).toMatchObject({ phase: 'stopped', pid: null });
    await expect(td.start({ ownerAddress: OWNER, gpu: null, model: 'm' })).rejects.toThrow(/cannot read the TD config/);
    expect(td.status().phase).toBe('stopped');
  });
});

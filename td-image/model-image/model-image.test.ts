/**
 * The model-image builder: a real EROFS image and dm-verity tree built by build-model-image.sh,
 * whose root hash (the model hash on chain) we recompute here from the image bytes alone, with
 * the dm-verity format (version 1: each block hashed as SHA-256(salt ‖ block), digests packed
 * into 4 KiB hash blocks, level by level, up to one block).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const script = join(import.meta.dirname, 'build-model-image.sh');
const work = mkdtempSync(join(tmpdir(), 'cocoon-model-image-'));
const build = (src: string, out: string) => execFileSync('bash', [script, src, out], { encoding: 'utf8' }).trim();

function verityRoot(data: Buffer, salt: Buffer): string {
  const block = 4096;
  const hashBlock = (b: Buffer) => createHash('sha256').update(salt).update(b).digest();
  let level: Buffer[] = [];
  for (let o = 0; o < data.length; o += block) level.push(hashBlock(data.subarray(o, o + block)));
  for (;;) {
    const perBlock = block / 32;
    const blocks: Buffer[] = [];
    for (let i = 0; i < level.length; i += perBlock) {
      const b = Buffer.alloc(block);
      Buffer.concat(level.slice(i, i + perBlock)).copy(b);
      blocks.push(b);
    }
    if (blocks.length === 1) return hashBlock(blocks[0]!).toString('hex');
    level = blocks.map(hashBlock);
  }
}

beforeAll(() => {
  const model = join(work, 'model');
  mkdirSync(join(model, 'shards'), { recursive: true });
  writeFileSync(join(model, 'config.json'), '{"architectures":["Qwen3ForCausalLM"]}\n');
  // 1.2 MB of weights: enough data blocks for a two-level hash tree.
  const weights = Buffer.alloc(1_200_000);
  for (let i = 0; i < weights.length; i += 32) createHash('sha256').update(String(i)).digest().copy(weights, i);
  writeFileSync(join(model, 'shards', 'model.safetensors'), weights);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('build-model-image.sh', () => {
  it('prints a root hash that the verity format gives for the image bytes', () => {
    const root = build(join(work, 'model'), join(work, 'a'));
    expect(root).toMatch(/^[0-9a-f]{64}$/);
    expect(readFileSync(join(work, 'a.roothash'), 'utf8').trim()).toBe(root);
    const salt = createHash('sha256').update('cocoon-model').digest();
    expect(verityRoot(readFileSync(join(work, 'a.img')), salt)).toBe(root);
  });

  it('is reproducible, and any change to the weights changes the model hash', () => {
    const first = build(join(work, 'model'), join(work, 'b'));
    expect(build(join(work, 'model'), join(work, 'c'))).toBe(first);
    const weights = join(work, 'model', 'shards', 'model.safetensors');
    const bytes = readFileSync(weights);
    bytes[12345] = bytes[12345]! ^ 1;
    writeFileSync(weights, bytes);
    expect(build(join(work, 'model'), join(work, 'd'))).not.toBe(first);
  });

  it('refuses a missing directory with a clear message', () => {
    expect(() => execFileSync('bash', [script, join(work, 'nope'), join(work, 'e')], { stdio: 'pipe' })).toThrow(/does not exist/);
  });
});

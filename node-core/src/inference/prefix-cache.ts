import { createHash } from 'node:crypto';

/**
 * Emulates an engine's prefix cache the way vLLM's block cache works: prompts are split into
 * fixed-size token blocks, each block keyed by the hash of everything up to it; the cached part of
 * a prompt is the longest run of leading blocks seen before. Bounded LRU.
 */
export class PrefixCache {
  private readonly blocks = new Map<string, true>();

  constructor(
    private readonly blockSize = 16,
    private readonly capacity = 50_000,
  ) {}

  /** Returns how many leading tokens were cached, then records this prompt's blocks. */
  lookupAndInsert(tokens: number[]): number {
    const hash = createHash('sha256');
    let cachedTokens = 0;
    let stillCached = true;
    const fullBlocks = Math.floor(tokens.length / this.blockSize);
    for (let b = 0; b < fullBlocks; b++) {
      hash.update(Uint32Array.from(tokens.slice(b * this.blockSize, (b + 1) * this.blockSize)));
      const key = hash.copy().digest('base64');
      if (stillCached && this.blocks.has(key)) {
        cachedTokens += this.blockSize;
        this.blocks.delete(key); // refresh LRU position
      } else {
        stillCached = false;
      }
      this.blocks.set(key, true);
    }
    // Evict the oldest in one pass of one iterator: a fresh `keys().next()` per eviction rescans
    // the holes earlier deletes left at the front of the Map, which made a big prompt after
    // another one block the engine for seconds (quadratic; `npm run bench -- fairness`).
    let excess = this.blocks.size - this.capacity;
    for (const key of this.blocks.keys()) {
      if (excess-- <= 0) break;
      this.blocks.delete(key);
    }
    return cachedTokens;
  }
}

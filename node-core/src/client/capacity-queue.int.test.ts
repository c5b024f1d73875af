import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalNetwork, type LocalNetwork } from '../network/local-network.ts';

/**
 * Capacity: more concurrent requests than the workers take wait in the client's bounded queue
 * instead of failing at once (main: 167 of 200 got an immediate 503), and a full queue answers
 * 503 with Retry-After.
 */
let net: LocalNetwork;

beforeAll(async () => {
  net = await startLocalNetwork({ maxActiveRequests: 4, tokenDelayMs: 2 });
}, 60_000);
afterAll(async () => net?.stop());

const ask = () => fetch(`${net.openaiUrl}/chat/completions`, {
  method: 'POST', headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ model: net.models[0], messages: [{ role: 'user', content: 'hello' }], max_tokens: 8 }),
});

describe('client capacity queue', () => {
  it('serves 60 concurrent requests through 4 worker slots without a 503', async () => {
    const statuses = await Promise.all(Array.from({ length: 60 }, async () => (await ask()).status));
    expect(statuses.filter((s) => s === 200)).toHaveLength(60);
  }, 60_000);
});

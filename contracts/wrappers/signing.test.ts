import { describe, it, expect } from 'vitest';
import { Address } from '@ton/core';
import { payloadCell, signPayload, verifySignedMessage, MAX_CUMULATIVE_TOKENS } from './signing.ts';
import { deterministicKeyPair } from '../testing/network.ts';

const target = Address.parse('EQAUX60tZbK_nfm4OjTnp1Q76v7ytd6yufdZSXha5OJB3Y_C');

describe('proxy-signed payloads', () => {
  it('verifies with the signing key only', () => {
    const key = deterministicKeyPair('a');
    const m = signPayload({ tag: 'charge', target, cumulativeTokens: 42n }, key.secretKey);
    expect(verifySignedMessage(m, key.publicKey)).toBe(true);
    expect(verifySignedMessage(m, deterministicKeyPair('b').publicKey)).toBe(false);
  });

  it('binds tag, contract address and counter into what is signed', () => {
    const base = payloadCell({ tag: 'charge', target, cumulativeTokens: 1n }).hash();
    expect(payloadCell({ tag: 'payout', target, cumulativeTokens: 1n }).hash().equals(base)).toBe(false);
    expect(payloadCell({ tag: 'charge', target, cumulativeTokens: 2n }).hash().equals(base)).toBe(false);
    const other = Address.parse('0:' + '11'.repeat(32));
    expect(payloadCell({ tag: 'charge', target: other, cumulativeTokens: 1n }).hash().equals(base)).toBe(false);
  });

  it('refuses counters outside uint64', () => {
    expect(() => payloadCell({ tag: 'charge', target, cumulativeTokens: -1n })).toThrow(RangeError);
    expect(() => payloadCell({ tag: 'charge', target, cumulativeTokens: MAX_CUMULATIVE_TOKENS + 1n })).toThrow(RangeError);
  });
});

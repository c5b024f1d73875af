import { describe, expect, it } from 'vitest';
import { settlementPolicyOf } from './role-settlement.ts';
import { DEFAULT_SETTLEMENT_POLICY, LOCAL_DEV_SETTLEMENT_POLICY } from './settlement-scheduler.ts';

describe('settlement policy of a role', () => {
  it('settles within seconds on the embedded chain unless asked for the production thresholds', () => {
    expect(settlementPolicyOf({}, { network: 'local' })).toBe(LOCAL_DEV_SETTLEMENT_POLICY);
    expect(settlementPolicyOf({ 'settle-policy': 'production' }, { network: 'local' })).toBe(DEFAULT_SETTLEMENT_POLICY);
    expect(settlementPolicyOf({ 'settle-policy': 'dev' }, { network: 'local' })).toBe(LOCAL_DEV_SETTLEMENT_POLICY);
  });

  it('uses the production thresholds on testnet and mainnet and refuses the development one there', () => {
    expect(settlementPolicyOf({}, { network: 'testnet' })).toBe(DEFAULT_SETTLEMENT_POLICY);
    expect(settlementPolicyOf({ 'settle-policy': 'production' }, { network: 'mainnet' })).toBe(DEFAULT_SETTLEMENT_POLICY);
    expect(() => settlementPolicyOf({ 'settle-policy': 'dev' }, { network: 'mainnet' })).toThrow(/refused on mainnet/);
    expect(() => settlementPolicyOf({ 'settle-policy': 'fast' }, { network: 'local' })).toThrow(/must be dev or production/);
  });
});

import type { ChargesInfo } from './api-contract.ts';

export type ChargeState = 'pending' | 'signed' | 'settled' | 'untracked';

/**
 * Where one answer's charge stands: `mark` is the client's cumulative counter right after the
 * answer (stored with it), `counters` the client's current ones (charges.get). Counters only grow,
 * so the answer is signed once the proxy's signed charge reaches its mark and settled once the
 * client contract on chain does. No mark (an answer from before payments were tracked, or one
 * with no reported usage) or no counters: untracked.
 */
export function chargeState(mark: string | undefined, counters: ChargesInfo['counters'] | null): ChargeState {
  if (!mark || !counters) return 'untracked';
  const m = BigInt(mark);
  if (BigInt(counters.onChain) >= m) return 'settled';
  if (BigInt(counters.signed) >= m) return 'signed';
  return 'pending';
}

/**
 * Admission: before a request reaches a worker, can the client contract pay its worst case?
 * Pure functions, no I/O: the proxy passes what its ledger and the chain say.
 *
 * Worst case = every prompt token at the full prompt multiplier (none cached) plus `max_tokens`
 * at the dearer of the completion/reasoning multipliers, at the worker's coefficient, priced as
 * the next step of the client's cumulative counter (so the floor is the one the chain will apply).
 * `promptTokens` must be an upper bound; the reference uses the request's size in bytes.
 *
 * What the client can spend, as the reference proxy reckons it: no more than the contract holds
 * (balance + stake) and no more unsettled credit than its stake; minus what the ledger already
 * owes beyond the chain and what requests in flight have reserved.
 */
import { nanoToTon, TOKEN_KINDS, type PricingParams } from './pricing.ts';
import { clientNano, counterUnits, checkCoefficient, UNITS_PER_TOKEN } from './units.ts';

export interface AdmissionInput {
  clientContract: string;
  promptTokens: number;
  maxTokens: number;
  pricing: PricingParams;
  /** The chosen worker's coefficient in thousandths (before choosing: the client's maximum). */
  coefficient: number;
  /** The client's cumulative counter (adjusted tokens) in the proxy ledger, and the one confirmed on chain. */
  ledgerCounter: bigint;
  onChainCounter: bigint;
  /** Worst cases of this client's requests still in flight. */
  reservedNano: bigint;
  /** The client contract as last read from the chain. */
  balanceNano: bigint;
  stakeNano: bigint;
  /** How this user tops up (a command or app path); a default sentence is used when absent. */
  topUpHint?: string;
}

/** OpenAI's error envelope, with our numbers as decimal nanoTON strings. */
export interface PaymentErrorBody {
  error: {
    message: string;
    type: 'insufficient_quota';
    param: string | null;
    code: 'insufficient_balance' | 'unsettled_credit_exhausted' | 'request_cost_cap' | 'session_cost_cap' | 'price_coefficient_cap' | 'client_not_registered';
    balance_nano?: string;
    needed_nano: string;
    available_nano?: string;
    contract?: string;
  };
}

export type AdmissionResult =
  | { ok: true; worstCaseNano: bigint; availableNano: bigint }
  | { ok: false; status: 402; body: PaymentErrorBody; worstCaseNano: bigint; availableNano: bigint };

export function worstCaseUnits(promptTokens: number, maxTokens: number, pricing: PricingParams, coefficient: number): bigint {
  checkCoefficient(coefficient);
  const m = pricing.multipliers;
  const dearOutput = m.completion >= m.reasoning ? 'completion' : 'reasoning';
  const tokens = { prompt: promptTokens, cached: 0, completion: 0, reasoning: 0 };
  tokens[dearOutput] += maxTokens;
  // Adjusted tokens are truncated per kind in doubles (adjusted-tokens.ts), monotone in the count:
  // no answer within these bounds counts more than this, but a double can land on the next
  // integer above the exact product, and the output may split between completion and reasoning,
  // so one more token per kind keeps the bound safe.
  return counterUnits(tokens, m, coefficient) + BigInt(TOKEN_KINDS.length) * UNITS_PER_TOKEN;
}

/** nanoTON the client may still commit to new requests (may be negative). */
export function spendableNano(i: Pick<AdmissionInput, 'pricing' | 'ledgerCounter' | 'onChainCounter' | 'reservedNano' | 'balanceNano' | 'stakeNano'>) {
  const owed = clientNano(i.ledgerCounter, i.pricing) - clientNano(i.onChainCounter, i.pricing);
  const byFunds = i.balanceNano + i.stakeNano - owed - i.reservedNano;
  const byCredit = i.stakeNano - owed - i.reservedNano;
  return { owedNano: owed, byFunds, byCredit, spendable: byFunds < byCredit ? byFunds : byCredit };
}

/** nanoTON a request may cost at most: the cumulative counter floors units, so one answer moves it by at most ceil(units / 10000). */
export function worstCaseNano(promptTokens: number, maxTokens: number, pricing: PricingParams, coefficient: number): bigint {
  const units = worstCaseUnits(promptTokens, maxTokens, pricing, coefficient);
  return clientNano((units + UNITS_PER_TOKEN - 1n) / UNITS_PER_TOKEN, pricing);
}

export function admit(i: AdmissionInput): AdmissionResult {
  const worst = worstCaseNano(i.promptTokens, i.maxTokens, i.pricing, i.coefficient);
  const s = spendableNano(i);
  if (worst <= s.spendable) return { ok: true, worstCaseNano: worst, availableNano: s.spendable };
  const ton = (n: bigint) => `${nanoToTon(n < 0n ? 0n : n)} TON`;
  const why = `this request may cost up to ${ton(worst)} (${i.promptTokens} prompt tokens + max_tokens ${i.maxTokens} at ${i.pricing.pricePerToken} nanoTON per token × coefficient ${i.coefficient / 1000})`;
  const common = { type: 'insufficient_quota' as const, param: 'max_tokens', needed_nano: worst.toString(), available_nano: (s.spendable < 0n ? 0n : s.spendable).toString(), contract: i.clientContract };
  if (s.byFunds <= s.byCredit) {
    const shortfall = worst - s.byFunds;
    const how = i.topUpHint ?? `send it with the top-up operation to your client contract ${i.clientContract} from its owner wallet (Cocoon app: Wallet → Top up)`;
    return {
      ok: false, status: 402, worstCaseNano: worst, availableNano: s.spendable,
      body: { error: { ...common, code: 'insufficient_balance', balance_nano: i.balanceNano.toString(),
        message: `Insufficient balance: your client contract ${i.clientContract} holds ${ton(i.balanceNano)} + ${ton(i.stakeNano)} stake, ` +
          `of which ${ton(s.owedNano)} is owed for answers not yet settled and ${ton(i.reservedNano)} is reserved by requests in flight; ${why}. ` +
          `Top up at least ${ton(shortfall)} — ${how} — or lower max_tokens.` } },
    };
  }
  return {
    ok: false, status: 402, worstCaseNano: worst, availableNano: s.spendable,
    body: { error: { ...common, code: 'unsettled_credit_exhausted', balance_nano: i.balanceNano.toString(),
      message: `Unsettled usage has reached your stake: ${ton(s.owedNano)} owed (+ ${ton(i.reservedNano)} reserved) against a stake of ${ton(i.stakeNano)}; ${why}. ` +
        `Retry once the pending charge settles on chain (it is submitted automatically; \`cocoon settle\` forces it), raise your stake, or lower max_tokens.` } },
  };
}

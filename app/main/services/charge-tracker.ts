import { Address } from '@ton/core';
import type { Chain } from '../../../node-core/src/chain/chain.ts';
import { readClientData } from '../../../node-core/src/chain/contract-state.ts';
import type { Holding } from '../../../node-core/src/payments/party-payment-store.ts';
import { ledgerCounterOf } from '../../../node-core/src/payments/status-report.ts';
import type { ChargesInfo } from '../../shared/api-contract.ts';

/**
 * Where each answer's charge stands, from the client's own side: the client's payment store (its
 * count of what it received, and the best charge the proxy signed for it) and the client contract
 * on chain (the counter it was charged up to). The same three figures `cocoon status --json`
 * shows as `client.charged.{ledger,signed,onChain}`.
 *
 * Counters are cumulative, so an answer is placed by the proxy's ledger counter for this client
 * right after it (its `mark`, reported to the client with the answer's payment message): signed
 * once the signed counter reaches the mark, settled once the chain's does. Two answers ending
 * together, or other programs using the same API, only move a mark later — an answer is never
 * shown further along than it is. (The client's own count is no mark: it counts at its maximum
 * price coefficient, an upper bound of what the worker's coefficient makes the proxy charge.)
 */
export interface ChargeTrackerOptions {
  network: 'local' | 'testnet' | 'mainnet';
  /** The client's payment store (node-core/src/payments/client-payment-store.ts). */
  store: { holdings(): Holding[] };
  /** The client contract at the proxy, as the store keys it. */
  contract: string;
  chain: Chain;
  /** How long an on-chain read is reused (default 1 s). */
  chainTtlMs?: number;
}

export class ChargeTracker {
  private chainRead: { at: number; counter: bigint; balanceNano: bigint } | null = null;
  private reading: Promise<void> | null = null;

  constructor(private readonly o: ChargeTrackerOptions) {}

  private holding(): Holding | undefined {
    return this.o.store.holdings().find((h) => h.contract === this.o.contract);
  }

  /** The proxy's ledger counter for this client as last reported to it (with every payment message). */
  reported(): bigint {
    return this.holding()?.maxCounter ?? 0n;
  }

  /**
   * Places an answer that just ended: the proxy's ledger counter once it moved above `before`
   * (read when the answer started). The payment message follows the answer on the wire, so this
   * waits for it briefly; null when it does not come (nothing charged, or no settlement).
   */
  async markAfter(before: bigint, timeoutMs = 2_000): Promise<string | null> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const now = this.reported();
      if (now > before) return now.toString();
      if (Date.now() >= until) return null;
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  private async readChain(): Promise<void> {
    const d = await readClientData(this.o.chain, Address.parse(this.o.contract));
    this.chainRead = { at: Date.now(), counter: d?.tokensUsed ?? 0n, balanceNano: d?.balance ?? 0n };
  }

  async info(): Promise<ChargesInfo> {
    let chainError: string | null = null;
    if (!this.chainRead || Date.now() - this.chainRead.at > (this.o.chainTtlMs ?? 1_000)) {
      this.reading ??= this.readChain().finally(() => { this.reading = null; });
      try {
        await this.reading;
      } catch (err) {
        chainError = `the client contract could not be read from the chain now (${(err as Error).message}); on-chain figures are from ${this.chainRead ? new Date(this.chainRead.at).toISOString() : 'never'}`;
      }
    }
    const h = this.holding();
    const per = BigInt(h?.perToken ?? 0);
    const onChain = this.chainRead?.counter ?? 0n;
    // As `cocoon status` reckons the client's ledger.
    const ledger = h ? ledgerCounterOf('client', h) : 0n;
    const signed = h?.signedCounter ?? 0n;
    return {
      network: this.o.network, contract: this.o.contract,
      counters: { ledger: ledger.toString(), signed: signed.toString(), onChain: onChain.toString() },
      nanoTon: { ledger: (ledger * per).toString(), signed: (signed * per).toString(), onChain: (onChain * per).toString() },
      chainError, readAt: new Date(this.chainRead?.at ?? Date.now()).toISOString(),
    };
  }
}


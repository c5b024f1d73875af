import type { AttestationReport } from '../attestation/report.ts';
import type { PricingParams } from '../payments/pricing.ts';

/** What the client knows about its connection, for the app and `GET /v1/cocoon/status`. */
export interface ClientStatus {
  network: 'local' | 'testnet' | 'mainnet';
  proxy: {
    endpoint: string;
    state: 'connecting' | 'connected' | 'disconnected' | 'refused';
    error?: string;
    since: string;
  };
  /** The proxy's attestation, as verified in the handshake. */
  attestation: AttestationReport | null;
  models: { id: string; workers: number }[];
  pricing: PricingParams;
  /**
   * This client's payments at its proxy. `blocked`: why it stopped using the proxy (a rollback of
   * the proxy's ledger, or a charge above what it received; persisted until cleared), or null.
   * `charge`: the signed and on-chain counters it holds (adjusted tokens, decimal strings; null
   * without payments). `spentNano`: what the answers of this session cost. `limits`: its own caps.
   */
  payments: {
    blocked: string | null;
    charge: { signedCounter: string; onChainCounter: string } | null;
    spentNano: string;
    limits: { maxCostPerRequestNano: string | null; maxCostPerSessionNano: string | null; maxPriceCoefficient: number };
  };
}

export interface ClientHandle {
  status(): ClientStatus;
  onStatus(listener: (s: ClientStatus) => void): () => void;
}

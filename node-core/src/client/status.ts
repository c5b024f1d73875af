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
}

export interface ClientHandle {
  status(): ClientStatus;
  onStatus(listener: (s: ClientStatus) => void): () => void;
}

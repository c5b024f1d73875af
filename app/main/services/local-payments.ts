import { Chain } from '../../../node-core/src/chain/chain.ts';
import type { LocalNetwork } from '../../../node-core/src/network/local-network.ts';
import { LOCAL_DEV_SETTLEMENT_POLICY, type SettlementPolicy } from '../../../node-core/src/payments/settlement-scheduler.ts';
import { ChargeTracker } from './charge-tracker.ts';
import { ProxyLedgerEarnings, type EarningsLedger } from './earnings-ledger.ts';

/**
 * The app's local network settles like `cocoon up` (development thresholds: charges reach the
 * embedded chain within seconds), except that its proxy leaves the workers' payouts to their
 * owner, who claims them in owner mode (the worker's own rule submits them otherwise).
 */
export const APP_SETTLEMENT_POLICY: SettlementPolicy = { ...LOCAL_DEV_SETTLEMENT_POLICY, kinds: ['charge'] };

/**
 * What the app's money views read from the local network running in this process (web mode and
 * Electron alike): owner economics from the proxy's own ledger, and the developer's charges from
 * the client's payment store and contract. Nothing without the chain or with settlement off.
 */
export function localPaymentViews(network: Pick<LocalNetwork, 'settlement' | 'chain'>): { earningsLedger?: EarningsLedger; charges?: ChargeTracker } {
  const s = network.settlement;
  if (!s || !network.chain) return {};
  return {
    earningsLedger: new ProxyLedgerEarnings(s.proxy.ledger),
    charges: new ChargeTracker({
      network: 'local', store: s.client.store, contract: s.contracts.client,
      chain: new Chain({ network: 'local', endpoint: network.chain.endpoint, rootAddress: network.chain.rootAddress }),
    }),
  };
}

// The attestation API used by the node core, the CLI and the app.
export type { AttestationReport, AttestationPolicyName, TdMeasurements, TcbStatus } from './report.ts';
export { fakeQuoteProvider, configfsTsmQuoteProvider, type QuoteProvider } from './quote-provider.ts';
export { createRaTlsIdentity, parseRaTlsCert, OID_QUOTE, OID_CLAIMS, type RaTlsIdentity } from './ratls-cert.ts';
export { createPolicy, AttestationPolicy, type PolicySpec } from './policy.ts';
export { createPeerVerifier, type PeerVerifier } from './verifier.ts';
export { createRaTlsServer, connectRaTls } from './tls.ts';
export { parseTdxQuote, verifyTdxQuote, QuoteError } from './tdx-quote.ts';
export { imageHashOf, parseTdReportBody } from './td-report.ts';
export { loadCollateral, parseCollateral, tcbStatusWithCollateral } from './collateral.ts';

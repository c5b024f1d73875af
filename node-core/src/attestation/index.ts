// The attestation API used by the node core, the CLI and the app.
export type { AttestationReport, AttestationPolicyName, TdMeasurements, TcbStatus, NodeRole, RefusalCode } from './report.ts';
export { fakeQuoteProvider, configfsTsmQuoteProvider, FAKE_IMAGE_HASH, type QuoteProvider } from './quote-provider.ts';
export { createRaTlsIdentity, parseRaTlsCert, OID_QUOTE, OID_CLAIMS, OID_ROLE, type RaTlsIdentity } from './ratls-cert.ts';
export { createPolicy, AttestationPolicy, type PolicySpec, type NetworkKind } from './policy.ts';
export { createPeerVerifier, type PeerVerifier } from './verifier.ts';
export { createRaTlsServer, acceptRaTls, connectRaTls, refusalOf, refusalOfError } from './tls.ts';
export { encodeRefusal, decodeRefusal, type Refusal } from './refusal.ts';
export { parseTdxQuote, verifyTdxQuote, QuoteError } from './tdx-quote.ts';
export { imageHashOf, imageHashOfMeasurements, parseTdReportBody } from './td-report.ts';
export { loadCollateral, parseCollateral, tcbStatusWithCollateral } from './collateral.ts';
export { createCollateralCache, INTEL_PCS_URL, type CollateralSource } from './collateral-cache.ts';
export { createLivePolicy, type LivePolicy, type RootAllowlists } from './live-policy.ts';

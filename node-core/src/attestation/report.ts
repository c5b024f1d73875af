/**
 * What attestation tells a person and the code about a peer. Produced by the peer verifier in
 * the TLS handshake and by `cocoon attest`; shown by the app's attestation panel. Hex fields are
 * lower-case.
 */
export type AttestationPolicyName = 'tdx' | 'fake' | 'any';
export type TcbStatus =
  | 'UpToDate'
  | 'SWHardeningNeeded'
  | 'ConfigurationNeeded'
  | 'ConfigurationAndSWHardeningNeeded'
  | 'OutOfDate'
  | 'OutOfDateConfigurationNeeded'
  | 'Revoked'
  | 'unknown';

export interface TdMeasurements {
  mrSeam: string;
  mrTd: string;
  rtmr0: string;
  rtmr1: string;
  rtmr2: string;
  rtmr3: string;
  tdAttributes: string;
  xfam: string;
  reportData: string;
}

export interface AttestationReport {
  /** True when every check passed under `policy`. */
  valid: boolean;
  policy: AttestationPolicyName;
  /** `tdx` for a DCAP quote, `fake` for a development quote signed by a local key. */
  quoteKind: 'tdx' | 'fake' | 'none';
  /** SHA-256 over the TD measurement fields (see td-report.ts and README.md for the byte layout). */
  imageHash: string | null;
  /** Whether the policy's allowlist (from the root contract when configured) contains imageHash; null when the policy has no allowlist. */
  imageAllowed: boolean | null;
  measurements: TdMeasurements | null;
  tcbStatus: TcbStatus;
  certificate: {
    subject: string;
    notBefore: string;
    notAfter: string;
    /** Ed25519 public key, hex. */
    publicKey: string;
  } | null;
  /** Why verification failed, when it did: one sentence a person can act on. */
  error?: string;
}

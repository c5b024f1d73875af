/**
 * What attestation tells a person and the code about a peer. Produced by the peer verifier in
 * the TLS handshake and by `cocoon attest`; shown by the app's attestation panel. Hex fields are
 * lower-case.
 */
export type AttestationPolicyName = 'tdx' | 'fake' | 'any';
/** The roles of the Cocoon network; carried by our certificates, and implied by the port a peer reached. */
export type NodeRole = 'client' | 'proxy' | 'worker';
export type TcbStatus =
  | 'UpToDate'
  | 'SWHardeningNeeded'
  | 'ConfigurationNeeded'
  | 'ConfigurationAndSWHardeningNeeded'
  | 'OutOfDate'
  | 'OutOfDateConfigurationNeeded'
  | 'Revoked'
  | 'unknown';

/** Why a peer was refused, in a few words a program can switch on; `error` has the sentence. */
export type RefusalCode =
  | 'bad_certificate'
  | 'certificate_expired'
  | 'bad_quote'
  | 'report_data_mismatch'
  | 'development_quote'
  | 'no_quote'
  | 'debug_td'
  | 'qe_identity'
  | 'tcb_status'
  | 'no_collateral'
  | 'image_not_allowed'
  | 'wrong_role';

export interface TdMeasurements {
  teeTcbSvn: string;
  mrSeam: string;
  mrSignerSeam: string;
  seamAttributes: string;
  tdAttributes: string;
  xfam: string;
  mrTd: string;
  mrConfigId: string;
  mrOwner: string;
  mrOwnerConfig: string;
  rtmr0: string;
  rtmr1: string;
  rtmr2: string;
  rtmr3: string;
  reportData: string;
}

export interface AttestationReport {
  /** True when every check passed under `policy`. */
  valid: boolean;
  policy: AttestationPolicyName;
  /** `tdx` for a DCAP quote, `fake` for the reference's development quote, `none` for a plain certificate. */
  quoteKind: 'tdx' | 'fake' | 'none';
  /** The reference's image hash (see td-report.ts); null without a quote. */
  imageHash: string | null;
  /** Whether the allowlist for the peer's role (from the root contract when configured) contains imageHash; null when there is no allowlist. */
  imageAllowed: boolean | null;
  measurements: TdMeasurements | null;
  tcbStatus: TcbStatus;
  /** The role the peer's certificate names (our extension), or null for a reference certificate. */
  role?: NodeRole | null;
  certificate: {
    subject: string;
    notBefore: string;
    notAfter: string;
    /** Ed25519 public key, hex. */
    publicKey: string;
  } | null;
  /** Why verification failed, when it did: one sentence a person can act on. */
  error?: string;
  code?: RefusalCode;
}

import type { AttestationPolicyName, TdMeasurements } from './report.ts';

/**
 * What a node accepts from its peers.
 *   tdx  — a real DCAP quote that verifies to Intel's root; allowlists apply.
 *   fake — development: quotes from a local signing key (or real ones); allowlists apply.
 *   any  — tests only: every well-formed certificate is accepted.
 * Allowlists are settable at run time so the root contract's lists can replace them.
 */
export interface PolicySpec {
  name: AttestationPolicyName;
  allowedImageHashes?: string[];
  allowedMrTd?: string[];
  allowedRtmr?: Partial<Record<'rtmr0' | 'rtmr1' | 'rtmr2' | 'rtmr3', string[]>>;
}

export class AttestationPolicy {
  readonly name: AttestationPolicyName;
  private imageHashes: Set<string> | undefined;
  private readonly mrTd: Set<string> | undefined;
  private readonly rtmr: PolicySpec['allowedRtmr'];
  /** Bumped on every allowlist change so verifier caches know to re-evaluate. */
  version = 0;

  constructor(spec: PolicySpec) {
    this.name = spec.name;
    this.imageHashes = spec.allowedImageHashes && new Set(spec.allowedImageHashes.map((h) => h.toLowerCase()));
    this.mrTd = spec.allowedMrTd && new Set(spec.allowedMrTd.map((h) => h.toLowerCase()));
    this.rtmr = spec.allowedRtmr;
  }

  setAllowedImageHashes(hashes: string[] | undefined): void {
    this.imageHashes = hashes && new Set(hashes.map((h) => h.toLowerCase()));
    this.version++;
  }

  /** null when there is no image allowlist. */
  imageAllowed(imageHash: string): boolean | null {
    return this.imageHashes ? this.imageHashes.has(imageHash) : null;
  }

  /** The first measurement the allowlists refuse, as a sentence; undefined when all pass. */
  refuse(imageHash: string, m: TdMeasurements): string | undefined {
    if (this.imageHashes && !this.imageHashes.has(imageHash)) return `image hash ${imageHash} is not in the allowed list`;
    if (this.mrTd && !this.mrTd.has(m.mrTd)) return `MRTD ${m.mrTd} is not in the allowed list`;
    for (const [reg, allowed] of Object.entries(this.rtmr ?? {})) {
      const value = m[reg as keyof TdMeasurements];
      if (allowed && !allowed.map((v) => v.toLowerCase()).includes(value)) return `${reg.toUpperCase()} ${value} is not in the allowed list`;
    }
    return undefined;
  }
}

export function createPolicy(spec: PolicySpec): AttestationPolicy {
  return new AttestationPolicy(spec);
}

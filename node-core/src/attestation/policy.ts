import { CocoonError } from '../errors.ts';
import type { CollateralSource } from './collateral-cache.ts';
import type { AttestationPolicyName, TcbStatus, TdMeasurements } from './report.ts';

/**
 * What a node accepts from its peers.
 *   tdx  — production, the default everywhere: a real DCAP quote that verifies to Intel's root,
 *          from Intel's TD quoting enclave, no debug TD, a TCB status the policy accepts (from
 *          collateral), and an image on the allowlist for the peer's role.
 *   fake — DEVELOPMENT: the reference's 64-byte development quotes (or real ones). Not
 *          confidential. Refused on testnet and mainnet.
 *   any  — TESTS: every well-formed certificate, plain ones included. Refused on testnet and mainnet.
 * Allowlists are settable at run time so the root contract's lists (live-policy.ts) replace them.
 */
export type NetworkKind = 'mainnet' | 'testnet' | 'local';

export interface PolicySpec {
  name: AttestationPolicyName;
  /** The network the node is configured for; `fake` and `any` are refused on testnet/mainnet. */
  network?: NetworkKind;
  allowedImageHashes?: string[];
  allowedMrTd?: string[];
  allowedRtmr?: Partial<Record<'rtmr0' | 'rtmr1' | 'rtmr2' | 'rtmr3', string[]>>;
  /** TCB statuses accepted (tdx): default UpToDate only. Revoked is never accepted. */
  acceptTcb?: TcbStatus[];
  /** Collateral for TCB status and CRLs (tdx). Without it the tdx policy refuses (fail closed) unless requireCollateral is false. */
  collateral?: CollateralSource;
  requireCollateral?: boolean;
  /** tdx refuses every attested peer when it has no image allowlist (default true); inspection tools turn this off. */
  requireImageAllowlist?: boolean;
  /** TESTS ONLY: stand-in Intel root (refused outside the test runner). */
  testOnlyRootDer?: Buffer;
}

export const DEFAULT_ACCEPTED_TCB: readonly TcbStatus[] = ['UpToDate'];
const CONFIGURABLE_TCB: readonly TcbStatus[] = ['UpToDate', 'SWHardeningNeeded', 'ConfigurationNeeded', 'ConfigurationAndSWHardeningNeeded', 'OutOfDate', 'OutOfDateConfigurationNeeded'];

export class AttestationPolicy {
  readonly name: AttestationPolicyName;
  readonly network: NetworkKind | undefined;
  readonly acceptTcb: ReadonlySet<TcbStatus>;
  readonly collateral: CollateralSource | undefined;
  readonly requireCollateral: boolean;
  readonly requireImageAllowlist: boolean;
  readonly testOnlyRootDer: Buffer | undefined;
  private imageHashes: Set<string> | undefined;
  private readonly mrTd: Set<string> | undefined;
  private readonly rtmr: PolicySpec['allowedRtmr'];
  /** Bumped on every allowlist change so verifier caches know to re-evaluate. */
  version = 0;
  private readonly listeners = new Set<() => void>();

  constructor(spec: PolicySpec) {
    if (!['tdx', 'fake', 'any'].includes(spec.name)) throw new CocoonError('bad_policy', `policy must be tdx, fake or any, got "${spec.name}"`);
    if (spec.name !== 'tdx' && (spec.network === 'mainnet' || spec.network === 'testnet')) {
      throw new CocoonError('policy_refused', `the ${spec.name} policy is for ${spec.name === 'any' ? 'tests' : 'development'} only and is refused on ${spec.network}`, {
        hint: 'use --policy tdx (the default) on testnet and mainnet',
      });
    }
    for (const s of spec.acceptTcb ?? []) {
      if (!CONFIGURABLE_TCB.includes(s)) throw new CocoonError('bad_policy', `TCB status "${s}" cannot be accepted; choose from ${CONFIGURABLE_TCB.join(', ')}`);
    }
    this.name = spec.name;
    this.network = spec.network;
    this.acceptTcb = new Set(spec.acceptTcb ?? DEFAULT_ACCEPTED_TCB);
    this.collateral = spec.collateral;
    this.requireCollateral = spec.requireCollateral ?? true;
    this.requireImageAllowlist = spec.requireImageAllowlist ?? true;
    this.testOnlyRootDer = spec.testOnlyRootDer;
    this.imageHashes = spec.allowedImageHashes && new Set(spec.allowedImageHashes.map((h) => h.toLowerCase()));
    this.mrTd = spec.allowedMrTd && new Set(spec.allowedMrTd.map((h) => h.toLowerCase()));
    this.rtmr = spec.allowedRtmr;
  }

  setAllowedImageHashes(hashes: string[] | undefined): void {
    this.imageHashes = hashes && new Set(hashes.map((h) => h.toLowerCase()));
    this.version++;
    for (const l of this.listeners) l();
  }

  /** Called after every allowlist change (live policies re-check open connections). */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** null when there is no image allowlist. */
  imageAllowed(imageHash: string): boolean | null {
    return this.imageHashes ? this.imageHashes.has(imageHash) : null;
  }

  hasImageAllowlist(): boolean {
    return this.imageHashes !== undefined;
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

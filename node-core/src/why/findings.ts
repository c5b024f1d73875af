/**
 * "Why can't my host join?" — one finding per thing that can stop a worker: what was checked,
 * what was found, and for anything not `pass` what to do. Shared by `cocoon why` and owner mode.
 */
export type FindingStatus = 'pass' | 'warn' | 'fail' | 'skip';
export type FindingSection = 'host' | 'image' | 'chain' | 'proxy';

export interface Finding {
  section: FindingSection;
  /** Stable id, e.g. `chain-reachable`, `image-allowed`, `proxy-accepts`, `host-kernel`. */
  id: string;
  /** What the finding is about when there are several (a proxy's HOST:PORT, a GPU). */
  subject?: string;
  status: FindingStatus;
  detail: string;
  /** What to do (commands or settings), for anything not `pass`. */
  fix?: string;
  /** The proxy's refusal, as it sent it. */
  refusal?: { code: string; reason: string };
}

export interface WhyReport {
  findings: Finding[];
  /** No finding failed. */
  ready: boolean;
  /** The first failing finding's fix: what to do first. */
  firstFix: string | null;
}

export function reportOf(findings: Finding[]): WhyReport {
  const firstFail = findings.find((f) => f.status === 'fail');
  return { findings, ready: !firstFail, firstFix: firstFail?.fix ?? null };
}

/**
 * What an owner does about each reason a proxy gives when it refuses a worker (the codes of
 * attestation/report.ts RefusalCode, sent on the wire by attestation/refusal.ts).
 */
export function adviceForRefusal(code: string, imageHash?: string | null): string {
  switch (code) {
    case 'image_not_allowed':
      return `the proxy does not allow this worker's image: the root's owner must add its hash (\`cocoon root add-image --kind worker --hash ${imageHash ?? 'HASH'}\`), or run an image that is on the root's allowlist (\`cocoon root show\`)`;
    case 'tcb_status':
      return 'the platform\'s TCB is out of date: update the BIOS/microcode and the TDX module from your server vendor, then re-register with Intel PCS (see the vendor\'s TDX guide)';
    case 'certificate_expired':
      return 'the worker\'s RA-TLS certificate is outside its validity: check the host and guest clocks (NTP), then restart the worker so it issues a fresh certificate';
    case 'wrong_role':
      return 'the worker dialed with a certificate of another role, or the proxy\'s client port: use the proxy\'s worker address from the root (`cocoon root show`, "workers …")';
    case 'development_quote':
    case 'no_quote':
      return 'the proxy requires a real TDX quote: the worker must run inside a TD guest (`cocoon td launch`), not with development quotes';
    case 'debug_td':
      return 'the guest runs as a debug TD: launch it without debug (the production `cocoon td launch` never sets it)';
    case 'qe_identity':
    case 'no_collateral':
      return 'the proxy could not evaluate this platform\'s quote collateral: make sure the host\'s PCK certificates are registered (Intel PCS / PCCS) and retry later';
    case 'bad_quote':
    case 'report_data_mismatch':
    case 'bad_certificate':
      return 'the worker\'s attestation is malformed: rebuild or re-download the guest image and relaunch';
    case 'model_not_served':
      return 'this proxy does not serve the worker\'s model: choose a model the network lists, or another proxy';
    default:
      return 'the proxy refused this worker; its reason is above — contact the proxy operator if it is unclear';
  }
}

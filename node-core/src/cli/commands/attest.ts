import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createCollateralCache, createPeerVerifier, createPolicy, parseTdxQuote, verifyTdxQuote, type AttestationPolicyName, type NodeRole } from '../../attestation/index.ts';
import { fetchCollateralFromPccs, loadCollateral, tcbStatusWithCollateral } from '../../attestation/collateral.ts';
import type { Collateral } from '@phala/dcap-qvl';
import { CocoonError, errorMessage } from '../../errors.ts';
import { parseFlags, type CliCommand } from '../command.ts';

const usage = 'cocoon attest verify QUOTEFILE [--json] [--collateral FILE|URL | --pccs PCCS_URL] | cocoon attest cert PEMFILE [--json] [--policy tdx|fake|any] [--role proxy|worker|client] [--allow-image HASH]... [--pccs URL]';

async function readInput(path: string | undefined, what: string): Promise<Buffer> {
  if (!path) throw new CocoonError('bad_flag', `missing ${what} file`, { hint: `usage: ${usage}` });
  try {
    return await readFile(path);
  } catch (err) {
    throw new CocoonError('unreadable', `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`);
  }
}

function print(json: boolean, result: Record<string, unknown>, lines: string[]): void {
  process.stdout.write(json ? JSON.stringify(result) + '\n' : lines.join('\n') + '\n');
}

async function readCollateral(source: string, pccs: boolean, quote: Buffer): Promise<Collateral> {
  try {
    return pccs ? await fetchCollateralFromPccs(source, quote) : await loadCollateral(source);
  } catch (err) {
    throw new CocoonError('bad_collateral', errorMessage(err), { hint: 'pass --collateral with the PCCS v4 collateral JSON for this quote\'s FMSPC or --pccs with a reachable PCCS, or run without either (tcbStatus is then "unknown")' });
  }
}

async function verifyQuote(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, { json: { type: 'boolean' }, collateral: { type: 'string' }, pccs: { type: 'string' } }, usage);
  if (values.collateral && values.pccs) throw new CocoonError('bad_flag', 'pass either --collateral or --pccs, not both', { hint: `usage: ${usage}` });
  const quote = await readInput(positionals[0], 'quote');
  // Collateral is read and shape-checked before the quote so a bad file is a usage error, not an INVALID quote.
  const source = values.pccs ?? values.collateral;
  const collateral = source ? await readCollateral(source, values.pccs !== undefined, quote) : undefined;
  let parsed;
  try {
    parsed = parseTdxQuote(quote);
  } catch (err) {
    print(!!values.json, { valid: false, error: errorMessage(err) }, [`INVALID: ${errorMessage(err)}`]);
    return 1;
  }
  const m = parsed.measurements;
  const fields = {
    version: parsed.version, teeType: `0x${parsed.teeType.toString(16)}`, mrtd: m.mrTd, rtmr0: m.rtmr0, rtmr1: m.rtmr1, rtmr2: m.rtmr2, rtmr3: m.rtmr3,
    reportData: m.reportData, mrSeam: m.mrSeam, tdAttributes: m.tdAttributes, xfam: m.xfam, imageHash: parsed.imageHash, tcbStatus: 'unknown', advisoryIds: undefined as string | undefined,
  };
  let error: string | undefined;
  try {
    verifyTdxQuote(parsed);
    if (collateral) {
      const t = await tcbStatusWithCollateral(quote, collateral);
      fields.tcbStatus = t.tcbStatus;
      if (t.advisoryIds.length) fields.advisoryIds = t.advisoryIds.join(',');
    }
  } catch (err) {
    error = errorMessage(err);
  }
  const lines = [
    error ? `INVALID: ${error}` : 'VALID: quote signature, QE report and PCK chain verify to the Intel SGX Root CA',
    ...Object.entries(fields).filter(([, v]) => v !== undefined).map(([k, v]) => `  ${k.padEnd(12)} ${v}`),
  ];
  print(!!values.json, { valid: !error, ...fields, ...(error && { error }) }, lines);
  return error ? 1 : 0;
}

async function inspectCert(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    json: { type: 'boolean' }, policy: { type: 'string' }, role: { type: 'string' }, 'allow-image': { type: 'string', multiple: true }, pccs: { type: 'string' },
  }, usage);
  // Production is the default here too: a development certificate must be inspected with --policy fake.
  const policyName = (values.policy ?? 'tdx') as AttestationPolicyName;
  const role = values.role as NodeRole | undefined;
  if (role !== undefined && !['proxy', 'worker', 'client'].includes(role)) throw new CocoonError('bad_flag', `--role must be proxy, worker or client, got "${role}"`);
  if (!['tdx', 'fake', 'any'].includes(policyName)) throw new CocoonError('bad_flag', `--policy must be tdx, fake or any, got "${values.policy}"`);
  const raw = await readInput(positionals[0], 'certificate');
  let der: Buffer;
  try {
    der = new X509Certificate(raw).raw; // accepts PEM and DER
  } catch (err) {
    throw new CocoonError('bad_certificate', `${positionals[0]} is not a PEM or DER certificate: ${errorMessage(err)}`);
  }
  // An inspection: without --allow-image the image is reported, not refused; without --pccs the TCB status is "unknown".
  const policy = createPolicy({
    name: policyName, requireImageAllowlist: false, requireCollateral: values.pccs !== undefined,
    ...(values['allow-image'] && { allowedImageHashes: values['allow-image'] }),
    ...(values.pccs && { collateral: createCollateralCache({ pccsUrl: values.pccs }) }),
  });
  const report = await createPeerVerifier(policy, role ? { expectedRole: role } : {}).verify(der);
  const lines = [
    report.valid ? `VALID under ${report.policy} policy` : `INVALID under ${report.policy} policy (${report.code}): ${report.error}`,
    `  quote        ${report.quoteKind}${report.quoteKind === 'fake' ? '  (DEVELOPMENT — NOT CONFIDENTIAL)' : ''}`,
    `  role         ${report.role ?? '-'}`,
    `  imageHash    ${report.imageHash ?? '-'}${report.imageAllowed === null ? '' : report.imageAllowed ? ' (allowed)' : ' (NOT allowed)'}`,
    `  mrtd         ${report.measurements?.mrTd ?? '-'}`,
    ...(['rtmr0', 'rtmr1', 'rtmr2', 'rtmr3'] as const).map((r) => `  ${r}        ${report.measurements?.[r] ?? '-'}`),
    `  validity     ${report.certificate ? `${report.certificate.notBefore} .. ${report.certificate.notAfter}` : '-'}`,
    `  tcbStatus    ${report.tcbStatus}`,
  ];
  print(!!values.json, report as unknown as Record<string, unknown>, lines);
  return report.valid ? 0 : 1;
}

export const command: CliCommand = {
  summary: 'verify a TDX quote or inspect an RA-TLS certificate',
  usage,
  async run(args) {
    const [sub, ...rest] = args;
    if (sub === 'verify') return verifyQuote(rest);
    if (sub === 'cert') return inspectCert(rest);
    throw new CocoonError('bad_flag', `unknown subcommand "${sub ?? ''}"`, { hint: `usage: ${usage}` });
  },
};

import { generateKeyPairSync, sign, verify, createPublicKey, type KeyObject } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CocoonError } from '../errors.ts';
import { TD_REPORT_BODY_SIZE, buildTdReportBody } from './td-report.ts';
import type { TdMeasurements } from './report.ts';

/** Where a node gets quotes for its REPORTDATA: the TDX module inside a TD, or a development key. */
export interface QuoteProvider {
  readonly kind: 'tdx' | 'fake';
  getQuote(reportData: Buffer): Promise<Buffer>;
}

/**
 * Development quotes: "COCOON-FAKE-QUOTE1" magic, a TD report body in the real layout (so image
 * hash and measurements work the same), the signer's Ed25519 public key and its signature over
 * magic||body. The magic makes them impossible to mistake for DCAP quotes; the `tdx` policy
 * refuses them.
 */
export const FAKE_QUOTE_MAGIC = Buffer.from('COCOON-FAKE-QUOTE1');
const FAKE_QUOTE_SIZE = FAKE_QUOTE_MAGIC.length + TD_REPORT_BODY_SIZE + 32 + 64;

/** Measurements of the development "image" when none are given: recognisable, not all zero. */
export const FAKE_DEFAULT_MEASUREMENTS: Partial<TdMeasurements> = {
  mrTd: 'fa'.repeat(48),
  rtmr0: '01'.repeat(48),
  rtmr1: '02'.repeat(48),
  rtmr2: '03'.repeat(48),
};

export function fakeQuoteProvider(opts: { measurements?: Partial<TdMeasurements>; signingKey?: KeyObject } = {}): QuoteProvider {
  const key = opts.signingKey ?? generateKeyPairSync('ed25519').privateKey;
  const publicRaw = createPublicKey(key).export({ format: 'der', type: 'spki' }).subarray(-32);
  const measurements = { ...FAKE_DEFAULT_MEASUREMENTS, ...opts.measurements };
  return {
    kind: 'fake',
    async getQuote(reportData) {
      const signed = Buffer.concat([FAKE_QUOTE_MAGIC, buildTdReportBody(measurements, reportData)]);
      return Buffer.concat([signed, publicRaw, sign(null, signed, key)]);
    },
  };
}

export function isFakeQuote(quote: Buffer): boolean {
  return quote.subarray(0, FAKE_QUOTE_MAGIC.length).equals(FAKE_QUOTE_MAGIC);
}

/** Verifies a development quote's own signature; returns its body and signer key. */
export function parseFakeQuote(quote: Buffer): { body: Buffer; signer: string } {
  if (quote.length !== FAKE_QUOTE_SIZE || !isFakeQuote(quote)) throw new Error('malformed development quote');
  const signedEnd = FAKE_QUOTE_MAGIC.length + TD_REPORT_BODY_SIZE;
  const signerRaw = quote.subarray(signedEnd, signedEnd + 32);
  const signer = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: signerRaw.toString('base64url') }, format: 'jwk' });
  if (!verify(null, quote.subarray(0, signedEnd), signer, quote.subarray(signedEnd + 32))) throw new Error('development quote signature is invalid');
  return { body: quote.subarray(FAKE_QUOTE_MAGIC.length, signedEnd), signer: signerRaw.toString('hex') };
}

/**
 * Real quotes inside a TD guest through the kernel's configfs-tsm interface: create a report
 * entry, write REPORTDATA to `inblob`, read the quote from `outblob`. `path` is configurable so
 * the logic can be exercised on a plain directory in tests.
 */
export function configfsTsmQuoteProvider(opts: { path?: string } = {}): QuoteProvider {
  const root = opts.path ?? '/sys/kernel/config/tsm/report';
  return {
    kind: 'tdx',
    async getQuote(reportData) {
      if (reportData.length !== 64) throw new CocoonError('bad_report_data', 'REPORTDATA must be 64 bytes');
      let entry: string;
      try {
        await mkdir(root, { recursive: false }).catch((e: NodeJS.ErrnoException) => { if (e.code !== 'EEXIST') throw e; });
        entry = await mkdtemp(join(root, 'cocoon-'));
      } catch (err) {
        throw new CocoonError('tsm_unavailable', `cannot create a TSM report under ${root}: ${(err as Error).message}`, {
          hint: 'quotes need a TDX guest kernel with configfs-tsm mounted (mount -t configfs none /sys/kernel/config); use the fake provider for development',
          cause: err,
        });
      }
      try {
        await writeFile(join(entry, 'inblob'), reportData);
        const provider = await readFile(join(entry, 'provider'), 'utf8').catch(() => 'tdx_guest');
        if (!provider.trim().startsWith('tdx')) throw new CocoonError('tsm_wrong_provider', `TSM provider is "${provider.trim()}", not TDX`);
        // The kernel produces the quote when outblob is read; a provider that is slower (or the
        // test stand-in) is polled briefly rather than failing on the first empty read.
        for (let attempt = 0; attempt < 100; attempt++) {
          const quote = await readFile(join(entry, 'outblob')).catch((e: NodeJS.ErrnoException) => {
            if (e.code === 'ENOENT') return Buffer.alloc(0);
            throw new CocoonError('tsm_failed', `configfs-tsm could not produce a quote: ${e.message}`, { cause: e });
          });
          if (quote.length > 0) return quote;
          await new Promise((r) => setTimeout(r, 20));
        }
        throw new CocoonError('tsm_empty_quote', 'configfs-tsm returned no quote within 2 s');
      } finally {
        // configfs entries are removed with rmdir; a plain directory (tests) needs a recursive rm.
        await rmdir(entry).catch(() => rm(entry, { recursive: true, force: true })).catch(() => undefined);
      }
    },
  };
}

import { mkdir, mkdtemp, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CocoonError } from '../errors.ts';
import { buildTdReportBody, imageHashOfMeasurements } from './td-report.ts';

/** Where a node gets quotes for its REPORTDATA: the TDX module inside a TD, or (development) nowhere. */
export interface QuoteProvider {
  readonly kind: 'tdx' | 'fake';
  getQuote(reportData: Buffer): Promise<Buffer>;
}

/**
 * DEVELOPMENT quotes, in the reference's "fake TDX" format (tee/cocoon/tdx.cpp FakeTdxInterface):
 * the quote is exactly the 64-byte REPORTDATA, nothing else — no measurements, no signature. It
 * proves nothing about the peer; it exists so development networks (ours and the reference's
 * `fake_tdx` policy) run without TDX hardware. Every measurement of such a quote reads as zero,
 * so its image hash is the constant FAKE_IMAGE_HASH. Only the `fake` policy accepts it, and the
 * `fake` policy is refused on testnet and mainnet (policy.ts).
 */
export const FAKE_QUOTE_SIZE = 64;
/** Image hash of every development quote: the reference hash of all-zero measurements. */
export const FAKE_IMAGE_HASH = imageHashOfMeasurements({});

export function fakeQuoteProvider(): QuoteProvider {
  return {
    kind: 'fake',
    async getQuote(reportData) {
      if (reportData.length !== 64) throw new CocoonError('bad_report_data', 'REPORTDATA must be 64 bytes');
      return Buffer.from(reportData);
    },
  };
}

/** A development quote is told apart from a DCAP quote by its size alone, as the reference does. */
export function isFakeQuote(quote: Buffer): boolean {
  return quote.length === FAKE_QUOTE_SIZE;
}

/** The TD report body a development quote stands for: zero measurements, its REPORTDATA. */
export function fakeQuoteBody(quote: Buffer): Buffer {
  if (!isFakeQuote(quote)) throw new Error(`a development quote is ${FAKE_QUOTE_SIZE} bytes, got ${quote.length}`);
  return buildTdReportBody({}, quote);
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

import 'reflect-metadata';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { utils, type Collateral } from '@phala/dcap-qvl';
import { errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import { fetchCollateralFromPccs, parseCollateral } from './collateral.ts';

/**
 * Collateral (TCB info, QE identity, PCK and root CRLs) for the handshake verifier, cached in
 * memory and on disk with its validity, keyed by the platform's FMSPC and PCK CA, fetched from a
 * PCCS or Intel PCS v4 API and refreshed in the background before it expires. A handshake never
 * uses expired collateral: it refetches, and refuses the peer when no current collateral can be had.
 */
export interface CollateralSource {
  /** Current collateral for the quote's platform, or undefined when none can be had. */
  get(quote: Buffer): Promise<Collateral | undefined>;
}

/** Intel's Provisioning Certification Service; a PCCS (Intel's rules ask for one) serves the same API. */
export const INTEL_PCS_URL = 'https://api.trustedservices.intel.com';

interface Entry { collateral: Collateral; nextUpdate: number; quoteHex: string; fetchedAt: number }

export interface CollateralCacheOptions {
  pccsUrl?: string;
  /** Directory for the disk cache; none: memory only. */
  dir?: string;
  /** Background refresh period (default 1 h); entries within refreshAheadMs of expiry are refetched. */
  refreshMs?: number;
  refreshAheadMs?: number;
  now?: () => number;
  log?: Logger;
  fetch?: (pccsUrl: string, quote: Buffer) => Promise<Collateral>;
}

/** The earliest "valid until" among the collateral's parts (TCB info, QE identity, both CRLs). */
export function collateralNextUpdate(c: Collateral): number {
  const times: number[] = [];
  for (const text of [c.tcb_info, c.qe_identity]) {
    const next = /"nextUpdate"\s*:\s*"([^"]+)"/.exec(text)?.[1];
    times.push(next ? Date.parse(next) : NaN);
  }
  for (const crl of [c.root_ca_crl, c.pck_crl]) {
    const der = typeof crl === 'string' ? Buffer.from(crl, 'hex') : Buffer.from(crl as unknown as Uint8Array);
    try {
      times.push(new x509.X509Crl(new Uint8Array(der)).nextUpdate?.getTime() ?? NaN);
    } catch {
      times.push(NaN);
    }
  }
  return times.some(Number.isNaN) ? 0 : Math.min(...times);
}

/** FMSPC and PCK CA of the quote's platform: collateral is per platform family, not per quote. */
export function collateralKey(quote: Buffer): string {
  const pem = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/.exec(quote.toString('latin1'))?.[0];
  if (!pem) throw new Error('quote carries no PCK certificate');
  const leaf = new X509Certificate(pem);
  const fmspc = Buffer.from(utils.getFmspc(utils.getIntelExtension(leaf.raw))).toString('hex');
  const ca = /Processor/i.test(leaf.issuer) ? 'processor' : 'platform';
  return `${fmspc}-${ca}`;
}

export function createCollateralCache(opts: CollateralCacheOptions = {}): CollateralSource & { refresh(): Promise<void>; close(): void } {
  const pccsUrl = opts.pccsUrl ?? INTEL_PCS_URL;
  const now = opts.now ?? Date.now;
  const fetchOne = opts.fetch ?? ((url: string, quote: Buffer) => fetchCollateralFromPccs(url, quote));
  const aheadMs = opts.refreshAheadMs ?? 6 * 3_600_000;
  const memory = new Map<string, Entry>();
  const inFlight = new Map<string, Promise<Entry | undefined>>();
  const file = (key: string) => opts.dir && join(opts.dir, `${createHash('sha256').update(key).digest('hex').slice(0, 32)}.json`);
  if (opts.dir) mkdirSync(opts.dir, { recursive: true });

  const fromDisk = (key: string): Entry | undefined => {
    const path = file(key);
    if (!path) return undefined;
    try {
      const raw = JSON.parse(readFileSync(path, 'utf8')) as Entry;
      const collateral = parseCollateral(JSON.stringify(raw.collateral));
      return { ...raw, collateral, nextUpdate: collateralNextUpdate(collateral) };
    } catch {
      return undefined; // absent or damaged: fetch again
    }
  };

  const fetchAndStore = (key: string, quote: Buffer): Promise<Entry | undefined> => {
    const running = inFlight.get(key);
    if (running) return running;
    const p = (async () => {
      try {
        const collateral = await fetchOne(pccsUrl, quote);
        const entry: Entry = { collateral, nextUpdate: collateralNextUpdate(collateral), quoteHex: quote.toString('hex'), fetchedAt: now() };
        memory.set(key, entry);
        const path = file(key);
        if (path) {
          writeFileSync(`${path}.tmp`, JSON.stringify(entry));
          renameSync(`${path}.tmp`, path);
        }
        opts.log?.info({ key, nextUpdate: new Date(entry.nextUpdate).toISOString() }, 'collateral fetched');
        return entry;
      } catch (err) {
        opts.log?.warn({ key, err: errorMessage(err), pccsUrl }, 'cannot fetch collateral');
        return undefined;
      } finally {
        inFlight.delete(key);
      }
    })();
    inFlight.set(key, p);
    return p;
  };

  const current = (e: Entry | undefined) => (e && e.nextUpdate > now() ? e : undefined);

  const refresh = async () => {
    for (const [key, e] of memory) {
      if (e.nextUpdate - now() < aheadMs) await fetchAndStore(key, Buffer.from(e.quoteHex, 'hex'));
    }
  };
  const timer = setInterval(() => void refresh(), opts.refreshMs ?? 3_600_000);
  timer.unref();

  return {
    async get(quote) {
      let key: string;
      try {
        key = collateralKey(quote);
      } catch {
        return undefined;
      }
      let e = current(memory.get(key));
      if (!e) {
        e = current(fromDisk(key));
        if (e) memory.set(key, e);
      }
      if (!e) e = current(await fetchAndStore(key, quote));
      else if (e.nextUpdate - now() < aheadMs) void fetchAndStore(key, quote);
      return e?.collateral;
    },
    refresh,
    close: () => clearInterval(timer),
  };
}

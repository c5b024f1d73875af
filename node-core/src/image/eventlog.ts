/**
 * A TD's measurement event log, replayed into RTMR0..3 and compared with the registers a quote
 * reports. This is how an expected measurement is checked against a real boot: every event the
 * firmware, the EFI stub and our init extended is in the log, so a mismatch names the event.
 *
 * Two encodings are read:
 * - the binary CCEL log (what `/sys/firmware/acpi/tables/data/CCEL` holds in the guest): TCG PC
 *   Client crypto-agile format — one TCG_PCR_EVENT header event (SHA-1 layout, the
 *   "Spec ID Event03" naming the digest algorithms and their sizes), then TCG_PCR_EVENT2 records
 *   (`index u32, type u32, digest count u32, {alg u16, digest}…, size u32, event`); unused space
 *   after the last record is 0xFF or 0x00. The index is the CC measurement register: 1..4 are
 *   RTMR0..3 (0 would be MRTD, which is never in the log);
 * - the JSON list dstack-style guests publish (`[{imr, event_type, digest, event_payload}]`, or an
 *   object with an `event_log` array): `imr` is already the RTMR number.
 */
import { CocoonError } from '../errors.ts';
import { replay, type MeasuredEvent } from './rtmr.ts';

export interface LogEvent {
  /** RTMR number 0..3. */
  rtmr: number;
  type: number;
  /** SHA-384 digest, hex. */
  digest: string;
  /** Raw event data, hex. */
  data: string;
}

const EV_NO_ACTION = 3;
const TPM_ALG_SHA384 = 0x000c;

export const EVENT_TYPE_NAMES: Record<number, string> = {
  0x4: 'EV_SEPARATOR', 0x6: 'EV_EVENT_TAG', 0xa: 'EV_PLATFORM_CONFIG_FLAGS', 0xd: 'EV_IPL',
  0x80000001: 'EV_EFI_VARIABLE_DRIVER_CONFIG', 0x80000002: 'EV_EFI_VARIABLE_BOOT', 0x80000003: 'EV_EFI_BOOT_SERVICES_APPLICATION',
  0x80000007: 'EV_EFI_ACTION', 0x80000008: 'EV_EFI_PLATFORM_FIRMWARE_BLOB', 0x80000009: 'EV_EFI_HANDOFF_TABLES',
  0x8000000a: 'EV_EFI_PLATFORM_FIRMWARE_BLOB2', 0x8000000b: 'EV_EFI_HANDOFF_TABLES2', 0x8000000c: 'EV_EFI_VARIABLE_BOOT2',
  0x800000e0: 'EV_EFI_VARIABLE_AUTHORITY',
};

export function eventTypeName(type: number): string {
  return EVENT_TYPE_NAMES[type] ?? `0x${type.toString(16)}`;
}

function bad(message: string): CocoonError {
  return new CocoonError('bad_event_log', message, {
    hint: 'pass the guest\'s /sys/firmware/acpi/tables/data/CCEL (binary) or a JSON event log [{imr, event_type, digest, event_payload}]',
  });
}

/** Parses a binary CCEL log or a JSON event log (detected by the first non-space byte). */
export function parseEventLog(data: Buffer): LogEvent[] {
  const first = data.toString('latin1', 0, Math.min(64, data.length)).trimStart()[0];
  return first === '[' || first === '{' ? parseJsonLog(data.toString('utf8')) : parseCcelLog(data);
}

export function parseJsonLog(text: string): LogEvent[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw bad(`event log is not valid JSON: ${(err as Error).message}`);
  }
  const list = Array.isArray(parsed) ? parsed : (parsed as { event_log?: unknown })?.event_log;
  if (!Array.isArray(list)) throw bad('JSON event log must be an array of events or an object with an "event_log" array');
  return list.map((e: unknown, i) => {
    const ev = e as { imr?: unknown; event_type?: unknown; digest?: unknown; event_payload?: unknown };
    if (typeof ev.imr !== 'number' || ev.imr < 0 || ev.imr > 3) throw bad(`event ${i}: "imr" must be 0..3`);
    if (typeof ev.digest !== 'string' || !/^[0-9a-fA-F]{96}$/.test(ev.digest)) throw bad(`event ${i}: "digest" must be 96 hex digits (SHA-384)`);
    const payload = typeof ev.event_payload === 'string' ? ev.event_payload : '';
    return { rtmr: ev.imr, type: typeof ev.event_type === 'number' ? ev.event_type : 0, digest: ev.digest.toLowerCase(), data: payload.toLowerCase() };
  });
}

export function parseCcelLog(log: Buffer): LogEvent[] {
  let at = 0;
  const need = (n: number, what: string) => {
    if (at + n > log.length) throw bad(`event log truncated: ${what} at offset ${at} needs ${n} bytes, the log has ${log.length}`);
  };
  // Header event, SHA-1 layout: index, type, 20-byte digest, size, Spec ID event.
  need(32, 'header event');
  if (log.readUInt32LE(4) !== EV_NO_ACTION) throw bad('the first event is not the EV_NO_ACTION "Spec ID Event03" header: not a crypto-agile TCG log');
  const headerSize = log.readUInt32LE(28);
  need(32 + headerSize, 'Spec ID event');
  const spec = log.subarray(32, 32 + headerSize);
  if (spec.toString('latin1', 0, 15) !== 'Spec ID Event03') throw bad('header event is not "Spec ID Event03"');
  const algCount = spec.readUInt32LE(24);
  const sizes = new Map<number, number>();
  for (let i = 0; i < algCount; i++) sizes.set(spec.readUInt16LE(28 + 4 * i), spec.readUInt16LE(30 + 4 * i));
  if (!sizes.has(TPM_ALG_SHA384)) throw bad('the log carries no SHA-384 digests; TDX RTMRs are SHA-384');
  at = 32 + headerSize;

  const events: LogEvent[] = [];
  while (at + 8 <= log.length) {
    const index = log.readUInt32LE(at);
    if (index === 0xffffffff || (index === 0 && log.readUInt32LE(at + 4) === 0)) break; // unused log space
    need(12, 'event header');
    const type = log.readUInt32LE(at + 4);
    const count = log.readUInt32LE(at + 8);
    at += 12;
    let sha384: string | undefined;
    for (let i = 0; i < count; i++) {
      need(2, 'digest algorithm');
      const alg = log.readUInt16LE(at);
      const size = sizes.get(alg);
      if (size === undefined) throw bad(`event ${events.length}: digest algorithm 0x${alg.toString(16)} is not declared in the Spec ID event`);
      need(2 + size, 'digest');
      if (alg === TPM_ALG_SHA384) sha384 = log.toString('hex', at + 2, at + 2 + size);
      at += 2 + size;
    }
    need(4, 'event size');
    const size = log.readUInt32LE(at);
    need(4 + size, 'event data');
    const data = log.toString('hex', at + 4, at + 4 + size);
    at += 4 + size;
    if (type === EV_NO_ACTION) continue; // informational, never extended
    if (index < 1 || index > 4) throw bad(`event ${events.length}: measurement register index ${index} is not an RTMR (1..4)`);
    if (!sha384) throw bad(`event ${events.length} has no SHA-384 digest`);
    events.push({ rtmr: index - 1, type, digest: sha384, data });
  }
  return events;
}

/** The events of one RTMR as a replayable list. */
export function eventsOf(log: readonly LogEvent[], rtmr: number): MeasuredEvent[] {
  return log.filter((e) => e.rtmr === rtmr).map((e) => ({ description: describe(e), digest: e.digest }));
}

/** RTMR0..3 as the log replays them. */
export function replayLog(log: readonly LogEvent[]): string[] {
  return [0, 1, 2, 3].map((i) => replay(eventsOf(log, i)).toString('hex'));
}

function describe(e: LogEvent): string {
  const data = Buffer.from(e.data, 'hex');
  const ascii = /^[\x20-\x7e]+\0?$/.test(data.toString('latin1')) ? ` "${data.toString('latin1').replace(/\0$/, '')}"` : '';
  return `${eventTypeName(e.type)}${ascii}`;
}

export interface RegisterComparison {
  register: string;
  replayed: string;
  reported: string;
  match: boolean;
}

/** Compares a replayed log with the RTMRs a quote (or a TD report) carries. */
export function compareWithReport(log: readonly LogEvent[], reported: { rtmr0: string; rtmr1: string; rtmr2: string; rtmr3: string }): RegisterComparison[] {
  const replayed = replayLog(log);
  const values = [reported.rtmr0, reported.rtmr1, reported.rtmr2, reported.rtmr3];
  return replayed.map((r, i) => ({ register: `rtmr${i}`, replayed: r, reported: values[i]!.toLowerCase(), match: r === values[i]!.toLowerCase() }));
}

/** The digests of the three QEMU ACPI blobs (loader, RSDP, tables) OVMF measured, in log order. */
export function acpiDigestsFromLog(log: readonly LogEvent[]): string[] {
  const acpi = log.filter((e) => e.rtmr === 0 && e.type === 0xa && Buffer.from(e.data, 'hex').toString('latin1').startsWith('ACPI DATA'));
  if (acpi.length !== 3) throw bad(`expected 3 "ACPI DATA" events in RTMR0 (table loader, RSDP, tables), found ${acpi.length}`);
  return acpi.map((e) => e.digest);
}

/**
 * RTMR0 as TDVF (edk2 OVMF built for TDX) extends it for a QEMU direct kernel boot.
 *
 * The events, in the order the firmware logs them (checked against the RTMR0 of a real TD's
 * quote and event log: testdata/measure/tdx-boot/README.md):
 *  1. EV_EFI_HANDOFF_TABLES2 "TdxTable": the TD HOB QEMU wrote (memory map)      ← firmware + memory
 *  2. EV_EFI_PLATFORM_FIRMWARE_BLOB2: the configuration firmware volume (CFV)    ← firmware
 *  3. EV_EFI_VARIABLE_DRIVER_CONFIG ×5: SecureBoot, PK, KEK, db, dbx              ← Secure Boot state
 *  4. EV_SEPARATOR                                                                ← fixed
 *  5. EV_PLATFORM_CONFIG_FLAGS "ACPI DATA" ×3: QEMU's fw_cfg table loader, RSDP and tables
 *                                                                    ← QEMU version, CPUs, memory, devices
 *  6. EV_EFI_VARIABLE_BOOT: BootOrder, then Boot0000 (OVMF's UiApp load option)   ← firmware layout
 *
 * What cannot be produced here: QEMU's ACPI blobs. They are given as files dumped from the QEMU
 * used (`etc/table-loader`, `etc/acpi/rsdp`, `etc/acpi/tables` fw_cfg files), or their three
 * digests are taken from the event log of one TD booted with the same QEMU and machine options.
 * Everything else is computed. Newer edk2 (stable202505+) logs more boot events (fw_cfg boot
 * menu/order, a variable-authority event, Boot0001); that layout is not implemented, and a
 * mismatch against a real log (`cocoon image eventlog`) shows it.
 */
import { createHash } from 'node:crypto';
import { CocoonError } from '../errors.ts';
import { below4gMemory } from './linux-boot.ts';
import { event, sha384, type MeasuredEvent } from './rtmr.ts';
import { cfvDigest, guidBytes, parseTdvf } from './tdvf.ts';

const EFI_GLOBAL_VARIABLE = '8be4df61-93ca-11d2-aa0d-00e098032b8c';
const EFI_IMAGE_SECURITY_DATABASE = 'd719b2cb-3d3a-4596-a3bc-dad00e67656f';
/** OVMF's DXE firmware volume name and MdeModulePkg's UiApp file GUID (fixed in edk2's sources). */
const OVMF_DXE_FV = '7cb8bdc9-f8eb-4f34-aaea-3ee4af6516a1';
const UIAPP_FILE = '462caa21-7614-4503-836e-8ab6f4662331';

export interface AcpiBlobs {
  /** fw_cfg `etc/table-loader` (QEMU pads it to 4 KiB). */
  loader: Buffer;
  /** fw_cfg `etc/acpi/rsdp`. */
  rsdp: Buffer;
  /** fw_cfg `etc/acpi/tables`. */
  tables: Buffer;
}

export interface Rtmr0Input {
  firmware: Buffer;
  memoryBytes: bigint;
  /** QEMU's ACPI blobs, or the three digests (loader, RSDP, tables) from a same-machine TD's log. */
  acpi: AcpiBlobs | { digests: string[] };
  /**
   * The SecureBoot variable as OVMF measures it: `absent` (no such variable: data length 0, what
   * OVMF builds without enrolled keys log) or `disabled` (one byte 0x00).
   */
  secureBoot?: 'absent' | 'disabled';
}

export interface Rtmr0Event extends MeasuredEvent {
  source: 'computed' | 'supplied';
}

/** Builds the TD HOB as QEMU's TDX support writes it (hw/i386/tdvf-hob.c) and returns the measured bytes. */
export function tdHob(firmware: Buffer, memoryBytes: bigint): Buffer {
  const sections = parseTdvf(firmware);
  const hobSection = sections.find((s) => s.type === 'TD_HOB');
  if (!hobSection) throw new CocoonError('bad_firmware', 'the firmware\'s TDVF metadata has no TD_HOB section', { hint: 'pass the TDX build of OVMF' });
  // RAM as the q35 e820 table gives it, then split where the VMM accepted (added) pages for the
  // firmware's TD_HOB and TEMP_MEM sections before the TD starts.
  const low = BigInt(below4gMemory(memoryBytes));
  let ranges: Array<{ start: bigint; end: bigint; accepted: boolean }> = [{ start: 0n, end: low, accepted: false }];
  if (memoryBytes > low) ranges.push({ start: 1n << 32n, end: (1n << 32n) + memoryBytes - low, accepted: false });
  for (const s of sections) {
    if (s.type !== 'TD_HOB' && s.type !== 'TEMP_MEM') continue;
    const start = s.memoryAddress;
    const end = s.memoryAddress + s.memoryDataSize;
    const next: typeof ranges = [];
    for (const r of ranges) {
      if (r.accepted || r.end <= start || r.start >= end) {
        next.push(r);
        continue;
      }
      if (r.start < start) next.push({ start: r.start, end: start, accepted: false });
      if (r.end > end) next.push({ start: end, end: r.end, accepted: false });
    }
    next.push({ start, end, accepted: true });
    ranges = next.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  }
  const hobs: Buffer[] = [];
  const phit = Buffer.alloc(56);
  phit.writeUInt16LE(0x0001, 0); // EFI_HOB_TYPE_HANDOFF
  phit.writeUInt16LE(56, 2);
  phit.writeUInt32LE(9, 8); // EFI_HOB_HANDOFF_TABLE_VERSION; boot mode and memory bounds stay 0
  hobs.push(phit);
  for (const r of ranges) {
    const h = Buffer.alloc(48);
    h.writeUInt16LE(0x0003, 0); // EFI_HOB_TYPE_RESOURCE_DESCRIPTOR
    h.writeUInt16LE(48, 2);
    h.writeUInt32LE(r.accepted ? 0 : 7, 24); // EFI_RESOURCE_SYSTEM_MEMORY or EFI_RESOURCE_MEMORY_UNACCEPTED
    h.writeUInt32LE(7, 28); // PRESENT | INITIALIZED | TESTED
    h.writeBigUInt64LE(r.start, 32);
    h.writeBigUInt64LE(r.end - r.start, 40);
    hobs.push(h);
  }
  const body = Buffer.concat(hobs);
  // EfiEndOfHobList points past the 8-byte end-of-list HOB; TDVF measures up to (not including) it.
  body.writeBigUInt64LE(hobSection.memoryAddress + BigInt(body.length) + 8n, 48);
  return body;
}

/** UEFI_VARIABLE_DATA (TCG PC Client spec): GUID, name length, data length, UTF-16 name, data. */
export function uefiVariableData(vendorGuid: string, name: string, data: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(16);
  head.writeBigUInt64LE(BigInt(name.length), 0);
  head.writeBigUInt64LE(BigInt(data.length), 8);
  return Buffer.concat([guidBytes(vendorGuid), head, Buffer.from(name, 'utf16le'), data]);
}

/** EFI_LOAD_OPTION for an application in a firmware volume (how OVMF registers UiApp as Boot0000). */
export function fvAppLoadOption(attributes: number, description: string, fvGuid: string, fileGuid: string): Buffer {
  const node = (subtype: number, guid: string) => Buffer.concat([Buffer.from([0x04, subtype, 20, 0]), guidBytes(guid)]);
  const path = Buffer.concat([node(0x07, fvGuid), node(0x06, fileGuid), Buffer.from([0x7f, 0xff, 0x04, 0x00])]);
  const head = Buffer.alloc(6);
  head.writeUInt32LE(attributes, 0);
  head.writeUInt16LE(path.length, 4);
  return Buffer.concat([head, Buffer.from(description + '\0', 'utf16le'), path]);
}

function acpiEvents(acpi: Rtmr0Input['acpi']): Rtmr0Event[] {
  const names = ['QEMU table loader (etc/table-loader)', 'RSDP (etc/acpi/rsdp)', 'ACPI tables (etc/acpi/tables)'];
  if ('digests' in acpi) {
    if (acpi.digests.length !== 3 || !acpi.digests.every((d) => /^[0-9a-f]{96}$/.test(d))) {
      throw new CocoonError('bad_flag', 'ACPI digests must be three SHA-384 values: table loader, RSDP, tables');
    }
    return acpi.digests.map((d, i) => ({ ...event(`EV_PLATFORM_CONFIG_FLAGS "ACPI DATA": ${names[i]} (digest from a same-machine TD log)`, Buffer.from(d, 'hex')), source: 'supplied' as const }));
  }
  return [acpi.loader, acpi.rsdp, acpi.tables].map((blob, i) => ({ ...event(`EV_PLATFORM_CONFIG_FLAGS "ACPI DATA": ${names[i]} (${blob.length} bytes, dumped from QEMU)`, sha384(blob)), source: 'supplied' as const }));
}

/** RTMR0's events for this firmware, memory size and ACPI input. */
export function rtmr0Events(input: Rtmr0Input): Rtmr0Event[] {
  const computed = (description: string, digest: Buffer): Rtmr0Event => ({ ...event(description, digest), source: 'computed' });
  const cfv = cfvDigest(input.firmware);
  if (!cfv) throw new CocoonError('bad_firmware', 'the firmware\'s TDVF metadata has no CFV (variable store) section', { hint: 'pass the TDX build of OVMF' });
  const secureBootData = (input.secureBoot ?? 'absent') === 'disabled' ? Buffer.from([0]) : Buffer.alloc(0);
  const variable = (guid: string, name: string, data?: Buffer) =>
    computed(`EV_EFI_VARIABLE_DRIVER_CONFIG ${name}${data?.length ? ` = ${data.toString('hex')}` : ' (not set)'}`, sha384(uefiVariableData(guid, name, data)));
  const bootOrder = Buffer.alloc(2); // BootOrder = [0x0000]
  return [
    computed(`EV_EFI_HANDOFF_TABLES2 "TdxTable": TD HOB for ${input.memoryBytes} bytes of memory`, sha384(tdHob(input.firmware, input.memoryBytes))),
    computed('EV_EFI_PLATFORM_FIRMWARE_BLOB2: configuration firmware volume (CFV)', cfv),
    variable(EFI_GLOBAL_VARIABLE, 'SecureBoot', secureBootData),
    variable(EFI_GLOBAL_VARIABLE, 'PK'),
    variable(EFI_GLOBAL_VARIABLE, 'KEK'),
    variable(EFI_IMAGE_SECURITY_DATABASE, 'db'),
    variable(EFI_IMAGE_SECURITY_DATABASE, 'dbx'),
    computed('EV_SEPARATOR', sha384(Buffer.alloc(4))),
    ...acpiEvents(input.acpi),
    // EV_EFI_VARIABLE_BOOT measures the variable's data only, not the UEFI_VARIABLE_DATA wrapper.
    computed('EV_EFI_VARIABLE_BOOT BootOrder = 0000', createHash('sha384').update(bootOrder).digest()),
    computed('EV_EFI_VARIABLE_BOOT Boot0000 = UiApp (active, hidden, application)', sha384(fvAppLoadOption(0x109, 'UiApp', OVMF_DXE_FV, UIAPP_FILE))),
  ];
}

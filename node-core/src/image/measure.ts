/**
 * Expected TD measurements of a guest image for a direct kernel boot, and the image hash they
 * give. Every register says where its value comes from, so nothing guessed is presented as fact:
 *
 * - MRTD: computed from the firmware's TDVF metadata (depends on the firmware only, and on the
 *   page-add order of the VMM);
 * - RTMR0: TD HOB (memory map: depends on --memory), the firmware's variable store, Secure Boot
 *   variables, boot variables and the ACPI tables QEMU generates (depend on --cpus, --memory,
 *   every device on the QEMU command line and the QEMU version). Computed (rtmr0.ts) when QEMU's
 *   ACPI blobs, or their digests from a same-machine TD's event log, are given; else taken whole
 *   from such a TD (`--rtmr0`) or reported as `requires-live-td`;
 * - RTMR1: computed from the kernel (patched as QEMU patches it: depends on --memory and the
 *   initrd size) and OVMF's fixed boot-manager events;
 * - RTMR2: computed from the command line and initrd;
 * - RTMR3: computed from the worker configuration file, as our init extends it.
 */
import { createHash } from 'node:crypto';
import { CocoonError } from '../errors.ts';
import { imageHash } from './image-hash.ts';
import { rtmr1Events, rtmr2Events } from './linux-boot.ts';
import { replay, rtmr3Events, type MeasuredEvent } from './rtmr.ts';
import { rtmr0Events, type Rtmr0Event, type Rtmr0Input } from './rtmr0.ts';
import { computeMrtd, type PageAddOrder } from './tdvf.ts';

export interface MeasureInput {
  firmware: Buffer;
  kernel: Buffer;
  initrd: Buffer;
  cmdline: string;
  /** Guest memory in bytes, as given to QEMU's memory backend. */
  memoryBytes: bigint;
  cpus: number;
  /** The worker configuration file the TD will be given (RTMR3). */
  workerConfig?: Buffer;
  /** RTMR0 read from a TD booted with the same firmware, QEMU version and machine configuration. */
  rtmr0?: Buffer;
  /** QEMU's ACPI blobs (or their digests from a same-machine TD's log): RTMR0 is then computed. */
  acpi?: Rtmr0Input['acpi'];
  secureBoot?: Rtmr0Input['secureBoot'];
  /** QEMU's tdx-guest mrconfigid / mrowner / mrownerconfig (48 zero bytes when not set). */
  mrConfigId?: Buffer;
  mrOwner?: Buffer;
  mrOwnerConfig?: Buffer;
  pageAddOrder?: PageAddOrder;
}

export type RegisterSource = 'computed' | 'supplied' | 'default-zero' | 'requires-live-td' | 'requires-config';

export interface RegisterValue {
  value: string | null;
  source: RegisterSource;
  /** What the value depends on, so a person knows what must match between build and host. */
  dependsOn: string[];
}

export const REGISTER_NAMES = ['mrtd', 'mrconfigid', 'mrowner', 'mrownerconfig', 'rtmr0', 'rtmr1', 'rtmr2', 'rtmr3'] as const;
export type RegisterName = (typeof REGISTER_NAMES)[number];

export interface Measurement {
  registers: Record<RegisterName, RegisterValue>;
  /** Null unless every register has a value. */
  imageHash: string | null;
  computed: RegisterName[];
  supplied: RegisterName[];
  missing: RegisterName[];
  events: { rtmr0: Rtmr0Event[]; rtmr1: MeasuredEvent[]; rtmr2: MeasuredEvent[]; rtmr3: MeasuredEvent[] };
  machine: { memoryBytes: string; cpus: number; pageAddOrder: PageAddOrder };
  inputs: { firmwareSha256: string; kernelSha256: string; initrdSha256: string; cmdline: string; workerConfigSha256: string | null };
  assumptions: string[];
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function check48(name: string, b: Buffer | undefined): void {
  if (b && b.length !== 48) throw new CocoonError('bad_flag', `${name} must be 48 bytes (96 hex digits), got ${b.length}`);
}

export function measureImage(input: MeasureInput): Measurement {
  check48('rtmr0', input.rtmr0);
  check48('mrconfigid', input.mrConfigId);
  check48('mrowner', input.mrOwner);
  check48('mrownerconfig', input.mrOwnerConfig);
  const order = input.pageAddOrder ?? 'single-pass';
  const mrtd = computeMrtd(input.firmware, order);
  const r1 = rtmr1Events(input.kernel, input.initrd.length, input.cmdline, input.memoryBytes);
  const r2 = rtmr2Events(input.cmdline, input.initrd);
  const r3 = input.workerConfig ? rtmr3Events(input.workerConfig) : [];
  if (input.rtmr0 && input.acpi) throw new CocoonError('bad_flag', 'give either --rtmr0 (taken whole from a TD) or the ACPI input to compute it, not both');
  const r0 = input.acpi ? rtmr0Events({ firmware: input.firmware, memoryBytes: input.memoryBytes, acpi: input.acpi, secureBoot: input.secureBoot }) : [];
  const acpiFrom = input.acpi && 'digests' in input.acpi ? 'ACPI digests from a same-machine TD event log (supplied)' : 'QEMU ACPI blobs dumped from the QEMU used (supplied)';

  const hex = (b: Buffer) => b.toString('hex');
  const fixed = (b: Buffer | undefined, dependsOn: string[]): RegisterValue =>
    b ? { value: hex(b), source: 'supplied', dependsOn } : { value: hex(Buffer.alloc(48)), source: 'default-zero', dependsOn };
  const registers: Record<RegisterName, RegisterValue> = {
    mrtd: { value: hex(mrtd), source: 'computed', dependsOn: ['firmware', `VMM page-add order (${order})`] },
    mrconfigid: fixed(input.mrConfigId, ['QEMU tdx-guest mrconfigid']),
    mrowner: fixed(input.mrOwner, ['QEMU tdx-guest mrowner']),
    mrownerconfig: fixed(input.mrOwnerConfig, ['QEMU tdx-guest mrownerconfig']),
    rtmr0: input.rtmr0
      ? { value: hex(input.rtmr0), source: 'supplied', dependsOn: rtmr0Dependencies }
      : input.acpi
        ? { value: hex(replay(r0)), source: 'computed', dependsOn: ['firmware (TD HOB layout, CFV)', 'memory size (TD HOB)', `Secure Boot variables ${input.secureBoot ?? 'absent'}`, acpiFrom, 'OVMF boot variables: BootOrder 0000, Boot0000 UiApp (edk2 before stable202505)'] }
        : { value: null, source: 'requires-live-td', dependsOn: rtmr0Dependencies },
    rtmr1: { value: hex(replay(r1)), source: 'computed', dependsOn: ['kernel', 'initrd size', 'memory size (initrd placement)', 'OVMF boot-manager event layout'] },
    rtmr2: { value: hex(replay(r2)), source: 'computed', dependsOn: ['kernel command line', 'initrd'] },
    rtmr3: input.workerConfig
      ? { value: hex(replay(r3)), source: 'computed', dependsOn: ['worker configuration file', 'td-image/init event lines'] }
      : { value: null, source: 'requires-config', dependsOn: ['worker configuration file'] },
  };
  const names = [...REGISTER_NAMES];
  const missing = names.filter((n) => registers[n].value === null);
  const hash = missing.length
    ? null
    : imageHash({
        mrTd: mrtd,
        mrConfigId: Buffer.from(registers.mrconfigid.value!, 'hex'),
        mrOwner: Buffer.from(registers.mrowner.value!, 'hex'),
        mrOwnerConfig: Buffer.from(registers.mrownerconfig.value!, 'hex'),
        rtmr0: Buffer.from(registers.rtmr0.value!, 'hex'),
        rtmr1: Buffer.from(registers.rtmr1.value!, 'hex'),
        rtmr2: Buffer.from(registers.rtmr2.value!, 'hex'),
        rtmr3: Buffer.from(registers.rtmr3.value!, 'hex'),
      }).toString('hex');
  return {
    registers,
    imageHash: hash,
    computed: names.filter((n) => registers[n].source === 'computed'),
    supplied: names.filter((n) => registers[n].source === 'supplied'),
    missing,
    events: { rtmr0: r0, rtmr1: r1, rtmr2: r2, rtmr3: r3 },
    machine: { memoryBytes: input.memoryBytes.toString(), cpus: input.cpus, pageAddOrder: order },
    inputs: {
      firmwareSha256: sha256(input.firmware),
      kernelSha256: sha256(input.kernel),
      initrdSha256: sha256(input.initrd),
      cmdline: input.cmdline,
      workerConfigSha256: input.workerConfig ? sha256(input.workerConfig) : null,
    },
    assumptions: [
      'direct kernel boot: qemu -bios FIRMWARE -kernel KERNEL -initrd INITRD -append CMDLINE on a q35 machine',
      `MRTD page-add order ${order}: Linux >= 6.16 KVM with QEMU >= 9 adds and extends page by page; QEMU 8 TDX patches used two-pass`,
      'RTMR1 event layout of edk2 OVMF TDX builds: kernel, "Calling EFI Application from Boot Option", separator, the two ExitBootServices actions',
      'RTMR2: OVMF appends " initrd=initrd" to the command line when an initrd is given; the EFI stub measures the command line, then the initrd',
      input.acpi
        ? `RTMR0 computed with the edk2 OVMF event layout before stable202505 (TD HOB, CFV, 5 Secure Boot variables, separator, 3 ACPI blobs, BootOrder, Boot0000); the ACPI part is ${acpiFrom} and must come from the same QEMU version, --cpus ${input.cpus}, --memory and devices`
        : `RTMR0 is not computed: it covers QEMU-generated ACPI tables (depends on --cpus ${input.cpus}, --memory, devices, QEMU version); give them with --acpi-dir or --acpi-from-log, or read RTMR0 from a TD booted the same way`,
    ],
  };
}

const rtmr0Dependencies = ['firmware (CFV variable store)', 'memory size (TD HOB)', 'cpu count (ACPI MADT)', 'QEMU version and devices (ACPI tables, boot order)'];

/** Parses a memory size as QEMU writes it: bytes, or a number with K, M, G or T (binary units). */
export function parseMemorySize(text: string): bigint {
  const m = /^(\d+)([KMGT]?)B?$/i.exec(text.trim());
  if (!m) throw new CocoonError('bad_flag', `--memory must be a size like 64G, 2048M or a byte count, got "${text}"`);
  const shift = { '': 0n, K: 10n, M: 20n, G: 30n, T: 40n }[m[2]!.toUpperCase() as '' | 'K' | 'M' | 'G' | 'T'];
  const bytes = BigInt(m[1]!) << shift;
  if (bytes < 1n << 28n) throw new CocoonError('bad_flag', `--memory ${text} is below 256M; a TDX guest needs more`);
  return bytes;
}

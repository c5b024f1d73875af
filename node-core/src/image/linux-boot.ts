/**
 * What a direct kernel boot (`qemu -kernel K -initrd I -append C` with TDX OVMF) extends into
 * RTMR1 and RTMR2.
 *
 * QEMU writes into the kernel's setup header before handing it to the firmware (hw/i386/x86.c,
 * `x86_load_linux`): loader type, heap end, command-line address and the initrd's address and
 * size. The initrd goes as high as it fits below the top of low memory minus QEMU's reserved ACPI
 * area, so the measured kernel depends on the initrd's size and on the guest's memory size. OVMF
 * then measures the patched kernel's Authenticode digest into RTMR1 (PCR 4 maps to RTMR1) and
 * the EFI stub measures the command line (UTF-16, NUL-terminated, with OVMF's ` initrd=initrd`
 * appended when an initrd is given) and the initrd into RTMR2 (PCR 9 maps to RTMR2).
 */
import { CocoonError } from '../errors.ts';
import { authenticodeDigest } from './authenticode.ts';
import { event, sha384, type MeasuredEvent } from './rtmr.ts';

/** QEMU's ACPI data reservation below the top of low memory (q35 since QEMU 2.x). */
const ACPI_DATA_SIZE = 0x20000 + 0x8000;
const XLF_CAN_BE_LOADED_ABOVE_4G = 1 << 1;

/** Low memory QEMU's q35 machine gives a guest of `memoryBytes` (the rest goes above 4 GiB). */
export function below4gMemory(memoryBytes: bigint): number {
  const lowmem = memoryBytes >= 0xb0000000n ? 0x80000000n : 0xb0000000n;
  return Number(memoryBytes >= lowmem ? lowmem : memoryBytes);
}

/** The kernel as OVMF receives it after QEMU's setup-header edits. */
export function qemuPatchedKernel(kernel: Buffer, initrdSize: number, cmdline: string, memoryBytes: bigint): Buffer {
  if (kernel.length < 0x1000) throw new CocoonError('bad_kernel', `kernel image is ${kernel.length} bytes, too short for a bzImage`);
  const k = Buffer.from(kernel);
  const protocol = k.toString('latin1', 0x202, 0x206) === 'HdrS' ? k.readUInt16LE(0x206) : 0;
  const cmdlineSize = (Buffer.byteLength(cmdline) + 16) & ~15;
  const loadedHigh = (k[0x211]! & 0x01) !== 0;
  const [realAddr, cmdlineAddr] = protocol < 0x202 || !loadedHigh ? [0x90000, 0x9a000 - cmdlineSize] : [0x10000, 0x20000];

  let initrdMax: number;
  if (protocol >= 0x20c && (k.readUInt16LE(0x236) & XLF_CAN_BE_LOADED_ABOVE_4G) !== 0) initrdMax = 0xffffffff;
  else if (protocol >= 0x203) initrdMax = k.readUInt32LE(0x22c);
  else initrdMax = 0x37ffffff;
  const lowTop = below4gMemory(memoryBytes) - ACPI_DATA_SIZE;
  if (initrdMax >= lowTop) initrdMax = lowTop - 1;

  if (protocol >= 0x202) k.writeUInt32LE(cmdlineAddr, 0x228);
  else {
    k.writeUInt16LE(0xa33f, 0x20);
    k.writeUInt16LE(cmdlineAddr - realAddr, 0x22);
  }
  if (protocol >= 0x200) k[0x210] = 0xb0; // type_of_loader: QEMU
  if (protocol >= 0x201) {
    k[0x211] = k[0x211]! | 0x80; // CAN_USE_HEAP
    k.writeUInt16LE(cmdlineAddr - realAddr - 0x200, 0x224);
  }
  if (initrdSize > 0) {
    if (protocol < 0x200) throw new CocoonError('bad_kernel', 'the kernel is too old to take an initrd (boot protocol < 2.00)');
    if (initrdSize >= initrdMax) throw new CocoonError('bad_initrd', `initrd of ${initrdSize} bytes does not fit below 0x${initrdMax.toString(16)} with this memory size`);
    k.writeUInt32LE(((initrdMax - initrdSize) & ~4095) >>> 0, 0x218);
    k.writeUInt32LE(initrdSize, 0x21c);
  }
  return k;
}

/** RTMR1 events: the patched kernel, then the boot-manager actions OVMF logs around it. */
export function rtmr1Events(kernel: Buffer, initrdSize: number, cmdline: string, memoryBytes: bigint): MeasuredEvent[] {
  const patched = qemuPatchedKernel(kernel, initrdSize, cmdline, memoryBytes);
  return [
    event('EV_EFI_BOOT_SERVICES_APPLICATION: Linux kernel (Authenticode, after QEMU setup-header patch)', authenticodeDigest(patched, 'sha384')),
    event('EV_EFI_ACTION: Calling EFI Application from Boot Option', sha384('Calling EFI Application from Boot Option')),
    event('EV_SEPARATOR', sha384(Buffer.alloc(4))),
    event('EV_EFI_ACTION: Exit Boot Services Invocation', sha384('Exit Boot Services Invocation')),
    event('EV_EFI_ACTION: Exit Boot Services Returned with Success', sha384('Exit Boot Services Returned with Success')),
  ];
}

/** The command line the kernel's EFI stub sees (and measures): OVMF appends the initrd option. */
export function measuredCmdline(cmdline: string, hasInitrd: boolean): string {
  return hasInitrd ? `${cmdline} initrd=initrd` : cmdline;
}

/** RTMR2 events: the command line as UTF-16LE with its NUL, then the initrd. */
export function rtmr2Events(cmdline: string, initrd: Buffer): MeasuredEvent[] {
  const line = measuredCmdline(cmdline, initrd.length > 0);
  const events = [event(`EV_EVENT_TAG: kernel command line "${line}"`, sha384(Buffer.from(line + '\0', 'utf16le')))];
  if (initrd.length > 0) events.push(event('EV_EVENT_TAG: Linux initrd', sha384(initrd)));
  return events;
}

import { instanceLayout, type WorkerConfig } from './config.ts';

/**
 * The QEMU command line of a worker guest, as a pure function of the config and the instance's
 * paths, so both shapes (TDX and emulation) are unit-tested without starting anything.
 *
 * TDX (QEMU 10.1+): q35 with a split IRQ chip, the `tdx-guest` object as confidential-guest
 * support, private memory from an explicit RAM backend, the TDX firmware as BIOS, direct kernel
 * boot (kernel, initrd and command line are measured), the GPU through vfio-pci behind its own
 * PCIe root port, vhost-vsock (the quote-generation socket sits at host CID 2, port 4050).
 * Emulation: the same devices minus TDX and the GPU, on KVM or TCG.
 */
export interface QemuPaths {
  /** QMP control socket (unix). */
  qmpSocket: string;
  /** Directory shared read-only into the guest with mount tag `spec` (worker flags, env). */
  specDir: string;
}

export type Accel = 'kvm' | 'tcg';

export interface QemuArgsOptions {
  paths: QemuPaths;
  /** Emulation only: which accelerator (see probeKvm). TDX always uses KVM. */
  accel?: Accel;
  /** Emulation only: add vhost-vsock (needs /dev/vhost-vsock on the host). */
  vsock?: boolean;
  /** Extra read-only 9p shares (development guest: host /usr, project, node_modules). */
  shares?: Array<{ tag: string; path: string }>;
}

/** TDX guest object: the quote-generation service is QGS on the host at vsock CID 2, port 4050. */
const TDX_GUEST_OBJECT = JSON.stringify({ 'qom-type': 'tdx-guest', id: 'tdx', 'quote-generation-socket': { type: 'vsock', cid: '2', port: '4050' } });

export function buildQemuArgv(c: WorkerConfig, opts: QemuArgsOptions): string[] {
  const tdx = c.mode === 'tdx';
  const layout = instanceLayout(c);
  const accel: Accel = tdx ? 'kvm' : opts.accel ?? 'tcg';
  const a: string[] = [c.qemu, '-name', `cocoon-worker-${c.instance}`];

  a.push('-machine', tdx ? 'q35,kernel-irqchip=split,confidential-guest-support=tdx,memory-backend=mem0,hpet=off' : 'q35,memory-backend=mem0');
  a.push('-accel', accel, '-cpu', accel === 'kvm' ? 'host' : 'max', '-smp', String(c.cpus));
  a.push('-m', `${c.memoryMiB}M`, '-object', `memory-backend-ram,id=mem0,size=${c.memoryMiB}M`);
  if (tdx) a.push('-object', TDX_GUEST_OBJECT);
  if (c.image.firmware) a.push('-bios', c.image.firmware);

  // Direct kernel boot: with TDX these three are measured into RTMRs by the firmware.
  a.push('-kernel', c.image.kernel, '-initrd', c.image.initrd);
  a.push('-append', guestCmdline(c));

  // No display, no default devices; the serial console is the supervisor's stdio (captured to a
  // log), QMP on a unix socket, and a guest reboot ends QEMU so the supervisor decides.
  a.push('-nodefaults', '-display', 'none', '-vga', 'none', '-no-reboot');
  a.push('-chardev', 'stdio,id=console,signal=off', '-serial', 'chardev:console', '-monitor', 'none');
  a.push('-qmp', `unix:${opts.paths.qmpSocket},server=on,wait=off`);

  if (tdx || opts.vsock) a.push('-device', `vhost-vsock-pci,guest-cid=${layout.vsockCid}`);

  const fwd = [`hostfwd=tcp:127.0.0.1:${layout.httpPort}-:${c.ports.http}`];
  if (layout.sshPort !== undefined) fwd.push(`hostfwd=tcp:127.0.0.1:${layout.sshPort}-:22`);
  for (const f of c.ports.forward) fwd.push(`hostfwd=tcp:127.0.0.1:${f.host + c.instance * 10}-:${f.guest}`);
  a.push('-netdev', ['user,id=net0', ...fwd].join(','), '-device', 'virtio-net-pci,netdev=net0');

  if (c.persistentDisk) {
    a.push('-drive', `file=${c.persistentDisk.path},format=raw,if=none,id=persistent,cache=writeback,werror=report`);
    a.push('-device', 'virtio-blk-pci,drive=persistent,serial=persistent');
  }

  for (const s of [{ tag: 'spec', path: opts.paths.specDir }, ...(opts.shares ?? [])]) {
    a.push('-virtfs', `local,path=${s.path},mount_tag=${s.tag},security_model=none,readonly=on`);
  }

  if (tdx && c.gpu) {
    // The GPU sits behind its own root port; IOMMUFD is what current TDX hosts use for
    // confidential device assignment, the legacy VFIO container works on older kernels.
    a.push('-device', 'pcie-root-port,id=gpu-port,bus=pcie.0,chassis=1');
    if (c.gpuBinding === 'iommufd') {
      a.push('-object', 'iommufd,id=iommufd0', '-device', `vfio-pci,host=${c.gpu},bus=gpu-port,iommufd=iommufd0`);
    } else {
      a.push('-device', `vfio-pci,host=${c.gpu},bus=gpu-port`);
    }
  }
  return a;
}

/** Extra kernel command line words the launcher adds (the guest reads them from /proc/cmdline). */
export function guestCmdline(c: WorkerConfig): string {
  const words = [c.image.cmdline.trim()];
  words.push(c.mode === 'tdx' && c.gpu ? 'cocoon_gpu' : 'modprobe.blacklist=nvidia');
  if (c.development) words.push('cocoon_development');
  return words.filter(Boolean).join(' ');
}

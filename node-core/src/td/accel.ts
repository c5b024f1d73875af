import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import type { Accel } from './qemu-args.ts';

/**
 * Whether KVM really works for QEMU here. An openable /dev/kvm is not enough: nested or
 * restricted KVM (some CI and cloud VMs) aborts QEMU at the first vCPU reset, so the probe starts
 * a paused machine with the same CPU model the launcher uses and quits it.
 */
export async function probeKvm(qemu = 'qemu-system-x86_64', timeoutMs = 15_000): Promise<{ ok: boolean; reason: string }> {
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
  } catch (err) {
    return { ok: false, reason: `/dev/kvm not usable (${(err as NodeJS.ErrnoException).code})` };
  }
  return new Promise((resolve) => {
    const child = spawn(qemu, ['-accel', 'kvm', '-cpu', 'host', '-machine', 'q35', '-nodefaults', '-display', 'none', '-S', '-monitor', 'stdio'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (err) => { clearTimeout(timer); resolve({ ok: false, reason: `${qemu}: ${err.message}` }); });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      const why = stderr.trim().split('\n')[0] ?? '';
      resolve(code === 0 ? { ok: true, reason: 'KVM works' } : { ok: false, reason: `KVM probe failed (${signal ?? `exit ${code}`})${why ? `: ${why}` : ''}` });
    });
    child.stdin.end('quit\n');
  });
}

/** Emulation's accelerator: KVM when the probe passes, TCG otherwise (with the reason). */
export async function chooseAccel(qemu?: string): Promise<{ accel: Accel; reason: string }> {
  const probe = await probeKvm(qemu);
  return probe.ok ? { accel: 'kvm', reason: probe.reason } : { accel: 'tcg', reason: `${probe.reason}; using TCG` };
}

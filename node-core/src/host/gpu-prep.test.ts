import { cpSync, mkdtempSync, readFileSync, readlinkSync, rmSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../cli/main.ts';
import { runDoctor } from './doctor.ts';
import { ReplayedHost } from './host-access.ts';
import { applyPlan, GpuPrepError, planPrepare, planRestore } from './gpu-prep.ts';

/**
 * GPU preparation on a copy of a recorded host tree: the sysfs writes land in the copy (the
 * replayed host's stand-in kernel moves the `driver` link as the kernel would), and the
 * doctor's gpu checks flip from fail to pass and back.
 */
const BDF = '0000:41:00.0';
const tmps: string[] = [];
function replay(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'cocoon-host-'));
  tmps.push(dir);
  cpSync(fileURLToPath(new URL(`../../../testdata/hosts/${name}`, import.meta.url)), join(dir, name), { recursive: true, verbatimSymlinks: true });
  return join(dir, name);
}
afterEach(() => { for (const d of tmps.splice(0)) rmSync(d, { recursive: true, force: true }); });
const writes = (root: string) => readFileSync(join(root, '.replay-writes.log'), 'utf8').trim().split('\n');
const driver = (root: string) => readlinkSync(join(root, `sys/bus/pci/devices/${BDF}/driver`));
const gpuStatuses = async (root: string) => (await runDoctor({ hostRoot: root })).checks.filter((c) => c.id.startsWith('gpu-')).map((c) => `${c.id}:${c.status}`);

describe('cocoon gpu prepare / restore on a replayed host', () => {
  it('prepare switches CC on, unbinds nvidia, binds vfio-pci through driver_override, and records the state', async () => {
    const root = replay('tdx-h100-nvidia-driver');
    const host = new ReplayedHost(root);
    const plan = await applyPlan(host, await planPrepare(host, '41:00.0'));
    expect(plan.steps.map((s) => `${s.id}:${s.status}`)).toEqual(['cc-mode:done', 'unbind:done', 'driver-override:done', 'probe:done', 'verify:done', 'state:done']);
    expect(host.toolCalls).toContain(`nvidia_gpu_tools.py --gpu-bdf=${BDF} --set-cc-mode=on --reset-after-cc-mode-switch`);
    expect(writes(root)).toEqual([
      `/sys/bus/pci/drivers/nvidia/unbind "${BDF}"`,
      `/sys/bus/pci/devices/${BDF}/driver_override "vfio-pci"`,
      `/sys/bus/pci/drivers_probe "${BDF}"`,
    ]);
    expect(readFileSync(join(root, `sys/bus/pci/devices/${BDF}/driver_override`), 'utf8')).toBe('vfio-pci');
    expect(driver(root)).toBe('../../drivers/vfio-pci');
    expect(JSON.parse(readFileSync(join(root, `var/lib/cocoon/gpu/${BDF}.json`), 'utf8'))).toMatchObject({ bdf: BDF, previousDriver: 'nvidia', previousCcMode: 'off' });
    // The recorded CC query still says "off" (a recording cannot change), so only vfio flips.
    expect(await gpuStatuses(root)).toEqual(['gpu-cc:fail', 'gpu-vfio:pass']);
  });

  it('restore undoes prepare: unbind vfio-pci, clear the override, probe back to nvidia, CC off, state removed', async () => {
    const root = replay('tdx-h100-nvidia-driver');
    const host = new ReplayedHost(root);
    await applyPlan(host, await planPrepare(host, BDF));
    const plan = await applyPlan(host, await planRestore(host, BDF));
    expect(plan.steps.map((s) => `${s.id}:${s.status}`)).toEqual(['unbind:done', 'driver-override:done', 'probe:done', 'verify:done', 'cc-mode:done', 'state:done']);
    expect(writes(root).slice(3)).toEqual([
      `/sys/bus/pci/drivers/vfio-pci/unbind "${BDF}"`,
      `/sys/bus/pci/devices/${BDF}/driver_override "\\n"`,
      `/sys/bus/pci/drivers_probe "${BDF}"`,
    ]);
    expect(driver(root)).toBe('../../drivers/nvidia');
    expect(host.toolCalls).toContain(`nvidia_gpu_tools.py --gpu-bdf=${BDF} --set-cc-mode=off --reset-after-cc-mode-switch`);
    expect(existsSync(join(root, `var/lib/cocoon/gpu/${BDF}.json`))).toBe(false);
  });

  it('a failed step rolls back the earlier ones: nothing is left half-applied', async () => {
    const root = replay('tdx-h100-nvidia-driver');
    // vfio-pci's driver folder missing from sysfs after the plan: the probe binds nothing, verify fails.
    const host = new ReplayedHost(root);
    const planned = await planPrepare(host, BDF);
    rmSync(join(root, 'sys/bus/pci/drivers/vfio-pci'), { recursive: true });
    const err = await applyPlan(host, planned).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GpuPrepError);
    expect((err as Error).message).toBe(`step "verify" failed: ${BDF} is bound to no driver after the probe, not vfio-pci; every earlier step was rolled back`);
    expect((err as GpuPrepError).plan.steps.map((s) => `${s.id}:${s.status}`)).toEqual(['cc-mode:rolled-back', 'unbind:rolled-back', 'driver-override:rolled-back', 'probe:rolled-back', 'verify:failed', 'state:planned']);
    expect(driver(root)).toBe('../../drivers/nvidia');
    expect(readFileSync(join(root, `sys/bus/pci/devices/${BDF}/driver_override`), 'utf8')).toBe('\n');
    expect(host.toolCalls).toContain(`nvidia_gpu_tools.py --gpu-bdf=${BDF} --set-cc-mode=off --reset-after-cc-mode-switch`);
  });

  it('refuses before any change when a precondition fails: unclean IOMMU group, missing gpu-admin-tools, not a CC GPU', async () => {
    const root = replay('tdx-h100-nvidia-driver');
    // Another device in the GPU's IOMMU group, held by a host driver.
    cpSync(join(root, `sys/bus/pci/devices/${BDF}`), join(root, 'sys/bus/pci/devices/0000:41:00.1'), { recursive: true, verbatimSymlinks: true });
    writeFileSync(join(root, 'sys/bus/pci/devices/0000:41:00.1/class'), '0x040300\n');
    cpSync(join(root, `sys/kernel/iommu_groups/45/devices/${BDF}`), join(root, 'sys/kernel/iommu_groups/45/devices/0000:41:00.1'), { verbatimSymlinks: true });
    rmSync(join(root, 'tools/nvidia_gpu_tools.py---gpu-bdf-0000-41-00.0---query-cc-mode.txt'));
    rmSync(join(root, 'tools/nvidia-smi-conf-compute--f.txt'));
    const host = new ReplayedHost(root);
    const planned = await planPrepare(host, BDF);
    expect(planned.plan.problems).toEqual([
      'IOMMU group 45 also holds 0000:41:00.1 (on nvidia): the whole group goes to the guest; bind those to vfio-pci first or move the GPU to a slot with its own group',
      `the CC mode of ${BDF} cannot be read or set: NVIDIA gpu-admin-tools is not installed. Get it: sudo git clone https://github.com/NVIDIA/gpu-admin-tools /opt/gpu-admin-tools && export COCOON_GPU_ADMIN_TOOLS=/opt/gpu-admin-tools`,
    ]);
    await expect(applyPlan(host, planned)).rejects.toThrow(/^nothing was changed: IOMMU group 45/);
    expect(existsSync(join(root, '.replay-writes.log'))).toBe(false);
    const plain = new ReplayedHost(replay('plain-host'));
    expect((await planPrepare(plain, '0000:01:00.0')).plan.problems[0]).toBe('0000:01:00.0 is an NVIDIA AD102 [GeForce RTX 4090], which has no confidential computing: workers need an H100, H200 or B200');
  });

  it('the CLI: --dry-run --json lists every step and writes nothing; a bad address is a clear error', async () => {
    const root = replay('tdx-h100-nvidia-driver');
    const out: string[] = [];
    const write = process.stdout.write;
    process.stdout.write = ((s: string) => { out.push(s); return true; }) as typeof process.stdout.write;
    let code: number;
    try {
      code = await main(['gpu', 'prepare', '--gpu', BDF, '--dry-run', '--json', '--host-root', root]);
    } finally {
      process.stdout.write = write;
    }
    expect(code).toBe(0);
    const plan = JSON.parse(out.join(''));
    expect(plan.dryRun).toBe(true);
    expect(plan.steps.map((s: { command: string }) => s.command)).toEqual([
      `sudo python3 nvidia_gpu_tools.py --gpu-bdf=${BDF} --set-cc-mode=on --reset-after-cc-mode-switch`,
      `echo ${BDF} | sudo tee /sys/bus/pci/drivers/nvidia/unbind`,
      `echo vfio-pci | sudo tee /sys/bus/pci/devices/${BDF}/driver_override`,
      `echo ${BDF} | sudo tee /sys/bus/pci/drivers_probe`,
      `readlink /sys/bus/pci/devices/${BDF}/driver`,
      `(cocoon writes /var/lib/cocoon/gpu/${BDF}.json)`,
    ]);
    expect(existsSync(join(root, '.replay-writes.log'))).toBe(false);
    const host = new ReplayedHost(root);
    expect((await planPrepare(host, 'gpu0')).plan.problems).toEqual(['"gpu0" is not a PCI address: use the form 0000:41:00.0 (see cocoon gpu list)']);
  });
});

import { basename } from 'node:path';
import type { HostAccess } from './host-access.ts';

/**
 * NVIDIA GPUs as the kernel's sysfs shows them: `/sys/bus/pci/devices/<BDF>/{vendor,device,class}`,
 * the `driver` symlink, the `iommu_group` symlink and `driver_override`.
 */
export const NVIDIA_VENDOR = '10de';

/**
 * Device ids of the confidential-computing GPU classes a worker needs. Names and ids checked
 * against pci.ids (Debian's hwdata); H200 (2335) and B200 (2901) are newer than the pci.ids
 * Debian bookworm ships, so their names are NVIDIA's product names.
 */
export const CC_GPU_MODELS: Record<string, { name: string; family: 'H100' | 'H200' | 'B200' }> = {
  '2321': { name: 'H100 NVL', family: 'H100' },
  '2322': { name: 'H800 PCIe', family: 'H100' },
  '2324': { name: 'H800', family: 'H100' },
  '2330': { name: 'H100 SXM5 80GB', family: 'H100' },
  '2331': { name: 'H100 PCIe', family: 'H100' },
  '2336': { name: 'H100', family: 'H100' },
  '2339': { name: 'H100', family: 'H100' },
  '2335': { name: 'H200 SXM 141GB', family: 'H200' },
  '2901': { name: 'B200', family: 'B200' },
};

export interface PciGpu {
  bdf: string;
  deviceId: string;
  model: string;
  ccClass: boolean;
  driver: string | null;
  driverOverride: string | null;
  iommuGroup: string | null;
}

const PCI = '/sys/bus/pci/devices';
// Display controllers (VGA 0x0300, 3D 0x0302); NVSwitches and audio functions are not GPUs.
const GPU_CLASS = /^0x030[02]/;

export function hexId(raw: string | null): string {
  return (raw ?? '').trim().replace(/^0x/, '').toLowerCase();
}

export function readGpu(host: HostAccess, bdf: string): PciGpu | null {
  const dev = `${PCI}/${bdf}`;
  if (hexId(host.readText(`${dev}/vendor`)) !== NVIDIA_VENDOR) return null;
  const deviceId = hexId(host.readText(`${dev}/device`));
  const cc = CC_GPU_MODELS[deviceId];
  const driverLink = host.readLink(`${dev}/driver`);
  const groupLink = host.readLink(`${dev}/iommu_group`);
  const override = host.readText(`${dev}/driver_override`)?.trim() ?? null;
  return {
    bdf, deviceId,
    model: cc ? `NVIDIA ${cc.name}` : pciIdsName(host, deviceId) ?? `unknown NVIDIA device 10de:${deviceId}`,
    ccClass: cc !== undefined,
    driver: driverLink ? basename(driverLink) : null,
    driverOverride: override && override !== '(null)' ? override : null,
    iommuGroup: groupLink ? basename(groupLink) : null,
  };
}

export function listNvidiaGpus(host: HostAccess): PciGpu[] {
  return host.list(PCI)
    .filter((bdf) => GPU_CLASS.test(host.readText(`${PCI}/${bdf}/class`)?.trim() ?? ''))
    .map((bdf) => readGpu(host, bdf))
    .filter((g): g is PciGpu => g !== null);
}

/** Other devices in a device's IOMMU group, with their drivers and classes. */
export function iommuGroupPeers(host: HostAccess, group: string, self: string): Array<{ bdf: string; driver: string | null; bridge: boolean }> {
  return host.list(`/sys/kernel/iommu_groups/${group}/devices`).filter((b) => b !== self).map((bdf) => {
    const link = host.readLink(`${PCI}/${bdf}/driver`);
    return { bdf, driver: link ? basename(link) : null, bridge: (host.readText(`${PCI}/${bdf}/class`) ?? '').trim().startsWith('0x0604') };
  });
}

/** A device's name from the host's pci.ids (Debian's hwdata/pciutils), when installed. */
function pciIdsName(host: HostAccess, deviceId: string): string | null {
  const ids = host.readText('/usr/share/misc/pci.ids') ?? host.readText('/usr/share/hwdata/pci.ids');
  if (!ids) return null;
  const start = ids.indexOf(`\n${NVIDIA_VENDOR}  `);
  if (start < 0) return null;
  const lines = ids.slice(start + 1).split('\n');
  for (const line of lines.slice(1)) {
    if (/^[0-9a-f]{4}/.test(line)) break;
    const m = /^\t([0-9a-f]{4})  (.+)$/.exec(line);
    if (m && m[1] === deviceId) return `NVIDIA ${m[2]}`;
  }
  return null;
}

/** `0000:41:00.0`; a short `41:00.0` gets the default domain. */
export function normalizeBdf(input: string): string | null {
  const s = input.trim().toLowerCase();
  const full = /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/.test(s) ? s : /^[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/.test(s) ? `0000:${s}` : null;
  return full;
}

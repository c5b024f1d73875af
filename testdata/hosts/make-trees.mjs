// Writes the recorded host trees in this folder from the formats the kernel and the tools
// document (sysfs PCI layout, /proc files, `nvidia-smi -q`, `nvidia-smi conf-compute -f`,
// gpu-admin-tools `--query-cc-mode`, `qemu-system-x86_64 --version` / `-object help`, `df -P -B1`).
// Run: node testdata/hosts/make-trees.mjs (rewrites the trees; commit the result).
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const GiB = 1024 ** 3;
// The TDVF metadata GUID e9eaf9f3-168e-44d5-a8eb-7f4d8738f6ae as stored in a firmware image.
const TDVF_GUID = Buffer.from('f3f9eae98e16d544a8eb7f4d8738f6ae', 'hex');

function tree(name, build) {
  const root = join(HERE, name);
  rmSync(root, { recursive: true, force: true });
  const put = (p, content) => { mkdirSync(dirname(join(root, p)), { recursive: true }); writeFileSync(join(root, p), content); };
  const link = (p, target) => { mkdirSync(dirname(join(root, p)), { recursive: true }); symlinkSync(target, join(root, p)); };
  const tool = (key, out) => put(`tools/${key}.txt`, out);
  build({ put, link, tool });
}

function cpuinfo(model, flags, cpus = 2) {
  return Array.from({ length: cpus }, (_, i) => [
    `processor\t: ${i}`, 'vendor_id\t: GenuineIntel', 'cpu family\t: 6', 'model\t\t: 207', `model name\t: ${model}`,
    'stepping\t: 2', 'cpu MHz\t\t: 2100.000', 'cache size\t: 327680 KB', `flags\t\t: ${flags}`, '',
  ].join('\n')).join('\n');
}
const BASE_FLAGS = 'fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush dts acpi mmx fxsr sse sse2 ss ht tm pbe syscall nx pdpe1gb rdtscp lm constant_tsc art arch_perfmon pebs bts rep_good nopl xtopology nonstop_tsc cpuid aperfmperf pni pclmulqdq dtes64 monitor ds_cpl';
const meminfo = (bytes) => `MemTotal:       ${bytes / 1024} kB\nMemFree:        ${Math.floor(bytes / 2048)} kB\nMemAvailable:   ${Math.floor(bytes / 1536)} kB\n`;
const df = (total, free) => `Filesystem         1-blocks         Used    Available Capacity Mounted on\n/dev/nvme0n1p2 ${total} ${total - free} ${free}      ${Math.round((1 - free / total) * 100)}% /\n`;

function pciDevice({ put, link }, bdf, { vendor, device, cls, driver, group }) {
  const d = `sys/bus/pci/devices/${bdf}`;
  put(`${d}/vendor`, `0x${vendor}\n`);
  put(`${d}/device`, `0x${device}\n`);
  put(`${d}/class`, `${cls}\n`);
  put(`${d}/driver_override`, driver === 'vfio-pci' ? 'vfio-pci\n' : '(null)\n');
  if (driver) link(`${d}/driver`, `../../drivers/${driver}`);
  if (group !== undefined) {
    link(`${d}/iommu_group`, `../../../../kernel/iommu_groups/${group}`);
    link(`sys/kernel/iommu_groups/${group}/devices/${bdf}`, `../../../../bus/pci/devices/${bdf}`);
  }
}
function pciDrivers({ put }, drivers) {
  put('sys/bus/pci/drivers_probe', '');
  for (const drv of drivers) { put(`sys/bus/pci/drivers/${drv}/bind`, ''); put(`sys/bus/pci/drivers/${drv}/unbind`, ''); }
}
function otherGroups({ put }, n) {
  for (let g = 0; g < n; g++) put(`sys/kernel/iommu_groups/${g}/type`, 'DMA\n');
}

const TDX_DMESG = [
  '[    0.000000] Linux version 6.16.3-cocoon (build@host) (gcc (Debian 14.2.0-19) 14.2.0) #1 SMP PREEMPT_DYNAMIC',
  '[    0.000000] Command line: BOOT_IMAGE=/vmlinuz-6.16.3-cocoon root=/dev/nvme0n1p2 ro intel_iommu=on iommu=pt kvm_intel.tdx=1 nohibernate',
  '[    1.842113] virt/tdx: BIOS enabled: private KeyID range [32, 64)',
  '[    1.842120] virt/tdx: Disable ACPI S3. Turn off TDX in the BIOS to use ACPI S3.',
  '[   14.201337] virt/tdx: 1050644 KB allocated for PAMT',
  '[   14.201356] virt/tdx: module initialized',
  '',
].join('\n');
const QEMU_10_1 = 'QEMU emulator version 10.1.0 (Debian 1:10.1.0+ds-1)\nCopyright (c) 2003-2025 Fabrice Bellard and the QEMU Project developers\n';
const QEMU_OBJECTS_TDX = 'List of user creatable objects:\n  authz-list\n  can-bus\n  cryptodev-backend\n  filter-dump\n  input-linux\n  iothread\n  memory-backend-file\n  memory-backend-memfd\n  memory-backend-ram\n  rng-random\n  sev-guest\n  sev-snp-guest\n  tdx-guest\n  throttle-group\n  tls-creds-x509\n';
const adminCc = (bdf, dev, mode) => `NVIDIA GPU Tools version v2025.03.26o\nCommand line arguments: ['nvidia_gpu_tools.py', '--gpu-bdf=${bdf}', '--query-cc-mode']\n2025-06-02,10:14:03.512 INFO     Selected GPU ${bdf} H100-SXM5 0x${dev} BAR0 0x23c000000000\n2025-06-02,10:14:03.641 INFO     GPU ${bdf} H100-SXM5 0x${dev} BAR0 0x23c000000000 CC mode is ${mode}\n`;
const adminSet = (bdf, what) => `NVIDIA GPU Tools version v2025.03.26o\n2025-06-02,10:15:11.020 INFO     Selected GPU ${bdf} H100-SXM5 0x2330 BAR0 0x23c000000000\n2025-06-02,10:15:14.377 INFO     GPU ${bdf} H100-SXM5 0x2330 BAR0 0x23c000000000 ${what}\n`;

function tdxHost(t, { gpuDriver, ccMode }) {
  const bdf = '0000:41:00.0';
  t.put('proc/sys/kernel/osrelease', '6.16.3-cocoon\n');
  t.put('proc/cpuinfo', cpuinfo('INTEL(R) XEON(R) PLATINUM 8570', `${BASE_FLAGS} vmx smx est tm2 ssse3 sdbg fma cx16 xtpr pdcm pcid dca sse4_1 sse4_2 x2apic movbe popcnt aes xsave avx f16c rdrand lahf_lm abm 3dnowprefetch cpuid_fault ssbd mba ibrs ibpb stibp ibrs_enhanced tdx_host_platform tpr_shadow flexpriority ept vpid ept_ad fsgsbase tsc_adjust bmi1 avx2 smep bmi2 erms invpcid rdt_a avx512f avx512dq rdseed adx smap avx512ifma clflushopt clwb intel_pt avx512cd sha_ni avx512bw avx512vl xsaveopt xsavec xgetbv1 xsaves amx_bf16 amx_tile amx_int8 tme`));
  t.put('proc/cmdline', 'BOOT_IMAGE=/vmlinuz-6.16.3-cocoon root=/dev/nvme0n1p2 ro intel_iommu=on iommu=pt kvm_intel.tdx=1 nohibernate\n');
  t.put('proc/meminfo', meminfo(512 * GiB));
  t.put('sys/module/kvm_intel/parameters/tdx', 'Y\n');
  t.put('usr/share/ovmf/OVMF.tdx.fd', Buffer.concat([Buffer.alloc(4096, 0xff), TDVF_GUID, Buffer.alloc(4096, 0)]));
  otherGroups(t, 4);
  pciDrivers(t, ['nvidia', 'vfio-pci']);
  pciDevice(t, bdf, { vendor: '10de', device: '2330', cls: '0x030200', driver: gpuDriver, group: 45 });
  if (gpuDriver === 'vfio-pci') t.put('dev/vfio/45', '');
  t.put('dev/vfio/vfio', '');
  t.tool('dmesg', TDX_DMESG);
  t.tool('qemu-system-x86_64---version', QEMU_10_1);
  t.tool('qemu-system-x86_64--object-help', QEMU_OBJECTS_TDX);
  t.tool(`nvidia_gpu_tools.py---gpu-bdf-0000-41-00.0---query-cc-mode`, adminCc(bdf, '2330', ccMode));
  t.tool('nvidia_gpu_tools.py---gpu-bdf-0000-41-00.0---set-cc-mode-on---reset-after-cc-mode-switch', adminSet(bdf, 'CC mode set to on'));
  t.tool('nvidia_gpu_tools.py---gpu-bdf-0000-41-00.0---set-cc-mode-off---reset-after-cc-mode-switch', adminSet(bdf, 'CC mode set to off'));
  t.tool('df--P--B1-', df(3_840_000_000_000, 2_900_000_000_000));
  if (gpuDriver === 'nvidia') {
    t.tool('nvidia-smi--q', nvidiaSmiQ([{ bdf: '00000000:41:00.0', name: 'NVIDIA H100 80GB HBM3', vbios: '96.00.99.00.01', cc: ccMode }], '575.57.08'));
    t.tool('nvidia-smi-conf-compute--f', `CC status: ${ccMode.toUpperCase()}\n`);
  }
}

function nvidiaSmiQ(gpus, driver) {
  const head = `\n==============NVSMI LOG==============\n\nTimestamp                                 : Mon Jun  2 10:12:40 2025\nDriver Version                            : ${driver}\nCUDA Version                              : 12.9\n\nAttached GPUs                             : ${gpus.length}\n`;
  return head + gpus.map((g) => `GPU ${g.bdf}\n    Product Name                          : ${g.name}\n    Product Brand                         : NVIDIA\n    Product Architecture                  : Hopper\n    Display Mode                          : Disabled\n    Persistence Mode                      : Enabled\n    Addressing Mode                       : None\n    MIG Mode\n        Current                           : Disabled\n        Pending                           : Disabled\n    Serial Number                         : 1654023018542\n    GPU UUID                              : GPU-5b2c1f7e-2a41-8d3e-9c0a-6f1e2d3c4b5a\n    VBIOS Version                         : ${g.vbios}\n    PCI\n        Bus                               : 0x${g.bdf.split(':')[1]}\n        Device                            : 0x00\n        Domain                            : 0x0000\n        Device Id                         : ${g.devId ?? '0x233010DE'}\n        Bus Id                            : ${g.bdf}\n`).join('\n');
}

tree('tdx-h100-ready', (t) => tdxHost(t, { gpuDriver: 'vfio-pci', ccMode: 'on' }));
tree('tdx-h100-nvidia-driver', (t) => tdxHost(t, { gpuDriver: 'nvidia', ccMode: 'off' }));

tree('plain-host', (t) => {
  t.put('proc/sys/kernel/osrelease', '6.1.0-28-amd64\n');
  t.put('proc/cpuinfo', cpuinfo('Intel(R) Core(TM) i9-13900K', `${BASE_FLAGS} vmx est tm2 ssse3 fma cx16 pcid sse4_1 sse4_2 x2apic movbe popcnt aes xsave avx f16c rdrand lahf_lm abm ept vpid fsgsbase bmi1 avx2 smep bmi2 erms invpcid rdseed adx smap clflushopt clwb sha_ni`));
  t.put('proc/cmdline', 'BOOT_IMAGE=/boot/vmlinuz-6.1.0-28-amd64 root=UUID=2f1c6a4e-8e0e-4b8e-9a3c-1d2e3f4a5b6c ro quiet\n');
  t.put('proc/meminfo', meminfo(64 * GiB));
  t.put('sys/module/kvm_intel/parameters/nested', 'Y\n');
  t.put('usr/share/ovmf/OVMF.fd', Buffer.alloc(8192, 0xff));
  t.put('sys/kernel/iommu_groups/.keep', '');
  t.put('usr/share/misc/pci.ids', '#\tList of PCI ID\'s (excerpt)\n10de  NVIDIA Corporation\n\t2684  AD102 [GeForce RTX 4090]\n\t22ba  AD102 High Definition Audio Controller\n10df  Emulex Corporation\n');
  pciDrivers(t, ['nvidia', 'snd_hda_intel']);
  pciDevice(t, '0000:01:00.0', { vendor: '10de', device: '2684', cls: '0x030000', driver: 'nvidia' });
  pciDevice(t, '0000:01:00.1', { vendor: '10de', device: '22ba', cls: '0x040300', driver: 'snd_hda_intel' });
  t.tool('dmesg', '[    0.000000] Linux version 6.1.0-28-amd64 (debian-kernel@lists.debian.org)\n[    0.412000] DMAR: IOMMU enabled\n');
  t.tool('qemu-system-x86_64---version', 'QEMU emulator version 7.2.15 (Debian 1:7.2+dfsg-7+deb12u12)\nCopyright (c) 2003-2022 Fabrice Bellard and the QEMU Project developers\n');
  t.tool('qemu-system-x86_64--object-help', 'List of user creatable objects:\n  authz-list\n  iothread\n  memory-backend-file\n  memory-backend-ram\n  rng-random\n  sev-guest\n  throttle-group\n');
  t.tool('nvidia-smi--q', nvidiaSmiQ([{ bdf: '00000000:01:00.0', name: 'NVIDIA GeForce RTX 4090', vbios: '95.02.18.80.87', devId: '0x268410DE' }], '535.216.01'));
  t.tool('df--P--B1-', df(1_000_000_000_000, 150_000_000_000));
});

tree('h100-vm-cc-off', (t) => {
  t.put('proc/sys/kernel/osrelease', '6.8.0-60-generic\n');
  t.put('proc/cpuinfo', cpuinfo('Intel(R) Xeon(R) Platinum 8480+', `${BASE_FLAGS} hypervisor ssse3 fma cx16 pcid sse4_1 sse4_2 x2apic movbe popcnt aes xsave avx f16c rdrand lahf_lm abm fsgsbase bmi1 avx2 smep bmi2 erms invpcid avx512f avx512dq rdseed adx smap clflushopt clwb avx512cd sha_ni avx512bw avx512vl amx_bf16 amx_tile amx_int8`));
  t.put('proc/cmdline', 'BOOT_IMAGE=/boot/vmlinuz-6.8.0-60-generic root=LABEL=cloudimg-rootfs ro console=ttyS0\n');
  t.put('proc/meminfo', meminfo(235 * GiB));
  pciDrivers(t, ['nvidia']);
  pciDevice(t, '0000:00:05.0', { vendor: '10de', device: '2331', cls: '0x030200', driver: 'nvidia' });
  t.tool('dmesg', '[    0.000000] Linux version 6.8.0-60-generic (buildd@lcy02-amd64-098)\n[    0.000000] Hypervisor detected: KVM\n');
  t.tool('nvidia-smi--q', nvidiaSmiQ([{ bdf: '00000000:00:05.0', name: 'NVIDIA H100 PCIe', vbios: '96.00.30.00.01', devId: '0x233110DE' }], '550.127.05'));
  t.tool('nvidia-smi-conf-compute--f', 'CC status: OFF\n');
  t.tool('df--P--B1-', df(1_000_000_000_000, 700_000_000_000));
});

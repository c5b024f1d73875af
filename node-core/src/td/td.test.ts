import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { EXAMPLE_CONFIG, parseWorkerConfig, parseWorkerConfigText, type WorkerConfig } from './config.ts';
import { guestSpec } from './guest-spec.ts';
import { buildQemuArgv } from './qemu-args.ts';
import { instancePaths, readStatus, writePid, writeStatus, ensureInstanceDir } from './state-dir.ts';

const CLI = fileURLToPath(new URL('../../bin/cocoon.mjs', import.meta.url));
const OWNER = 'UQAuz15H1ZHrZ_psVrAra7HealMIVeFq0wguqlmFno1f3B-m';
const ROOT = 'EQCns7bYSp0igFvS1wpb5wsZjCKCV19MD5AVzI4EyxsnU73k';

const base = {
  image: { firmware: '/img/OVMF.fd', kernel: '/img/vmlinuz', initrd: '/img/initrd', cmdline: 'console=ttyS0' },
  gpu: '0000:3a:00.0', cpus: 16, memoryMiB: 65536, model: 'Qwen/Qwen3-0.6B', ownerAddress: OWNER,
  network: { name: 'mainnet', rootContract: ROOT, endpoint: 'https://toncenter.com/api/v2/jsonRPC', proxies: ['proxy.example.org:8116'] },
};
const paths = { qmpSocket: '/run/td/qmp.sock', specDir: '/run/td/spec' };
const after = (argv: string[], flag: string) => argv.filter((_, i) => argv[i - 1] === flag);

describe('worker config', () => {
  it('the printed example is accepted as is (comments included)', () => {
    const c = parseWorkerConfigText(EXAMPLE_CONFIG, '/owner');
    expect(c).toMatchObject({ mode: 'tdx', instance: 0, gpu: '0000:3a:00.0', priceCoefficient: 1000 });
    expect(c.image.kernel).toBe('/owner/image/image.vmlinuz');
  });

  it('reports every bad field on its own line, by path', () => {
    let message = '';
    try {
      parseWorkerConfig({ ...base, cpus: 0, gpu: '3a:00', ownerAddress: 'alice', network: { ...base.network, proxies: [] }, extra: 1 });
    } catch (err) {
      message = (err as Error).message;
    }
    const lines = message.split('\n').slice(1).map((l) => l.trim());
    expect(lines).toEqual(expect.arrayContaining([
      expect.stringMatching(/^cpus: /), expect.stringMatching(/^gpu: must be a PCI address/),
      expect.stringMatching(/^ownerAddress: not a TON address/), expect.stringMatching(/^network\.proxies: /),
      expect.stringMatching(/extra/),
    ]));
    expect(lines).toHaveLength(5);
  });

  it('tdx mode needs the firmware and the GPU', () => {
    const { gpu: _g, ...noGpu } = base;
    expect(() => parseWorkerConfig({ ...noGpu, image: { kernel: 'k', initrd: 'i' } })).toThrow(/image\.firmware: required in tdx mode[\s\S]*gpu: required in tdx mode/);
  });

  it('refuses development shortcuts outside the local network', () => {
    const dev = { quote: 'fake', policy: 'fake' };
    expect(() => parseWorkerConfig({ ...base, development: dev })).toThrow(/development: refused on mainnet/);
    expect(() => parseWorkerConfig({ ...base, network: { ...base.network, name: 'testnet' }, development: dev })).toThrow(/refused on testnet/);
    const local = parseWorkerConfig({ ...base, mode: 'emulation', network: { ...base.network, name: 'local' }, development: dev });
    expect(guestSpec(local, true).workerArgs).toEqual(expect.arrayContaining(['--quote', 'fake', '--policy', 'fake']));
  });

  it('production guests get the fail-closed attestation flags', () => {
    const spec = guestSpec(parseWorkerConfig(base), false);
    expect(spec.workerArgs.join(' ')).toContain('--quote tdx --policy tdx');
    expect(spec.workerArgs.join(' ')).toContain('--proxy proxy.example.org:8116 --model Qwen/Qwen3-0.6B --coefficient 1000');
    expect(spec.shares).toEqual([]);
  });
});

describe('QEMU argv', () => {
  it('TDX: confidential guest, TDVF, private memory backend, direct boot, vfio GPU over iommufd, vsock, no display', () => {
    const c = parseWorkerConfig({ ...base, instance: 2, ports: { http: 12000, ssh: 12005 }, persistentDisk: { path: '/data/p.img' } });
    const argv = buildQemuArgv(c, { paths });
    expect(argv[0]).toBe('qemu-system-x86_64');
    expect(after(argv, '-machine')).toEqual(['q35,kernel-irqchip=split,confidential-guest-support=tdx,memory-backend=mem0,hpet=off']);
    const tdx = after(argv, '-object').map((o) => (o.startsWith('{') ? JSON.parse(o) : o));
    expect(tdx).toContainEqual({ 'qom-type': 'tdx-guest', id: 'tdx', 'quote-generation-socket': { type: 'vsock', cid: '2', port: '4050' } });
    expect(tdx).toContain('memory-backend-ram,id=mem0,size=65536M');
    expect(tdx).toContain('iommufd,id=iommufd0');
    expect(after(argv, '-accel')).toEqual(['kvm']);
    expect(after(argv, '-bios')).toEqual(['/img/OVMF.fd']);
    expect(after(argv, '-kernel')).toEqual(['/img/vmlinuz']);
    expect(after(argv, '-initrd')).toEqual(['/img/initrd']);
    expect(after(argv, '-append')).toEqual(['console=ttyS0 cocoon_gpu']);
    expect(after(argv, '-device')).toEqual(expect.arrayContaining([
      'vfio-pci,host=0000:3a:00.0,bus=gpu-port,iommufd=iommufd0', 'vhost-vsock-pci,guest-cid=26', 'virtio-blk-pci,drive=persistent,serial=persistent',
    ]));
    // Instance 2: ports and CID shifted by 20.
    expect(after(argv, '-netdev')).toEqual(['user,id=net0,hostfwd=tcp:127.0.0.1:12020-:12000,hostfwd=tcp:127.0.0.1:12025-:22']);
    expect(argv).toContain('-nodefaults');
    expect(after(argv, '-display')).toEqual(['none']);
    expect(after(argv, '-qmp')).toEqual(['unix:/run/td/qmp.sock,server=on,wait=off']);
    expect(after(argv, '-virtfs')).toEqual(['local,path=/run/td/spec,mount_tag=spec,security_model=none,readonly=on']);
  });

  it('TDX with the legacy VFIO binding has no iommufd object', () => {
    const argv = buildQemuArgv(parseWorkerConfig({ ...base, gpuBinding: 'legacy' }), { paths });
    expect(after(argv, '-device')).toContain('vfio-pci,host=0000:3a:00.0,bus=gpu-port');
    expect(argv.join(' ')).not.toContain('iommufd');
  });

  it('emulation: no tdx-guest, no GPU, no confidential machine, KVM or TCG as chosen', () => {
    const c = parseWorkerConfig({ ...base, mode: 'emulation', image: { kernel: '/k', initrd: '/i' } });
    for (const accel of ['tcg', 'kvm'] as const) {
      const argv = buildQemuArgv(c, { paths, accel });
      const joined = argv.join(' ');
      expect(joined).not.toMatch(/tdx|vfio|iommufd|vhost-vsock|-bios/);
      expect(after(argv, '-machine')).toEqual(['q35,memory-backend=mem0']);
      expect(after(argv, '-accel')).toEqual([accel]);
      expect(after(argv, '-cpu')).toEqual([accel === 'kvm' ? 'host' : 'max']);
      expect(after(argv, '-append')).toEqual(['modprobe.blacklist=nvidia']);
    }
  });

  it('the development guest shares the host /usr and the project read-only', () => {
    const c: WorkerConfig = parseWorkerConfig({
      ...base, mode: 'emulation', image: { kernel: '/k', initrd: '/i' },
      network: { ...base.network, name: 'local' }, development: { quote: 'fake', policy: 'fake', shareHostNode: true },
    });
    const spec = guestSpec(c, true);
    const argv = buildQemuArgv(c, { paths, accel: 'tcg', shares: spec.shares });
    expect(after(argv, '-virtfs')).toEqual(expect.arrayContaining([
      'local,path=/usr,mount_tag=hostusr,security_model=none,readonly=on', expect.stringMatching(/mount_tag=project,security_model=none,readonly=on$/),
    ]));
    expect(spec.env.COCOON_NODE).toBe(process.execPath);
  });
});

describe('state dir', () => {
  it('a record whose supervisor is gone reads as stale and stopped', () => {
    const p = instancePaths(0, mkdtempSync(join(tmpdir(), 'td-state-')));
    ensureInstanceDir(p);
    writeStatus(p, { instance: 0, state: 'serving', mode: 'emulation', accel: 'tcg', supervisorPid: 999_999, qemuPid: null, restarts: 0, since: new Date().toISOString() });
    writePid(p.supervisorPid, 999_999_0);
    const s = readStatus(p)!;
    expect(s.stale).toBe(true);
    expect(s.state).toBe('stopped');
    expect(s.detail).toMatch(/supervisor 9999990 is gone \(was serving\)/);
  });
});

describe('cocoon td CLI', () => {
  const cocoon = (...args: string[]) => spawnSync(process.execPath, [CLI, 'td', ...args], { encoding: 'utf8', env: { ...process.env, COCOON_LOG_LEVEL: 'silent' } });

  it('config --example round-trips through launch --dry-run --json, starting nothing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'td-cli-'));
    const ex = cocoon('config', '--example');
    expect(ex.status).toBe(0);
    writeFileSync(join(dir, 'worker.jsonc'), ex.stdout);
    const r = cocoon('launch', '--config', join(dir, 'worker.jsonc'), '--dry-run', '--json');
    expect(r.status, r.stderr).toBe(0);
    const { argv } = JSON.parse(r.stdout);
    expect(argv[0]).toBe('qemu-system-x86_64');
    expect(argv).toContain(`${dir}/image/image.vmlinuz`);
    expect(argv.join(' ')).toContain('tdx-guest');
    const bad = cocoon('launch', '--config', join(dir, 'missing.json'), '--dry-run');
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/cannot read worker config .*missing\.json: ENOENT/);
  });
});

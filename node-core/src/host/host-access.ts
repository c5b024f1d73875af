import { execFile } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, lstatSync, readdirSync, readFileSync, readlinkSync, rmSync, statfsSync, symlinkSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';

/**
 * Everything the host checks and the GPU preparation read or change on a host, behind one
 * interface with two implementations: the live host (`/`, tools found on PATH) and a replayed
 * host (a recorded tree of `/proc`, `/sys`, `/dev`, `/etc`… plus recorded tool outputs under
 * `tools/`), so tests and support can run the same code on another host's facts.
 */
export interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface HostAccess {
  /** The directory host paths are read under: `/` for the live host. */
  readonly root: string;
  readonly replayed: boolean;
  readText(path: string): string | null;
  readBytes(path: string): Buffer | null;
  /** The target of a symlink (e.g. a PCI device's `driver`), or null. */
  readLink(path: string): string | null;
  list(path: string): string[];
  exists(path: string): boolean;
  /** A sysfs-style write: the whole value, replacing what was there. */
  write(path: string, value: string): void;
  /** A regular file of ours (state kept between prepare and restore); creates its folder. */
  writeFile(path: string, content: string): void;
  removeFile(path: string): void;
  /** Runs a host tool; null when the tool is not installed. Never throws for a failing tool. */
  run(tool: string, args: string[]): Promise<ToolResult | null>;
  /** Total memory in bytes, or null when unknown. */
  memTotalBytes(): Promise<number | null>;
  /** Free and total bytes of the filesystem holding `path`, or null when unknown. */
  diskSpace(path: string): Promise<{ free: number; total: number } | null>;
  /** Whether changes (sysfs writes, CC mode switches) can be made as this user. */
  canChange(): boolean;
}

/** The name of NVIDIA's gpu-admin-tools script, as the runner knows it. */
export const GPU_ADMIN_TOOLS = 'nvidia_gpu_tools.py';

abstract class FileAccess {
  constructor(readonly root: string) {}
  protected abs(path: string): string {
    return join(this.root, path);
  }
  readText(path: string): string | null {
    try {
      return readFileSync(this.abs(path), 'utf8');
    } catch {
      return null;
    }
  }
  readBytes(path: string): Buffer | null {
    try {
      return readFileSync(this.abs(path));
    } catch {
      return null;
    }
  }
  readLink(path: string): string | null {
    try {
      return readlinkSync(this.abs(path));
    } catch {
      return null;
    }
  }
  list(path: string): string[] {
    try {
      return readdirSync(this.abs(path)).sort();
    } catch {
      return [];
    }
  }
  exists(path: string): boolean {
    return existsSync(this.abs(path));
  }
  writeFile(path: string, content: string): void {
    mkdirSync(dirname(this.abs(path)), { recursive: true });
    writeFileSync(this.abs(path), content);
  }
  removeFile(path: string): void {
    rmSync(this.abs(path), { force: true });
  }
}

/** The machine this process runs on. */
export class LiveHost extends FileAccess implements HostAccess {
  readonly replayed = false;
  constructor() {
    super('/');
  }
  write(path: string, value: string): void {
    writeFileSync(path, value);
  }
  async run(tool: string, args: string[]): Promise<ToolResult | null> {
    let file = tool;
    let argv = args;
    if (tool === GPU_ADMIN_TOOLS) {
      const script = findGpuAdminTools();
      if (!script) return null;
      file = 'python3';
      argv = [script, ...args];
    } else if (!onPath(tool)) {
      return null;
    }
    return new Promise((res) => {
      execFile(file, argv, { timeout: 120_000, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, LC_ALL: 'C' } }, (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 127) : 0;
        res({ code, stdout: String(stdout), stderr: String(stderr || (err && !stdout ? err.message : '')) });
      });
    });
  }
  async memTotalBytes(): Promise<number | null> {
    const si = await import('systeminformation');
    return (await si.mem()).total || null;
  }
  async diskSpace(path: string): Promise<{ free: number; total: number } | null> {
    try {
      const s = statfsSync(nearestExisting(path));
      return { free: s.bavail * s.bsize, total: s.blocks * s.bsize };
    } catch {
      return null;
    }
  }
  canChange(): boolean {
    return process.geteuid?.() === 0;
  }
}

/**
 * A recorded host tree. Tool outputs are files `tools/<key>.txt` (stdout) with an optional
 * `tools/<key>.rc` (exit code), where key is the command line with every run of characters
 * other than letters, digits, `.`, `_` and `-` turned into `-` (`nvidia-smi -q` → `nvidia-smi--q`).
 * A tool without a recording is not installed on that host.
 *
 * Writes land in the tree. Because no kernel stands behind the tree, a small stand-in reacts
 * to the PCI driver files the way the kernel documents it (unbind drops the `driver` link,
 * `drivers_probe` binds to `driver_override` or, when empty, to `nvidia` for an NVIDIA device —
 * the stand-in for module-alias matching), and every write is appended to `.replay-writes.log`.
 */
export class ReplayedHost extends FileAccess implements HostAccess {
  readonly replayed = true;
  readonly toolCalls: string[] = [];
  constructor(root: string) {
    super(resolve(root));
  }
  write(path: string, value: string): void {
    const abs = this.abs(path);
    if (!existsSync(abs)) throw Object.assign(new Error(`${path}: no such file in the replayed host`), { code: 'ENOENT' });
    writeFileSync(abs, value);
    appendFileSync(join(this.root, '.replay-writes.log'), `${path} ${JSON.stringify(value)}\n`);
    this.kernelReacts(path, value.trim());
  }
  private kernelReacts(path: string, value: string): void {
    const unbind = /^\/sys\/bus\/pci\/drivers\/([^/]+)\/unbind$/.exec(path);
    if (unbind) {
      const dev = `/sys/bus/pci/devices/${value}`;
      if (this.readLink(`${dev}/driver`)?.endsWith(`/${unbind[1]}`)) rmSync(this.abs(`${dev}/driver`));
      return;
    }
    const bind = /^\/sys\/bus\/pci\/drivers\/([^/]+)\/bind$/.exec(path);
    if (bind) return this.bind(value, bind[1]!);
    if (path === '/sys/bus/pci/drivers_probe') {
      const dev = `/sys/bus/pci/devices/${value}`;
      if (this.readLink(`${dev}/driver`)) return;
      const override = this.readText(`${dev}/driver_override`)?.trim();
      const driver = override && override !== '(null)' ? override : this.readText(`${dev}/vendor`)?.trim() === '0x10de' ? 'nvidia' : null;
      if (driver) this.bind(value, driver);
    }
  }
  private bind(bdf: string, driver: string): void {
    const dev = `/sys/bus/pci/devices/${bdf}`;
    if (this.readLink(`${dev}/driver`) || !this.exists(`/sys/bus/pci/drivers/${driver}`)) return;
    symlinkSync(`../../drivers/${driver}`, this.abs(`${dev}/driver`));
    // vfio-pci makes the group's device node appear.
    const group = this.readLink(`${dev}/iommu_group`)?.split('/').pop();
    if (driver === 'vfio-pci' && group) this.writeFile(`/dev/vfio/${group}`, '');
  }
  async run(tool: string, args: string[]): Promise<ToolResult | null> {
    const key = toolKey(tool, args);
    this.toolCalls.push([tool, ...args].join(' '));
    const out = this.readText(`/tools/${key}.txt`);
    if (out === null) return null;
    const rc = this.readText(`/tools/${key}.rc`);
    return { code: rc === null ? 0 : Number(rc.trim()), stdout: out, stderr: '' };
  }
  async memTotalBytes(): Promise<number | null> {
    const kb = /^MemTotal:\s+(\d+) kB/m.exec(this.readText('/proc/meminfo') ?? '')?.[1];
    return kb ? Number(kb) * 1024 : null;
  }
  async diskSpace(path: string): Promise<{ free: number; total: number } | null> {
    // `df -P -B1 PATH` as recorded on that host: "Filesystem 1-blocks Used Available Capacity Mounted on".
    const res = await this.run('df', ['-P', '-B1', path]);
    const cols = res?.stdout.trim().split('\n')[1]?.split(/\s+/);
    return cols && cols.length >= 6 ? { total: Number(cols[1]), free: Number(cols[3]) } : null;
  }
  canChange(): boolean {
    return true;
  }
}

export function toolKey(tool: string, args: string[]): string {
  return [tool, ...args].join(' ').replace(/[^\w.-]+/g, '-');
}

/** The live host for `/`, a replayed tree otherwise. */
export function openHost(root = '/'): HostAccess {
  if (resolve(root) === '/') return new LiveHost();
  if (!existsSync(root) || !lstatSync(root).isDirectory()) throw new Error(`host root ${root} is not a directory`);
  return new ReplayedHost(root);
}

function onPath(tool: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((d) => d && existsSync(join(d, tool)));
}

/** Where NVIDIA's gpu-admin-tools checkout is: $COCOON_GPU_ADMIN_TOOLS, $GPU_ADMIN_TOOLS_DIR, or a usual place. */
export function findGpuAdminTools(): string | null {
  const candidates = [process.env.COCOON_GPU_ADMIN_TOOLS, process.env.GPU_ADMIN_TOOLS_DIR, '/opt/gpu-admin-tools', '/usr/local/share/gpu-admin-tools']
    .filter((c): c is string => !!c)
    .map((c) => (c.endsWith('.py') ? c : join(c, GPU_ADMIN_TOOLS)));
  return candidates.find((c) => existsSync(c)) ?? null;
}

function nearestExisting(path: string): string {
  let p = resolve(path);
  while (!existsSync(p) && p !== '/') p = resolve(p, '..');
  return p;
}

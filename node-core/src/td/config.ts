import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { Address } from '@ton/core';
import { z } from 'zod';
import { CocoonError } from '../errors.ts';

/**
 * The worker configuration file of `cocoon td launch --config FILE`: what a GPU owner writes once
 * per TD guest. JSON with comments (`//` lines) so the example can explain every field. Ports,
 * the vsock CID and the state directory follow the reference launcher's convention of an
 * instance number that offsets everything by `instance * 10`, so several guests share one host.
 */

const BDF = /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/i;
const HOST_PORT = /^([\w.-]+|\[[0-9a-f:]+\]):(\d{1,5})$/i;
const port = z.number().int().min(1).max(65535);

const tonAddress = z.string().refine((a) => {
  try {
    Address.parse(a);
    return true;
  } catch {
    return false;
  }
}, 'not a TON address (expected a friendly address like UQ… / EQ… or a raw 0:<64 hex>)');

const workerConfigSchema = z.object({
  instance: z.number().int().min(0).max(99).default(0),
  mode: z.enum(['tdx', 'emulation']).default('tdx'),
  qemu: z.string().min(1).default('qemu-system-x86_64'),
  image: z.object({
    firmware: z.string().min(1).optional(),
    kernel: z.string().min(1),
    initrd: z.string().min(1),
    cmdline: z.string().default(''),
  }).strict(),
  gpu: z.string().regex(BDF, 'must be a PCI address DDDD:BB:DD.F, e.g. 0000:3a:00.0 (see `lspci -D | grep -i nvidia`)').optional(),
  gpuBinding: z.enum(['iommufd', 'legacy']).default('iommufd'),
  cpus: z.number().int().min(1).max(512),
  memoryMiB: z.number().int().min(256).max(16 * 1024 * 1024),
  ports: z.object({
    http: port.default(12000),
    ssh: port.optional(),
    forward: z.array(z.object({ host: port, guest: port }).strict()).default([]),
  }).strict().default({ http: 12000, forward: [] }),
  vsockCid: z.number().int().min(3).max(0xffff_fffe).optional(),
  persistentDisk: z.object({
    path: z.string().min(1),
    sizeGiB: z.number().int().min(1).max(64 * 1024).default(100),
  }).strict().optional(),
  model: z.string().min(1),
  ownerAddress: tonAddress,
  network: z.object({
    name: z.enum(['local', 'testnet', 'mainnet']),
    rootContract: tonAddress,
    endpoint: z.url(),
    /** Proxies as the guest reaches them (QEMU user networking: the host is 10.0.2.2). */
    proxies: z.array(z.string().regex(HOST_PORT, 'must be HOST:PORT')).min(1),
  }).strict(),
  priceCoefficient: z.number().int().min(1).max(1_000_000).default(1000),
  maxActiveRequests: z.number().int().min(1).max(10_000).default(32),
  /**
   * Development shortcuts, refused outside the local network: development quotes and policy, an
   * engine URL instead of the guest's own, and the host's Node.js + project shared into the guest
   * over 9p (the development guest has no root filesystem of its own).
   */
  development: z.object({
    quote: z.literal('fake'),
    policy: z.enum(['fake', 'any']),
    backend: z.url().optional(),
    shareHostNode: z.boolean().default(false),
  }).strict().optional(),
  stateDir: z.string().min(1).optional(),
}).strict();

export type WorkerConfig = z.infer<typeof workerConfigSchema>;

/** Removes `//` comment lines and trailing `// ...` outside strings, so JSONC parses as JSON. */
export function stripJsonComments(text: string): string {
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (inString) {
      out += c;
      if (c === '\\') out += text[++i] ?? '';
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
      out += c;
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
      out += '\n';
    } else {
      out += c;
    }
  }
  return out;
}

/**
 * Validates a parsed config: every problem is reported, one line per field, with its path.
 * Relative paths are resolved against `baseDir` (the config file's folder).
 */
export function parseWorkerConfig(raw: unknown, baseDir = process.cwd()): WorkerConfig {
  const result = workerConfigSchema.safeParse(raw);
  const problems: string[] = result.success ? [] : result.error.issues.map((i) => `${i.path.join('.') || '(top level)'}: ${i.message}`);
  if (result.success) {
    const c = result.data;
    if (c.mode === 'tdx') {
      if (!c.image.firmware) problems.push('image.firmware: required in tdx mode (the TDX firmware, TDVF/OVMF.fd)');
      if (!c.gpu) problems.push('gpu: required in tdx mode (the H100-class GPU bound to vfio-pci)');
      if (c.development?.shareHostNode) problems.push('development.shareHostNode: not allowed in tdx mode (host files inside a TD are unmeasured)');
    }
    if (c.development && c.network.name !== 'local') {
      problems.push(`development: refused on ${c.network.name} — development quotes and policies are for the local network only`);
    }
    if (c.development?.shareHostNode && c.mode !== 'emulation') problems.push('development.shareHostNode: emulation mode only');
  }
  if (problems.length) {
    throw new CocoonError('bad_config', `invalid worker config:\n  ${problems.join('\n  ')}`, { hint: 'see `cocoon td config --example` for every field explained' });
  }
  const c = result.data!;
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));
  return {
    ...c,
    image: { ...c.image, kernel: abs(c.image.kernel), initrd: abs(c.image.initrd), ...(c.image.firmware && { firmware: abs(c.image.firmware) }) },
    ...(c.persistentDisk && { persistentDisk: { ...c.persistentDisk, path: abs(c.persistentDisk.path) } }),
    ...(c.stateDir && { stateDir: abs(c.stateDir) }),
  };
}

export function parseWorkerConfigText(text: string, baseDir?: string): WorkerConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(stripJsonComments(text));
  } catch (err) {
    throw new CocoonError('bad_config', `worker config is not valid JSON: ${(err as Error).message}`, { hint: 'the file is JSON; lines may carry // comments' });
  }
  return parseWorkerConfig(raw, baseDir);
}

export function loadWorkerConfig(file: string): WorkerConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CocoonError('bad_config', `cannot read worker config ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { hint: 'write one with `cocoon td config --example > worker.jsonc`' });
  }
  return parseWorkerConfigText(text, dirname(resolve(file)));
}

/** Host ports and vsock CID of an instance: the reference's +10 per instance convention. */
export function instanceLayout(c: WorkerConfig): { httpPort: number; sshPort: number | undefined; vsockCid: number } {
  const offset = c.instance * 10;
  return {
    httpPort: c.ports.http + offset,
    sshPort: c.ports.ssh === undefined ? undefined : c.ports.ssh + offset,
    vsockCid: c.vsockCid ?? 6 + offset,
  };
}

/** The commented example `cocoon td config --example` prints; `td launch --config` accepts it as is. */
export const EXAMPLE_CONFIG = `// Cocoon worker configuration for \`cocoon td launch --config FILE\`.
// JSON with // comments. Relative paths are relative to this file.
{
  // Several guests on one host: instance N adds N*10 to the ports and the vsock CID.
  "instance": 0,
  // "tdx": a confidential TD guest (needs a TDX host, QEMU 10.1+, the GPU on vfio-pci).
  // "emulation": a plain VM for development (no TDX, no GPU; KVM when it works, else TCG).
  "mode": "tdx",
  "qemu": "qemu-system-x86_64",
  // The guest image: TDX firmware (TDVF / OVMF.fd), kernel, initrd and kernel command line,
  // measured into the TD at launch (direct kernel boot).
  "image": {
    "firmware": "image/OVMF.fd",
    "kernel": "image/image.vmlinuz",
    "initrd": "image/image.initrd",
    "cmdline": "console=ttyS0"
  },
  // The GPU passed through, by PCI address (\`lspci -D | grep -i nvidia\`), prepared with
  // \`cocoon gpu prepare --gpu BDF\` (CC mode on, bound to vfio-pci).
  "gpu": "0000:3a:00.0",
  // "iommufd" (kernel 6.2+, what TDX hosts use) or "legacy" (VFIO container).
  "gpuBinding": "iommufd",
  "cpus": 32,
  "memoryMiB": 102400,
  // Host ports forwarded to the guest on 127.0.0.1 (plus instance*10).
  "ports": { "http": 12000, "forward": [] },
  // Sparse file created on first launch; holds the guest's sealed state and model cache.
  "persistentDisk": { "path": "persistent-worker-0.img", "sizeGiB": 100 },
  // The model the guest's engine serves.
  "model": "Qwen/Qwen3-0.6B",
  // Your TON wallet: receives the worker's earnings.
  "ownerAddress": "UQAuz15H1ZHrZ_psVrAra7HealMIVeFq0wguqlmFno1f3B-m",
  "network": {
    // "local" (the embedded chain of \`cocoon up\`), "testnet" or "mainnet".
    "name": "mainnet",
    "rootContract": "EQCns7bYSp0igFvS1wpb5wsZjCKCV19MD5AVzI4EyxsnU73k",
    "endpoint": "https://toncenter.com/api/v2/jsonRPC",
    // Proxies as the guest reaches them (QEMU user networking: the host is 10.0.2.2).
    "proxies": ["proxy.example.org:8116"]
  },
  // Price coefficient in thousandths: 1000 = the root contract's base price.
  "priceCoefficient": 1000,
  "maxActiveRequests": 32
  // Development only (refused unless network.name is "local"):
  // "development": { "quote": "fake", "policy": "fake", "shareHostNode": true }
}
`;

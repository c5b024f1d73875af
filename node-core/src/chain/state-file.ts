/**
 * Where a running local chain announces itself, so `cocoon root show` (and any other process)
 * finds it without configuration: `$COCOON_HOME/local-chain.json`, COCOON_HOME defaulting to
 * ~/.cocoon.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { cocoonHome } from '../cocoon-home.ts';

export interface LocalChainAnnouncement {
  endpoint: string;
  rootAddress: string;
  dataDir: string;
  pid: number;
  startedAt: string;
}

const schema = z.object({
  endpoint: z.string().url(),
  rootAddress: z.string().min(1),
  dataDir: z.string(),
  pid: z.number().int(),
  startedAt: z.string(),
});

export function localChainStateFile(env: NodeJS.ProcessEnv = process.env): string {
  return join(cocoonHome({ env }), 'local-chain.json');
}

export function writeAnnouncement(path: string, a: LocalChainAnnouncement): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(a, null, 2) + '\n');
  renameSync(tmp, path);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The announcement of a local chain whose process is still alive, or null. */
export function readAnnouncement(path: string): LocalChainAnnouncement | null {
  if (!existsSync(path)) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return null;
  }
  const r = schema.safeParse(parsed);
  if (!r.success || !pidAlive(r.data.pid)) return null;
  return r.data;
}

/** Removes the announcement only if it is still ours (another chain may have replaced it). */
export function removeAnnouncement(path: string, endpoint: string): void {
  try {
    const current = JSON.parse(readFileSync(path, 'utf8')) as { endpoint?: string };
    if (current.endpoint === endpoint) rmSync(path, { force: true });
  } catch {
    // already gone or unreadable: nothing to clean up
  }
}

/**
 * `cocoon image check` and `cocoon root add-image` as a person runs them, against the embedded
 * local chain (the real compiled root in @ton/sandbox behind the TON HTTP API), found through
 * its announcement like every other local command.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalChain, type LocalChain } from '../../chain/local/local-chain.ts';

const bin = join(import.meta.dirname, '..', '..', '..', 'bin', 'cocoon.mjs');
const home = mkdtempSync(join(tmpdir(), 'cocoon-allowlist-'));
const env = { ...process.env, COCOON_HOME: home, COCOON_NETWORK: '', COCOON_TON_ENDPOINT: '', COCOON_ROOT_ADDRESS: '', COCOON_OWNER_MNEMONIC: '', COCOON_LOG_LEVEL: 'warn' };
const HASH = 'a1'.repeat(32);
let chain: LocalChain;

const cocoon = (...args: string[]) => promisify(execFile)(process.execPath, [bin, ...args], { env, timeout: 90_000 })
  .then((r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }))
  .catch((e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }));

beforeAll(async () => {
  chain = await startLocalChain({ dataDir: join(home, 'local-chain'), announceFile: join(home, 'local-chain.json') });
}, 120_000);

afterAll(async () => {
  await chain?.stop();
  rmSync(home, { recursive: true, force: true });
});

describe('image check / root add-image on the local chain', () => {
  it('an image missing from the root is reported with the command that adds it; after add-image it is allowed', async () => {
    const before = await cocoon('image', 'check', '--image-hash', HASH, '--json');
    expect(before.code).toBe(1);
    expect(JSON.parse(before.stdout)).toMatchObject({ imageHash: HASH, kind: 'worker', allowed: false, network: 'local', rootAddress: chain.rootAddress });

    const human = await cocoon('image', 'check', '--image-hash', HASH);
    expect(human.stdout).toContain(`cocoon root add-image --kind worker --hash ${HASH}`);

    const added = await cocoon('root', 'add-image', '--kind', 'worker', '--hash', HASH, '--json');
    expect(added.stderr).toBe('');
    expect(JSON.parse(added.stdout)).toMatchObject({ kind: 'worker', hash: HASH, action: 'added', network: 'local' });

    const after = await cocoon('image', 'check', '--image-hash', '0x' + HASH.toUpperCase(), '--json');
    expect(after.code).toBe(0);
    expect(JSON.parse(after.stdout)).toMatchObject({ allowed: true, allowlistSize: expect.any(Number) });
    // A worker hash is not a proxy hash.
    expect((await cocoon('image', 'check', '--image-hash', HASH, '--kind', 'proxy', '--json')).code).toBe(1);
    // Adding twice sends nothing.
    expect(JSON.parse((await cocoon('root', 'add-image', '--kind', 'worker', '--hash', HASH, '--json')).stdout)).toMatchObject({ action: 'unchanged' });
    const removed = await cocoon('root', 'remove-image', '--kind', 'worker', '--hash', HASH, '--json');
    expect(JSON.parse(removed.stdout)).toMatchObject({ action: 'removed' });
    expect((await cocoon('image', 'check', '--image-hash', HASH)).code).toBe(1);
  }, 240_000);

  it('refuses bad input and a wallet that is not the root owner, before sending anything', async () => {
    const badKind = await cocoon('root', 'add-image', '--kind', 'gpu', '--hash', HASH);
    expect(badKind.code).toBe(2);
    expect(badKind.stderr).toMatch(/--kind must be one of worker, proxy, model/);
    const badHash = await cocoon('image', 'check', '--image-hash', 'abc');
    expect(badHash.stderr).toMatch(/64 hex digits/);
    // Another development wallet (the proxy's) is not the owner.
    const other = chain.wallets.find((w) => w.name === 'proxy')!;
    const file = join(home, 'not-owner.txt');
    writeFileSync(file, other.mnemonic.join(' '));
    const notOwner = await cocoon('root', 'add-image', '--kind', 'model', '--hash', HASH, '--mnemonic-file', file);
    expect(notOwner.code).toBe(1);
    expect(notOwner.stderr).toMatch(/is not the owner of root/);
    // On a public network there is no default owner wallet.
    const publicNet = await cocoon('root', 'add-image', '--kind', 'worker', '--hash', HASH, '--network', 'testnet');
    expect(publicNet.stderr).toMatch(/needs the root owner's wallet|no root contract address/);
  }, 240_000);
});

/**
 * The proxy's state commit on the embedded chain, through TonClient only: a settling proxy commits
 * its ledger's state to its proxy contract when it starts and on shutdown; a proxy started on an
 * older copy of its ledger, or on a copy that ran on elsewhere, refuses to start naming both
 * commits; a "commit" sent by another wallet is ignored.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Address } from '@ton/core';
import { keyPairFromSeed } from '@ton/crypto';
import { startLocalChain, type LocalChain } from '../chain/local/local-chain.ts';
import { Chain, type ChainWallet } from '../chain/chain.ts';
import { deployProxy } from '../chain/deploy.ts';
import { latestSavedState, SAVE_STATE_VALUE } from '../chain/proxy-save-state.ts';
import { proxySaveStateBody } from '../../../contracts/wrappers/protocol.ts';
import { createLogger } from '../log.ts';
import { LedgerProxySettlement, PROXY_LEDGER_FILE } from './proxy-settlement.ts';
import { paymentsStatus } from './status-report.ts';

/** Copies a closed SQLite ledger with its WAL (a readonly reader may leave one behind). */
function copyLedger(from: string, to: string): void {
  copyFileSync(from, to);
  for (const ext of ['-wal', '-shm']) {
    if (existsSync(from + ext)) copyFileSync(from + ext, to + ext);
    else rmSync(to + ext, { force: true });
  }
}

const policy = { everyMinMs: 60_000, everyMaxMs: 60_000, retryBaseMs: 200, retryMaxMs: 1_000, timeoutMs: 20_000 };

describe('proxy state commits on the local chain', () => {
  let dir: string;
  let local: LocalChain;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cocoon-savestate-'));
    local = await startLocalChain({ dataDir: join(dir, 'chain'), announceFile: false });
  });
  afterAll(async () => {
    await local?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('commits on start, refuses an older or diverged ledger copy, ignores commits from other wallets', async () => {
    const chain = new Chain({ network: 'local', endpoint: local.endpoint });
    const [proxyW, strangerW] = await Promise.all([1, 2].map((i) => chain.wallet(local.wallets[i]!.mnemonic))) as [ChainWallet, ChainWallet];
    const proxyKey = keyPairFromSeed(Buffer.alloc(32, 9));
    const { address: proxyContract } = await deployProxy(chain, proxyW, { root: Address.parse(local.rootAddress), publicKey: proxyKey.publicKey });
    const dataDir = join(dir, 'proxy');
    const ledger = join(dataDir, PROXY_LEDGER_FILE);
    const log = createLogger('test', {});
    const open = () => LedgerProxySettlement.open({ chain, wallet: proxyW, proxyContract, proxyKey, dataDir, log, stateCommit: policy });
    const onChain = () => latestSavedState(chain, proxyContract, { from: [proxyW.address] });
    // The commit is on chain and this proxy has seen it confirmed.
    const committed = async (seqno: number) => {
      for (let i = 0; i < 100; i++) {
        if ((await onChain())?.seqno === seqno && p.stateCommits.status().onChain === seqno) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`commit ${seqno} never reached the chain`);
    };

    // First run: the start commit (seqno 1) lands.
    let p = await open();
    await committed(1);
    const first = await onChain();
    expect(p.stateCommits.status()).toMatchObject({ ledger: 1, onChain: 1 });
    await p.close({ flush: false });
    const status = paymentsStatus(dataDir);
    expect(status.proxy?.savedState).toMatchObject({ ledger: 1, onChain: 1, at: new Date(first!.at).toISOString() });
    const old = join(dir, 'old-ledger.sqlite');
    copyLedger(ledger, old);

    // A "commit" from another wallet with a far higher seqno does not count.
    await strangerW.sendAndWait([{ to: proxyContract, value: SAVE_STATE_VALUE, bounce: true, body: proxySaveStateBody(1n, 1000, Buffer.alloc(32, 1)) }]);

    // Second run on the same ledger: accepted, commits seqno 2.
    p = await open();
    await committed(2);
    await p.close({ flush: false });

    // The older copy (last commit 1) is refused: the chain holds 2.
    copyLedger(ledger, join(dir, 'newest-ledger.sqlite'));
    copyLedger(old, ledger);
    const refused = await open().catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: 'ledger_behind_chain_state' });
    expect(String((refused as Error).message)).toMatch(/last commit is seqno 1, the chain holds seqno 2/);
    expect((refused as { hint?: string }).hint).toMatch(/Restore the newest copy/);

    // A copy that ran on elsewhere: both copies reach seqno 2 from 1, only one of them is on chain.
    mkdirSync(join(dir, 'fork'));
    const forkDir = join(dir, 'fork');
    copyLedger(old, join(forkDir, PROXY_LEDGER_FILE));
    const fork = await LedgerProxySettlement.open({ chain, wallet: proxyW, proxyContract, proxyKey, dataDir: forkDir, log, stateCommit: policy }).catch((e: unknown) => e);
    expect(fork).toMatchObject({ code: 'ledger_behind_chain_state' }); // 1 < 2: also refused
    // The newest copy starts again and commits 3; an old copy moved forward by hand to seqno 3
    // with its own hash is refused as diverged.
    copyLedger(join(dir, 'newest-ledger.sqlite'), ledger);
    p = await open();
    await committed(3);
    await p.close({ flush: false });
    const { StateCommitLog } = await import('./proxy-state-commits.ts');
    copyLedger(old, join(forkDir, PROXY_LEDGER_FILE));
    const forged = StateCommitLog.open(join(forkDir, PROXY_LEDGER_FILE));
    forged.add(Buffer.alloc(32, 2), 0);
    forged.add(Buffer.alloc(32, 3), 0);
    forged.close();
    const diverged = await LedgerProxySettlement.open({ chain, wallet: proxyW, proxyContract, proxyKey, dataDir: forkDir, log, stateCommit: policy }).catch((e: unknown) => e);
    expect(diverged).toMatchObject({ code: 'ledger_diverged' });
  }, 120_000);
});

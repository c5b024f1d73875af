/**
 * The proxy's check of the long authorization, as the reference defines it: the proxy gives a
 * connecting client a nonce; the client's owner sends `owner_client_register(nonce)` to its
 * client contract; the contract (which accepts it only from its owner) notifies the proxy
 * contract with `client_proxy_request` carrying `client_proxy_register nonce`. The proxy reads
 * that notice from its own contract's transactions and accepts the connection only when
 *   - the notice came from the client contract derived for the claimed owner (from the code the
 *     root holds), so only that owner's wallet can have caused it,
 *   - its transaction succeeded, and
 *   - it carries this connection's nonce (random per connection, so no earlier transaction and
 *     no other connection's registration can be replayed).
 * A client claiming another owner's address cannot produce such a notice and is refused.
 */
import { Address, type Transaction } from '@ton/core';
import type { Chain } from '../chain/chain.ts';
import { CocoonError, errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import { Op, parseClientProxyRequest } from '../../../contracts/wrappers/protocol.ts';
import { memoize } from '../memo.ts';

export interface ClientRegistration {
  /** Owner named in the notice (raw form), whose derived client contract sent it. */
  owner: string;
  at: number;
}

export interface RegistrationWatcherOptions {
  chain: Chain;
  proxyContract: Address;
  /** The client contract of an owner, as this proxy derives it. */
  clientContractOf(owner: string): string;
  log: Logger;
  /** Poll interval while someone waits (default 250 ms on the local chain, 2 s elsewhere). */
  pollMs?: number;
}

const KEEP_MS = 15 * 60_000;

/** An owner address in raw form; asked for every query a client sends (admission), so parsed once per spelling. */
export const rawOwner = memoize((owner: string) => Address.parse(owner).toRawString(), 10_000);

function succeeded(tx: Transaction): boolean {
  const d = tx.description;
  return d.type === 'generic' && !d.aborted && d.computePhase.type === 'vm' && d.computePhase.success;
}

export class ClientRegistrationWatcher {
  private readonly seen = new Map<bigint, ClientRegistration>();
  private readonly waiters = new Set<{ nonce: bigint; wake: () => void }>();
  private cursor: bigint | null = null;
  private polling: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  readonly pollMs: number;

  constructor(private readonly o: RegistrationWatcherOptions) {
    this.pollMs = o.pollMs ?? (o.chain.config.network === 'local' ? 250 : 2_000);
  }

  /** Starts reading from the proxy contract's current last transaction (earlier ones cannot carry a nonce issued now). */
  async start(): Promise<void> {
    const acct = await this.o.chain.getAccount(this.o.proxyContract);
    this.cursor = acct.lastTransaction?.lt ?? 0n;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    for (const w of this.waiters) w.wake();
  }

  /** The registration seen for a nonce, if any. */
  registration(nonce: bigint): ClientRegistration | undefined {
    return this.seen.get(nonce);
  }

  /**
   * Waits for a notice with this nonce and decides: resolves when it came from `owner`'s client
   * contract; throws `client_not_registered` (none within the time) or `client_owner_mismatch`
   * (the nonce was registered by another owner's contract).
   */
  async verify(owner: string, nonce: bigint, timeoutMs: number): Promise<void> {
    const want = rawOwner(owner);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = this.seen.get(nonce);
      if (r) {
        if (r.owner === want) return;
        throw new CocoonError('client_owner_mismatch',
          `the register transaction for this connection's nonce came from the client contract of ${r.owner}, not of the claimed owner ${want}: the client does not hold the address it claims`);
      }
      const left = deadline - Date.now();
      if (left <= 0 || this.stopped) {
        throw new CocoonError('client_not_registered',
          `no register transaction with this connection's nonce from the client contract ${this.o.clientContractOf(owner)} (owner ${want}) within ${Math.round(timeoutMs / 1000)} s`,
          { hint: 'the owner\'s wallet must send owner_client_register with the nonce to its open client contract; a client cannot claim an owner address whose wallet it does not hold' });
      }
      await new Promise<void>((resolve) => {
        const w = { nonce, wake: () => { this.waiters.delete(w); clearTimeout(t); resolve(); } };
        const t = setTimeout(w.wake, Math.min(left, this.pollMs * 4));
        this.waiters.add(w);
        this.schedule();
      });
    }
  }

  private schedule(): void {
    if (this.timer || this.polling || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.polling = this.poll().finally(() => {
        this.polling = null;
        if (this.waiters.size > 0) this.schedule();
      });
    }, this.pollMs);
    this.timer.unref();
  }

  /** Reads the proxy contract's new transactions once and wakes the waiters. */
  async poll(): Promise<void> {
    if (this.cursor === null) await this.start();
    let txs: Transaction[];
    try {
      txs = await this.o.chain.transactionsSince(this.o.proxyContract, this.cursor!);
    } catch (err) {
      this.o.log.warn({ err: errorMessage(err) }, 'cannot read the proxy contract\'s transactions to check client registrations; retrying');
      return;
    }
    for (const tx of txs) {
      if (tx.lt > this.cursor!) this.cursor = tx.lt;
      this.take(tx);
    }
    const now = Date.now();
    for (const [n, r] of this.seen) if (now - r.at > KEEP_MS) this.seen.delete(n);
    for (const w of [...this.waiters]) w.wake();
  }

  private take(tx: Transaction): void {
    const m = tx.inMessage;
    if (!m || m.info.type !== 'internal') return;
    const s = m.body.beginParse();
    if (s.remainingBits < 32 || s.preloadUint(32) !== Op.clientProxyRequest) return;
    let notice: ReturnType<typeof parseClientProxyRequest>;
    try {
      notice = parseClientProxyRequest(m.body);
    } catch {
      return;
    }
    if (notice.payload?.op !== Op.clientProxyRegister || notice.payload.nonce === undefined) return;
    const owner = notice.owner.toRawString();
    const expected = this.o.clientContractOf(owner);
    if (!m.info.src.equals(Address.parse(expected)) || !succeeded(tx)) {
      // The proxy contract refuses these too; a node never trusts the body's owner field alone.
      this.o.log.warn({ from: m.info.src.toString(), claimedOwner: owner, expected }, 'ignored a client register notice that did not come from the claimed owner\'s client contract');
      return;
    }
    if (!this.seen.has(notice.payload.nonce)) this.seen.set(notice.payload.nonce, { owner, at: Date.now() });
  }
}

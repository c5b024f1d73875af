/**
 * How long a dialer waits before its next attempt: exponential backoff with decorrelated jitter
 * (each delay drawn between the base and three times the previous delay, capped). The jitter
 * spreads the redials of many workers and clients that lost the same proxy at the same moment,
 * so a restarted proxy is not met by all of them in one burst; the base keeps every delay
 * bounded below (no hammering), the cap bounds it above.
 */
export interface BackoffPolicy {
  /** The first delay and the smallest one ever drawn. */
  baseMs: number;
  /** The largest delay ever drawn. */
  capMs: number;
  /** A connection that lasted this long was stable: the next delay starts again from the base. */
  stableMs: number;
}

/**
 * The roles' old timing (a first retry after 250 ms, growing to 10 s), now with jitter: a base of
 * 100 ms draws the first retry from 100–300 ms (mean 200 ms), so a dropped link is back as soon as
 * before; a base of 250 ms made it 250–750 ms and every reconnect after a drop slower. A connection that passed the
 * role's handshake counts as stable (stableMs 0), as before: a proxy that accepts and then drops a
 * dialer (a restart, the hostile-proxy fuzz suite) is met again within a second, not after 10 s.
 */
export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 100, capMs: 10_000, stableMs: 0 };

export class Backoff {
  private previous: number;

  /** `random` returns a number in [0, 1), as Math.random; injected by tests. */
  constructor(
    readonly policy: BackoffPolicy = DEFAULT_BACKOFF,
    private readonly random: () => number = Math.random,
  ) {
    if (!(policy.baseMs > 0) || !(policy.capMs >= policy.baseMs)) {
      throw new RangeError(`backoff needs 0 < baseMs <= capMs (got baseMs ${policy.baseMs}, capMs ${policy.capMs})`);
    }
    this.previous = policy.baseMs;
  }

  /** The delay before the next attempt, in ms: base ≤ delay ≤ cap. */
  next(): number {
    const { baseMs, capMs } = this.policy;
    const high = Math.min(capMs, this.previous * 3);
    const r = Math.min(Math.max(this.random(), 0), 1);
    const delay = Math.round(baseMs + r * (high - baseMs));
    this.previous = Math.min(Math.max(delay, baseMs), capMs);
    return this.previous;
  }

  /** After a stable connection: the next delay is drawn as the first one was. */
  reset(): void {
    this.previous = this.policy.baseMs;
  }
}

import { HttpError } from '../http/safe-http.ts';

/**
 * Where client requests wait when the proxy says every worker is busy: a bounded FIFO. New
 * requests do not overtake waiting ones; one waiter at a time probes the proxy again (when one of
 * our requests ends, when a probe was accepted, or every `pollMs` for capacity freed by other
 * clients). A full queue or a wait past `maxWaitMs` is a 503 with Retry-After, not a storm of
 * immediate 503s.
 */
export interface CapacityQueueOptions {
  maxWaiting?: number;
  maxWaitMs?: number;
  pollMs?: number;
  retryAfterSeconds?: number;
}

interface Waiter {
  wake(): void;
}

export class CapacityQueue {
  private readonly waiters: Waiter[] = [];
  private probing = false;
  readonly maxWaiting: number;
  private readonly maxWaitMs: number;
  private readonly pollMs: number;
  private readonly retryAfter: string;

  constructor(opts: CapacityQueueOptions = {}) {
    this.maxWaiting = opts.maxWaiting ?? 1024;
    this.maxWaitMs = opts.maxWaitMs ?? 60_000;
    this.pollMs = opts.pollMs ?? 250;
    this.retryAfter = String(opts.retryAfterSeconds ?? 5);
  }

  get waiting(): number {
    return this.waiters.length;
  }

  /** May a new request go straight to the proxy? Only when nobody is waiting ahead of it. */
  get open(): boolean {
    return this.waiters.length === 0 && !this.probing;
  }

  /**
   * Waits for this request's turn to (re)try. `front` puts a request that was just refused as busy
   * back at the head. Resolves with a `done(accepted)` the caller must call once the proxy has
   * accepted or refused the retry; rejects with a 503 when the queue is full or the wait too long.
   */
  wait(signal: AbortSignal, front = false): Promise<(accepted: boolean) => void> {
    if (signal.aborted) return Promise.reject(new HttpError(499, 'client went away', 'cancelled'));
    if (!front && this.waiters.length >= this.maxWaiting) return Promise.reject(this.exhausted(`all workers are busy and ${this.maxWaiting} requests are already waiting`));
    return new Promise((resolve, reject) => {
      const deadline = setTimeout(() => leave(this.exhausted(`all workers stayed busy for ${this.maxWaitMs} ms`)), this.maxWaitMs);
      const poll = setInterval(() => { if (this.waiters[0] === waiter && !this.probing) this.wakeHead(); }, this.pollMs);
      const onAbort = () => leave(new HttpError(499, 'client went away', 'cancelled'));
      const cleanup = () => {
        clearTimeout(deadline);
        clearInterval(poll);
        signal.removeEventListener('abort', onAbort);
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
      };
      const leave = (err: HttpError) => {
        cleanup();
        reject(err);
      };
      const waiter: Waiter = {
        wake: () => {
          cleanup();
          this.probing = true;
          let settled = false;
          resolve((accepted) => {
            if (settled) return;
            settled = true;
            this.probing = false;
            // Accepted: capacity may remain, let the next one try. Refused: wait for a release.
            if (accepted) this.wakeHead();
          });
        },
      };
      signal.addEventListener('abort', onAbort, { once: true });
      if (front) this.waiters.unshift(waiter);
      else this.waiters.push(waiter);
    });
  }

  /** One of our requests left a worker: capacity is free, the head may try. */
  released(): void {
    if (!this.probing) this.wakeHead();
  }

  private wakeHead(): void {
    this.waiters[0]?.wake();
  }

  private exhausted(why: string): HttpError {
    return new HttpError(503, `${why}; retry after ${this.retryAfter} s`, 'capacity_exhausted', { 'retry-after': this.retryAfter });
  }
}

import type { Connection } from '../protocol/connection.ts';

/**
 * The proxy's view of its connected workers and how it picks one for a query: by model, load
 * (active / max), reputation (success rate, latency moving average) and price coefficient no
 * higher than the client's maximum.
 */
export interface WorkerEntry {
  id: number;
  connection: Connection;
  /** The worker operator's wallet (its payments). */
  owner: string;
  /** The worker said it takes no queries now (worker.proxyHandshakeComplete / worker.enabledDisabled). */
  disabled: boolean;
  /** The worker speaks our cocoonx.* extensions (it sent one): it can be told to cancel. */
  extensions: boolean;
  model: string;
  coefficient: number;
  maxActive: number;
  active: number;
  /** Active requests as the worker last reported them (cocoonx.workerLoad); null until it does. */
  reportedActive: number | null;
  successes: number;
  failures: number;
  /** Exponential moving average of full-answer latency, ms. */
  latencyEwmaMs: number;
  connectedAt: string;
}

const EWMA_ALPHA = 0.2;

export class WorkerPool {
  private readonly workers = new Map<number, WorkerEntry>();
  private nextId = 1;

  add(w: Omit<WorkerEntry, 'id' | 'active' | 'reportedActive' | 'successes' | 'failures' | 'latencyEwmaMs' | 'connectedAt'>): WorkerEntry {
    // Fields listed one by one, not `{ ...w }`: entries built by spreading made every pick()
    // visit ~60× slower (bench/README.md, "Scale"), 1 ms per request at 1,000 workers.
    const entry: WorkerEntry = {
      id: this.nextId++, connection: w.connection, owner: w.owner, disabled: w.disabled, extensions: w.extensions,
      model: w.model, coefficient: w.coefficient, maxActive: w.maxActive,
      active: 0, reportedActive: null, successes: 0, failures: 0, latencyEwmaMs: 0, connectedAt: new Date().toISOString(),
    };
    this.workers.set(entry.id, entry);
    return entry;
  }

  remove(entry: WorkerEntry): void {
    this.workers.delete(entry.id);
  }

  all(): WorkerEntry[] {
    return [...this.workers.values()];
  }

  hasModel(model: string): boolean {
    for (const w of this.workers.values()) if (w.model === model) return true;
    return false;
  }

  /** Best worker for the query, or undefined when none qualifies. */
  pick(model: string, maxCoefficient: number, exclude: ReadonlySet<number>): WorkerEntry | undefined {
    let best: WorkerEntry | undefined;
    let bestScore = Infinity;
    for (const w of this.workers.values()) {
      if (w.disabled || w.model !== model || w.coefficient > maxCoefficient || w.active >= w.maxActive || exclude.has(w.id)) continue;
      const score = this.score(w);
      // Random tie-break so equal workers share the load.
      if (score < bestScore || (score === bestScore && Math.random() < 0.5)) {
        best = w;
        bestScore = score;
      }
    }
    return best;
  }

  /** Lower is better: load dominates, then unreliability, then price. */
  private score(w: WorkerEntry): number {
    const load = w.active / w.maxActive;
    // Failure share with an optimistic prior: a new worker is trusted until it fails.
    const unreliability = w.failures / (w.successes + w.failures + 1);
    return load + 2 * unreliability + 0.05 * (w.coefficient / 1000);
  }

  recordSuccess(w: WorkerEntry, latencyMs: number): void {
    w.successes++;
    w.latencyEwmaMs = w.latencyEwmaMs === 0 ? latencyMs : w.latencyEwmaMs + EWMA_ALPHA * (latencyMs - w.latencyEwmaMs);
  }

  recordFailure(w: WorkerEntry): void {
    w.failures++;
  }
}

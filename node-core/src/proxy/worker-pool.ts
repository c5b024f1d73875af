import type { Connection } from '../protocol/connection.ts';

/** What the proxy needs of a peer's connection to relay to it (a `Connection`; a test's recorder). */
export type PeerLink = Pick<Connection, 'send' | 'closed'>;

/**
 * The proxy's view of its connected workers and how it picks one for a query: by model, load
 * (active / max), reputation (success rate, latency moving average) and price coefficient no
 * higher than the client's maximum.
 */
export interface WorkerEntry {
  id: number;
  connection: PeerLink;
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
/** Up to this many workers of a model, a pick scores them all (the exact best). */
const EXACT_PICK_LIMIT = 32;
/** Beyond it, a pick scores this many drawn at random ("power of d choices"): cost independent of the pool's size. */
const SAMPLED_CANDIDATES = 16;

export class WorkerPool {
  private readonly workers = new Map<number, WorkerEntry>();
  /** Workers by model (a worker's model is fixed at its handshake): a pick looks at its model only. */
  private readonly byModel = new Map<string, WorkerEntry[]>();
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
    const same = this.byModel.get(entry.model);
    if (same) same.push(entry);
    else this.byModel.set(entry.model, [entry]);
    return entry;
  }

  remove(entry: WorkerEntry): void {
    if (!this.workers.delete(entry.id)) return;
    const same = this.byModel.get(entry.model)!;
    same.splice(same.indexOf(entry), 1);
    if (same.length === 0) this.byModel.delete(entry.model);
  }

  all(): WorkerEntry[] {
    return [...this.workers.values()];
  }

  hasModel(model: string): boolean {
    return this.byModel.has(model);
  }

  /**
   * Best worker for the query, or undefined when none qualifies. Exact among up to
   * EXACT_PICK_LIMIT workers of the model; in larger pools the best of SAMPLED_CANDIDATES drawn
   * at random (nearly as even a load as the exact best, at a cost that does not grow with the
   * pool), falling back to scoring all of them only when none of those qualifies (a pool that
   * is nearly full, or a price or exclusion most workers fail).
   */
  pick(model: string, maxCoefficient: number, exclude: ReadonlySet<number>): WorkerEntry | undefined {
    const same = this.byModel.get(model);
    if (!same) return undefined;
    if (same.length > EXACT_PICK_LIMIT) {
      let best: WorkerEntry | undefined;
      let bestScore = Infinity;
      for (let i = 0; i < SAMPLED_CANDIDATES; i++) {
        const w = same[Math.floor(Math.random() * same.length)]!;
        if (!this.eligible(w, maxCoefficient, exclude)) continue;
        const score = this.score(w);
        if (score < bestScore) {
          best = w;
          bestScore = score;
        }
      }
      if (best) return best;
    }
    let best: WorkerEntry | undefined;
    let bestScore = Infinity;
    for (const w of same) {
      if (!this.eligible(w, maxCoefficient, exclude)) continue;
      const score = this.score(w);
      // Random tie-break so equal workers share the load.
      if (score < bestScore || (score === bestScore && Math.random() < 0.5)) {
        best = w;
        bestScore = score;
      }
    }
    return best;
  }

  private eligible(w: WorkerEntry, maxCoefficient: number, exclude: ReadonlySet<number>): boolean {
    return !w.disabled && w.coefficient <= maxCoefficient && w.active < w.maxActive && !exclude.has(w.id);
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

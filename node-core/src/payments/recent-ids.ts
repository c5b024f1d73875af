/**
 * The request ids of a store's newest records, in memory, for its "already recorded?" check.
 *
 * Why not a UNIQUE index on the id: request ids are random, so every insert into such an index
 * lands on a different B-tree page, and each commit writes one 4 KiB WAL page per answer: the
 * proxy ledger took 147 µs per answer in groups of 8 on a file of 100,000 answers, 26–58 µs
 * appending under a sequence key (`npm run bench -- ledger`). The ids a store sees are made
 * fresh per answer (the proxy's per-attempt worker request id, the client's own id), so a
 * repeat can only come from a bug or a replay close in time; the newest `capacity` ids catch
 * both, and they are reloaded from the file on open, so the check survives restarts too.
 *
 * Ids written while a transaction runs are staged: seen by `get` in that transaction (a
 * repeat within one group), kept when it commits (`publish`), dropped when it rolls back
 * (`rollbackTo`), so an answer retried after a failed group is not taken for a repeat of itself.
 */
export class RecentIds<V> {
  private readonly committed = new Map<string, V>();
  private readonly staged = new Map<string, V>();

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`a recent-id window holds at least 1 id, got ${capacity}`);
  }

  /** The value kept with `id`, committed or staged in the running transaction. */
  get(id: string): V | undefined {
    return this.staged.get(id) ?? this.committed.get(id);
  }

  /** Adds an id written in the running transaction. */
  stage(id: string, value: V): void {
    this.staged.set(id, value);
  }

  /** How many ids are staged: a mark to roll back to if the part of the transaction after it fails. */
  mark(): number {
    return this.staged.size;
  }

  /** Drops the ids staged after `mark` (their writes were rolled back). */
  rollbackTo(mark: number): void {
    if (mark >= this.staged.size) return;
    let i = 0;
    for (const id of [...this.staged.keys()]) if (i++ >= mark) this.staged.delete(id);
  }

  /** The transaction committed: its ids join the window, the oldest fall out. */
  publish(): void {
    for (const [id, v] of this.staged) this.add(id, v);
    this.staged.clear();
  }

  /** Loads the window from rows already on disk, as a store reads them: newest first. */
  addNewestFirst(rows: readonly { id: string; value: V }[]): void {
    for (let i = rows.length - 1; i >= 0; i--) this.add(rows[i]!.id, rows[i]!.value);
  }

  /** Adds an id already on disk, oldest first. */
  add(id: string, value: V): void {
    this.committed.delete(id);
    this.committed.set(id, value);
    if (this.committed.size > this.capacity) this.committed.delete(this.committed.keys().next().value!);
  }

  get size(): number {
    return this.committed.size;
  }
}

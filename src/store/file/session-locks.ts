/**
 * One lock a session: what runs under it runs after every earlier task on
 * the same session has settled, so each change sees the last. Writes that
 * queue on a session while an earlier task of it runs (most often: waits for
 * its journal fdatasync) are run together once it is done (`join`), so that
 * their journal lines share one fdatasync, as writes to different sessions
 * already do: sixteen clients writing one session wait for two fdatasyncs,
 * not sixteen. Tasks run in the order they were queued, batches included.
 */
/**
 * The most items a batch takes; later ones start the next batch. What a
 * batch holds is bound already (each item is a request in progress), but
 * one write and one answer time for all of them is not worth more.
 */
const MAX_BATCH_ITEMS = 256;

/** An item of a batch: the promise its caller waits for (rejecting a settled one does nothing). */
export interface Settles {
  reject(error: unknown): void;
}

export class SessionLocks {
  /** What the next task on a session waits for, by session. */
  private readonly tails = new Map<string, Promise<void>>();
  /** The batch queued on a session that has not started yet, which later items join. */
  private readonly waiting = new Map<
    string,
    { run: (items: never[]) => Promise<void>; items: unknown[] }
  >();

  /** Runs `task` after every earlier task on the session has settled. */
  run<T>(id: string, task: () => Promise<T>): Promise<T> {
    // An item queued after this task runs after it: it starts a batch of its own.
    this.waiting.delete(id);
    return this.chain(id, task);
  }

  /**
   * Queues `item` for `run`: it joins the batch of the same `run` waiting
   * on the session (queued after the last task of another kind) while that
   * holds fewer than MAX_BATCH_ITEMS, or starts one. `run` gets the items in the order they were queued, after every
   * earlier task on the session has settled, and settles each item itself
   * (each carries its own promise); if it throws, every item of the batch
   * not yet settled is rejected with what it threw. `run` must be the same
   * function for every item that may share a batch.
   */
  join<T extends Settles>(id: string, item: T, run: (items: T[]) => Promise<void>): void {
    const waiting = this.waiting.get(id);
    if (waiting !== undefined && waiting.run === run && waiting.items.length < MAX_BATCH_ITEMS) {
      waiting.items.push(item);
      return;
    }
    const batch = { run, items: [item] as unknown[] };
    this.waiting.set(id, batch);
    void this.chain(id, () => {
      if (this.waiting.get(id) === batch) this.waiting.delete(id);
      return run(batch.items as T[]);
    }).catch((error: unknown) => {
      for (const queued of batch.items as T[]) queued.reject(error);
    });
  }

  private async chain<T>(id: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(id) ?? Promise.resolve();
    const current = previous.then(task, task);
    const settled = current.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(id, settled);
    try {
      return await current;
    } finally {
      if (this.tails.get(id) === settled) this.tails.delete(id);
    }
  }
}

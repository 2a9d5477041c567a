/**
 * Group commit with a result per caller: what callers submit while a batch is
 * being committed waits, and goes together in the next one, so N concurrent
 * writes cost one statement and one WAL flush, not N. The first write after a
 * quiet moment goes at once, alone: batching adds no wait, only sharing.
 * Batches never overlap; items with the same key never share one (the next
 * batch takes the later), so each batch sees the earlier one's effect. A
 * batch that failed for one item's sake (`failsAlone`: the database refused
 * a value, not the connection) is tried again an item at a time, so that
 * item fails alone and the others commit.
 */
interface Pending<I, R> {
  item: I;
  resolve: (result: R) => void;
  reject: (error: unknown) => void;
}

export class Batcher<I, R> {
  private queue: Pending<I, R>[] = [];
  private running = false;

  constructor(
    /** Commits the items; returns one result per item, in their order. */
    private readonly commit: (items: I[]) => Promise<R[]>,
    private readonly keyOf: (item: I) => string,
    {
      maxBatch = 500,
      failsAlone = () => false,
    }: {
      /** The most items a batch takes. */
      maxBatch?: number;
      /** Whether an error is one item's (tried again alone) rather than the whole batch's. */
      failsAlone?: (error: unknown) => boolean;
    } = {},
  ) {
    this.maxBatch = maxBatch;
    this.failsAlone = failsAlone;
  }

  private readonly maxBatch: number;
  private readonly failsAlone: (error: unknown) => boolean;

  submit(item: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    while (this.queue.length > 0) {
      const batch: Pending<I, R>[] = [];
      const later: Pending<I, R>[] = [];
      const keys = new Set<string>();
      for (const pending of this.queue) {
        const key = this.keyOf(pending.item);
        if (batch.length < this.maxBatch && !keys.has(key)) {
          keys.add(key);
          batch.push(pending);
        } else {
          later.push(pending);
        }
      }
      this.queue = later;
      try {
        const results = await this.commit(batch.map((pending) => pending.item));
        for (const [i, pending] of batch.entries()) pending.resolve(results[i] as R);
      } catch (error) {
        if (batch.length > 1 && this.failsAlone(error)) {
          for (const pending of batch) await this.commitAlone(pending);
        } else {
          for (const pending of batch) pending.reject(error);
        }
      }
    }
    this.running = false;
  }

  private async commitAlone(pending: Pending<I, R>): Promise<void> {
    try {
      const [result] = await this.commit([pending.item]);
      pending.resolve(result as R);
    } catch (error) {
      pending.reject(error);
    }
  }
}

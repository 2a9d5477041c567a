/**
 * The file store's expiring sessions by the second they expire in: a bucket
 * a second, and the seconds in a min-heap, so finding what is due costs the
 * due seconds, never a pass over every session. What has come due and is
 * not yet swept is held apart, a bucket at a time (`dueBuckets`): it is
 * counted out of the live sessions at once, and the sweep takes it from
 * there. A session that never
 * expires is in none of this.
 */

/** What the queue needs of a session: when it expires (epoch ms), or undefined for never. */
export interface Expiring {
  expiresAt: number | undefined;
}

/** Seconds of emptied buckets the heap may hold beyond twice the buckets before it is rebuilt. */
const STALE_SECONDS_KEPT = 1024;

export class DueSessions<T extends Expiring> {
  /** The sessions by the second they expire in (epoch seconds), for seconds not yet due. */
  private readonly buckets = new Map<number, Set<T>>();
  /** Every bucket's second, smallest first (a binary heap). */
  private seconds: number[] = [];
  /**
   * The buckets whose second has come, not yet swept, in the order they came
   * due: moved here whole, so a second that a million sessions share comes
   * due in one step.
   */
  private readonly dueBuckets = new Map<number, Set<T>>();
  private due = 0;

  /** Holds `session` by its expiry (none: nothing to hold). */
  add(session: T): void {
    if (session.expiresAt === undefined) return;
    const second = Math.floor(session.expiresAt / 1000);
    let bucket = this.buckets.get(second);
    if (bucket === undefined) {
      bucket = new Set();
      this.buckets.set(second, bucket);
      this.push(second);
    }
    bucket.add(session);
  }

  /** Lets go of `session` (removed, or about to get another expiry). */
  remove(session: T): void {
    if (session.expiresAt === undefined) return;
    const second = Math.floor(session.expiresAt / 1000);
    const due = this.dueBuckets.get(second);
    if (due?.delete(session) === true) {
      this.due--;
      if (due.size === 0) this.dueBuckets.delete(second);
      return;
    }
    const bucket = this.buckets.get(second);
    bucket?.delete(session);
    if (bucket?.size === 0) {
      // An emptied bucket's second stays in the heap until it comes (popped
      // then, cheaply), unless such seconds outnumber the buckets: a client
      // creating and deleting sessions that expire years ahead would grow the
      // heap without end. Then it is built again from the buckets, O(b) for
      // at least b removals.
      this.buckets.delete(second);
      if (this.seconds.length > 2 * this.buckets.size + STALE_SECONDS_KEPT) this.rebuild();
    }
  }

  /** How many seconds the heap holds (tests watch it stay bounded). */
  get heapSize(): number {
    return this.seconds.length;
  }

  /** The heap from the buckets' seconds, sifted down from the middle (Floyd's: O(b)). */
  private rebuild(): void {
    this.seconds = Array.from(this.buckets.keys());
    for (let at = (this.seconds.length >> 1) - 1; at >= 0; at--) {
      this.siftDown(at, this.seconds[at] as number);
    }
  }

  /** Queues a due session by its expiry again (it was found not expired: the clock went back). */
  requeue(session: T): void {
    if (session.expiresAt === undefined) return;
    const due = this.dueBuckets.get(Math.floor(session.expiresAt / 1000));
    if (due?.has(session) !== true) return;
    this.remove(session);
    this.add(session);
  }

  /** Moves every bucket expired at `nowMs` to the due ones; how many sessions it moved. */
  advance(nowMs: number): number {
    let moved = 0;
    // expires_at is a whole second: expired when it is at or before now.
    while (this.seconds.length > 0 && (this.seconds[0] as number) * 1000 <= nowMs) {
      const second = this.pop();
      const bucket = this.buckets.get(second);
      if (bucket === undefined) continue;
      this.buckets.delete(second);
      const due = this.dueBuckets.get(second);
      if (due === undefined) this.dueBuckets.set(second, bucket);
      else for (const session of bucket) due.add(session);
      moved += bucket.size;
    }
    this.due += moved;
    return moved;
  }

  /** How many sessions have expired and are not yet swept, as of the last advance. */
  get dueCount(): number {
    return this.due;
  }

  /** The due sessions, in the order their seconds came due (the sweep's work). */
  *dueSessions(): IterableIterator<T> {
    for (const bucket of this.dueBuckets.values()) yield* bucket;
  }

  private push(second: number): void {
    const heap = this.seconds;
    heap.push(second);
    let at = heap.length - 1;
    while (at > 0) {
      const parent = (at - 1) >> 1;
      if ((heap[parent] as number) <= second) break;
      heap[at] = heap[parent] as number;
      at = parent;
    }
    heap[at] = second;
  }

  private pop(): number {
    const heap = this.seconds;
    const top = heap[0] as number;
    const last = heap.pop() as number;
    if (heap.length > 0) this.siftDown(0, last);
    return top;
  }

  /** Puts `second` at `at` and moves it down below every smaller child. */
  private siftDown(at: number, second: number): void {
    const heap = this.seconds;
    for (;;) {
      const left = 2 * at + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child =
        right < heap.length && (heap[right] as number) < (heap[left] as number) ? right : left;
      if ((heap[child] as number) >= second) break;
      heap[at] = heap[child] as number;
      at = child;
    }
    heap[at] = second;
  }
}

/**
 * The file store's expiring sessions by the second they expire in: a bucket
 * a second, and the seconds in a min-heap, so finding what is due costs the
 * due sessions, never a pass over every session. What has come due and is
 * not yet swept is held apart (`due`): it is counted out of the live
 * sessions at once, and the sweep takes it from there. A session that never
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
  private readonly seconds: number[] = [];
  /** Sessions whose second has come, not yet swept. */
  private readonly due = new Set<T>();

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
    if (this.due.delete(session)) return;
    const second = Math.floor(session.expiresAt / 1000);
    const bucket = this.buckets.get(second);
    bucket?.delete(session);
    if (bucket?.size === 0) {
      // An emptied bucket's second stays in the heap until it comes (popped
      // then, cheaply), unless such seconds outnumber the buckets: a client
      // creating and deleting sessions that expire years ahead would grow the
      // heap without end. Then it is built again from the buckets, a cost of
      // O(b log b) for at least b removals.
      this.buckets.delete(second);
      if (this.seconds.length > 2 * this.buckets.size + STALE_SECONDS_KEPT) this.rebuild();
    }
  }

  /** How many seconds the heap holds (tests watch it stay bounded). */
  get heapSize(): number {
    return this.seconds.length;
  }

  private rebuild(): void {
    // A sorted array is a binary min-heap.
    const seconds = [...this.buckets.keys()].sort((a, b) => a - b);
    this.seconds.length = 0;
    this.seconds.push(...seconds);
  }

  /** Queues a due session by its expiry again (it was found not expired: the clock went back). */
  requeue(session: T): void {
    if (this.due.delete(session)) this.add(session);
  }

  /** Moves every session expired at `nowMs` to the due ones; how many it moved. */
  advance(nowMs: number): number {
    let moved = 0;
    // expires_at is a whole second: expired when it is at or before now.
    while (this.seconds.length > 0 && (this.seconds[0] as number) * 1000 <= nowMs) {
      const second = this.pop();
      const bucket = this.buckets.get(second);
      if (bucket === undefined) continue;
      this.buckets.delete(second);
      for (const session of bucket) this.due.add(session);
      moved += bucket.size;
    }
    return moved;
  }

  /** How many sessions have expired and are not yet swept, as of the last advance. */
  get dueCount(): number {
    return this.due.size;
  }

  /** The due sessions, in the order they came due (the sweep's work). */
  dueSessions(): IterableIterator<T> {
    return this.due.values();
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
    if (heap.length === 0) return top;
    let at = 0;
    for (;;) {
      const left = 2 * at + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child =
        right < heap.length && (heap[right] as number) < (heap[left] as number) ? right : left;
      if ((heap[child] as number) >= last) break;
      heap[at] = heap[child] as number;
      at = child;
    }
    heap[at] = last;
    return top;
  }
}

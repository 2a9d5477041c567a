/**
 * The sessions' creation order as a seekable index, so a page of sessions
 * after any cursor costs O(log n + page), not a walk from the start. Keys are
 * kept in sorted chunks of at most CHUNK_SIZE: a create appends (it is always
 * the newest), a delete splices within its chunk, a seek is two binary
 * searches. The keys are the sessions' CreationKeys (seq, or for the
 * original's sessions created_at and id), which never change.
 */
import { type CreationKey, compareCreationOrder } from './session-files.js';

const CHUNK_SIZE = 512;

export type IndexKey = CreationKey;

export class CreationIndex<K extends CreationKey = CreationKey> {
  private chunks: K[][] = [];
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Adds a key; a key newer than every other (the usual case) is appended. */
  add(key: K): void {
    const last = this.chunks.at(-1);
    const newest = last?.at(-1);
    if (last === undefined || newest === undefined || compareCreationOrder(newest, key) < 0) {
      if (last === undefined || last.length >= CHUNK_SIZE) this.chunks.push([key]);
      else last.push(key);
    } else {
      const [chunkIndex, position] = this.locate(key);
      const chunk = this.chunks[chunkIndex] as K[];
      chunk.splice(position, 0, key);
      if (chunk.length > 2 * CHUNK_SIZE) {
        this.chunks.splice(chunkIndex, 1, chunk.slice(0, CHUNK_SIZE), chunk.slice(CHUNK_SIZE));
      }
    }
    this.count++;
  }

  /** Removes the key equal to `key`; false when there is none. */
  remove(key: CreationKey): boolean {
    const [chunkIndex, position] = this.locate(key);
    const chunk = this.chunks[chunkIndex];
    const found = chunk?.[position];
    if (chunk === undefined || found === undefined || compareCreationOrder(found, key) !== 0) {
      return false;
    }
    chunk.splice(position, 1);
    if (chunk.length === 0) this.chunks.splice(chunkIndex, 1);
    this.count--;
    return true;
  }

  /**
   * Up to `limit` keys after `cursor` (exclusive; from the start when null),
   * oldest first, or newest first when `newestFirst`; `more` says whether
   * any key follows the last one returned.
   */
  page(
    cursor: CreationKey | null,
    limit: number,
    newestFirst: boolean,
  ): { keys: K[]; more: boolean } {
    const { keys, more } = this.scan(
      cursor,
      limit,
      newestFirst,
      Number.POSITIVE_INFINITY,
      () => 'take',
    );
    return { keys, more };
  }

  /**
   * Like page, but only the keys `accept` takes, looking at no more than
   * `budget` keys, and ending before a key `accept` says `stop` to: `last` is
   * the last key looked at (where the next scan goes on from), `more` whether
   * any key follows it.
   */
  scan(
    cursor: CreationKey | null,
    limit: number,
    newestFirst: boolean,
    budget: number,
    accept: (key: K) => 'take' | 'skip' | 'stop',
  ): { keys: K[]; last: K | null; more: boolean; examined: number } {
    const keys: K[] = [];
    let last: K | null = null;
    let examined = 0;
    /**
     * Looks at one key; false once the page is full, the budget spent or
     * `accept` says stop (the key is not taken).
     */
    const visit = (key: K): boolean => {
      if (keys.length === limit || examined === budget) return false;
      const verdict = accept(key);
      if (verdict === 'stop') return false;
      examined++;
      last = key;
      if (verdict === 'take') keys.push(key);
      return true;
    };
    if (newestFirst) {
      let [chunkIndex, position] =
        cursor === null ? [this.chunks.length - 1, Number.POSITIVE_INFINITY] : this.locate(cursor);
      position -= 1; // before the cursor (locate finds the first key >= it)
      for (; chunkIndex >= 0; chunkIndex--) {
        const chunk = this.chunks[chunkIndex];
        if (chunk === undefined) continue; // an empty index
        for (let i = Math.min(position, chunk.length - 1); i >= 0; i--) {
          if (!visit(chunk[i] as K)) return { keys, last, more: true, examined };
        }
        position = Number.POSITIVE_INFINITY;
      }
      return { keys, last, more: false, examined };
    }
    let [chunkIndex, position] = cursor === null ? [0, 0] : this.locateAfter(cursor);
    for (; chunkIndex < this.chunks.length; chunkIndex++) {
      const chunk = this.chunks[chunkIndex] as K[];
      for (let i = position; i < chunk.length; i++) {
        if (!visit(chunk[i] as K)) return { keys, last, more: true, examined };
      }
      position = 0;
    }
    return { keys, last, more: false, examined };
  }

  /** Where the first key >= `key` is (or would go): [chunk, position in it]. */
  private locate(key: CreationKey): [number, number] {
    const chunkIndex = this.firstChunkEndingAtOrAfter(key);
    const chunk = this.chunks[chunkIndex];
    if (chunk === undefined) {
      const last = this.chunks.length - 1;
      return last < 0 ? [0, 0] : [last, (this.chunks[last] as CreationKey[]).length];
    }
    let low = 0;
    let high = chunk.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (compareCreationOrder(chunk[middle] as CreationKey, key) < 0) low = middle + 1;
      else high = middle;
    }
    return [chunkIndex, low];
  }

  /** Where the first key > `key` is: [chunk, position in it]. */
  private locateAfter(key: CreationKey): [number, number] {
    const [chunkIndex, position] = this.locate(key);
    const found = this.chunks[chunkIndex]?.[position];
    if (found !== undefined && compareCreationOrder(found, key) === 0) {
      return [chunkIndex, position + 1];
    }
    return [chunkIndex, position];
  }

  /** The first chunk whose last key is >= `key` (chunks.length when none). */
  private firstChunkEndingAtOrAfter(key: CreationKey): number {
    let low = 0;
    let high = this.chunks.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      const chunk = this.chunks[middle] as CreationKey[];
      if (compareCreationOrder(chunk[chunk.length - 1] as CreationKey, key) < 0) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}

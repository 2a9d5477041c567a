/**
 * The journal: a write-ahead log of session changes, so a write costs one
 * shared fdatasync instead of a file fsync, a rename and a directory fsync.
 *
 *   journal/<n>.jsonl    first line {"journal":1,"events_offset":B}, then one
 *                        change a line: {"op":"put","session":{…},"seq":N,"event":{…}},
 *                        {"op":"patch","id":"…","patch":{…},"event":{…}} or
 *                        {"op":"delete","id":"…","event":{…}}; then zeros,
 *                        written ahead of the records (the end)
 *
 * A put holds the whole session (a create, a PUT of new data); a patch only
 * what a write changed (domain/session.ts, SessionPatch: a PATCH's merge
 * patch, or the access a write that changed no data counted), so a write of
 * one key, or of nothing, to a large session costs a line of its own size.
 * A patch needs the session it applies to: the last put before it, or the
 * session as the snapshot (or, rolling forward, its file) held it. Each field
 * a patch names is set, and one the session holds already is skipped, so
 * applying it over a later version of the session (the snapshot may hold
 * one) gives exactly the same session.
 *
 * A change is committed when its journal line is durable; its event line is
 * appended to events.jsonl next, and the answer waits for both. Segments are
 * kept until a snapshot (snapshot.ts) covers them; a start replays the
 * segments after the snapshot and appends any event that a kill cut off
 * (`events_offset` says where in events.jsonl a segment's events can start).
 * Without a usable snapshot, a start rolls the segments forward into
 * sessions/ and deletes them (recovery.ts). A change that failed after its
 * journal line was durable is undone by a `"revert":true` line, which also
 * cancels its event: the newest of its session's events not cancelled yet
 * (a batch of one session's changes that failed is reverted the last first).
 */

import { join } from 'node:path';
import { cleanUpAfter } from '../cleanup.js';
import { AppendFile } from './append-file.js';
import type { DurableFiles } from './durable-file.js';
import type { WritableFileSystem } from './file-system.js';
import type { JournalRecord, JournalSegmentRead } from './journal-records.js';

/**
 * Segments are written into zeros written ahead of them, this much at a time,
 * so a commit's fdatasync leaves the file's size alone (see AppendFile.create).
 */
const SEGMENT_PREALLOCATE_BYTES = 1024 * 1024;

export function segmentFileName(number: number): string {
  return `${String(number).padStart(10, '0')}.jsonl`;
}

/** One segment file being appended to. */
export class JournalSegment {
  private inflight = 0;
  private idle: (() => void)[] = [];
  records = 0;

  constructor(
    readonly path: string,
    private readonly file: AppendFile,
  ) {}

  /** Marks `changes` changes as started on this segment; pair with `end`. */
  begin(changes = 1): void {
    this.inflight += changes;
    this.records += changes;
  }

  /** Appends `records` in one write, durably: all of them, or none. */
  append(...records: JournalRecord[]): Promise<void> {
    return this.file.appendAll(
      records.map((record) => ({ line: JSON.stringify(record), item: undefined })),
    );
  }

  end(changes = 1): void {
    this.inflight -= changes;
    if (this.inflight === 0) for (const resolve of this.idle.splice(0)) resolve();
  }

  size(): number {
    return this.file.size();
  }

  /** Resolves when every change started here has finished (committed or failed). */
  drained(): Promise<void> {
    if (this.inflight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  close(): Promise<void> {
    return this.file.close();
  }
}

/** A segment whose changes are all in memory, kept until a snapshot covers it. */
interface RetiredSegment {
  number: number;
  path: string;
  /** Where in events.jsonl its events can start (its header's `events_offset`). */
  eventsOffset: number;
  bytes(): number;
  /** Resolves when every change started on it has finished. */
  drained(): Promise<void>;
  /** Closes its file (nothing for a segment an earlier run left). */
  close(): Promise<void>;
}

export class Journal {
  private retired: RetiredSegment[];

  private constructor(
    private readonly fs: WritableFileSystem,
    private readonly files: DurableFiles,
    private readonly dir: string,
    private current: JournalSegment,
    private currentNumber: number,
    /** The current segment's `events_offset`. */
    private currentEventsOffset: number,
    retained: RetiredSegment[],
  ) {
    this.retired = retained;
  }

  /**
   * Starts a new segment in `dir` after the `retained` ones (segments an
   * earlier run left that no snapshot covers yet, replayed into memory by the
   * boot), numbered after them and never below `firstNumber`.
   */
  static async start(
    fs: WritableFileSystem,
    files: DurableFiles,
    dir: string,
    eventsOffset: number,
    retained: readonly JournalSegmentRead[] = [],
    firstNumber = 1,
  ): Promise<Journal> {
    await fs.mkdir(dir, { recursive: true });
    const number = Math.max(firstNumber, ...retained.map((segment) => segment.number + 1));
    const first = await Journal.createSegment(fs, files, dir, number, eventsOffset);
    const left = retained.map((segment) => ({
      number: segment.number,
      path: join(dir, segment.file),
      eventsOffset: segment.eventsOffset,
      bytes: () => segment.bytes,
      drained: () => Promise.resolve(),
      close: () => Promise.resolve(),
    }));
    return new Journal(fs, files, dir, first, number, eventsOffset, left);
  }

  private static async createSegment(
    fs: WritableFileSystem,
    files: DurableFiles,
    dir: string,
    number: number,
    eventsOffset: number,
  ): Promise<JournalSegment> {
    const path = join(dir, segmentFileName(number));
    const file = await AppendFile.create<undefined>(fs, path, SEGMENT_PREALLOCATE_BYTES);
    try {
      await file.append(JSON.stringify({ journal: 1, events_offset: eventsOffset }), undefined);
      await files.syncDirectory(dir);
    } catch (error) {
      await cleanUpAfter(
        error,
        () => file.close(),
        () => fs.rm(path, { force: true }),
      );
      throw error;
    }
    return new JournalSegment(path, file);
  }

  /** The segment new changes go to. */
  segment(): JournalSegment {
    return this.current;
  }

  /** The number of the segment new changes go to. */
  segmentNumber(): number {
    return this.currentNumber;
  }

  /**
   * Where in events.jsonl the events of the segments not yet deleted can
   * start (an offset in the log's whole history; infinity: none holds a
   * change): what a compaction of the log must keep, for a boot to find
   * them there. A change under way logs its event after its record, at the
   * log's end.
   */
  eventsFrom(): number {
    const current = this.current.records > 0 ? this.currentEventsOffset : Number.POSITIVE_INFINITY;
    return Math.min(current, ...this.retired.map((segment) => segment.eventsOffset));
  }

  /** The bytes of every segment not yet deleted. */
  bytes(): number {
    return this.retired.reduce((sum, segment) => sum + segment.bytes(), this.current.size());
  }

  /**
   * Sends new changes to a fresh segment (when the current one holds any)
   * and waits until every change of the older ones has finished; after that,
   * memory holds all they committed. Returns the number of the segment new
   * changes go to: what a snapshot taken now does not cover.
   */
  async rotate(eventsOffset: number): Promise<number> {
    if (this.current.records > 0) {
      const retiring = this.current;
      const number = this.currentNumber + 1;
      this.current = await Journal.createSegment(
        this.fs,
        this.files,
        this.dir,
        number,
        eventsOffset,
      );
      this.retired.push({
        number: this.currentNumber,
        path: retiring.path,
        eventsOffset: this.currentEventsOffset,
        bytes: () => retiring.size(),
        drained: () => retiring.drained(),
        close: () => retiring.close(),
      });
      this.currentNumber = number;
      this.currentEventsOffset = eventsOffset;
    }
    const number = this.currentNumber;
    await Promise.all(this.retired.map((segment) => segment.drained()));
    return number;
  }

  /** Deletes the segments numbered below `number`: call once a snapshot covers them. */
  async dropBefore(number: number): Promise<void> {
    const covered = this.retired.filter((segment) => segment.number < number);
    if (covered.length === 0) return;
    for (const segment of covered) {
      // A failed close still deletes the segment (its changes are durable
      // in the snapshot); the snapshot reports the failure.
      try {
        await segment.close();
      } finally {
        await this.fs.rm(segment.path, { force: true });
        this.retired = this.retired.filter((kept) => kept !== segment);
      }
    }
    await this.files.syncDirectory(this.dir);
  }

  /** Closes every segment, deleting the current one when no segment holds a change. */
  async close(): Promise<void> {
    try {
      for (const segment of this.retired) await segment.close();
    } finally {
      await this.current.close();
    }
    if (this.current.records === 0 && this.retired.length === 0) {
      await this.fs.rm(this.current.path, { force: true });
      await this.files.syncDirectory(this.dir);
    }
  }
}

// Reading offline (the inspector, migrate)

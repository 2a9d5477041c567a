/**
 * The append-only event log: an AppendFile of event lines (group commit, a
 * failed write cut back) that keeps its line count and the last
 * MAX_EVENT_LIMIT events in memory for `GET /events`. Events of session
 * changes are appended with `durable: false`: the journal already holds them
 * durably, and a snapshot syncs the log before it deletes the segments it
 * covers. Retention may have dropped its head (log-compaction.ts): positions
 * and the offsets it gives are those of the whole history (log-positions.ts).
 */

import type { FileHandle } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
import { MAX_EVENT_LIMIT, type ServiceEvent, serializeEvent } from '../../domain/event.js';
import { EventListeners } from '../event-listeners.js';
import type { EventListener } from '../store.js';
import { AppendFile } from './append-file.js';
import { type EventLogScan, parseEventLine } from './event-log-reader.js';
import type { WritableFileSystem } from './file-system.js';
import {
  firstKept,
  keptLineStarts,
  LINE_INDEX_STEP,
  type LogHead,
  type LogMark,
} from './log-positions.js';
import { openNoFollow } from './safe-open.js';

/** What a page read from the file asks of it at a time (a page is about 10-40 KiB). */
const READ_CHUNK_BYTES = 16 * 1024;

export class EventLog {
  private recent: ServiceEvent[];
  /** A handle for reading pages of older events, opened on the first such read. */
  private reader: Promise<FileHandle> | null = null;
  /** Pages being read from the file, and a reader a compaction left to close after them. */
  private reading = 0;
  private retiredReader: Promise<FileHandle> | null = null;
  private readonly listeners = new EventListeners();

  private constructor(
    private readonly path: string,
    private readonly file: AppendFile<ServiceEvent>,
    private lineCount: number,
    /** How many lines are `session_created` events. */
    private created: number,
    /** How many lines are `session_expired` events. */
    private expired: number,
    recent: ServiceEvent[],
    /** Where every LINE_INDEX_STEP-th line starts (see EventLogScan.lineStarts). */
    private lineStarts: number[],
    private lineStartsFrom: number,
    /** What retention dropped (NO_HEAD: nothing). */
    private logHead: LogHead,
  ) {
    this.recent = recent.slice(-MAX_EVENT_LIMIT);
  }

  /** Opens the log for appending, from what the boot's scan found. */
  static async open(fs: WritableFileSystem, path: string, scan: EventLogScan): Promise<EventLog> {
    let log: EventLog | undefined;
    const file = await AppendFile.open<ServiceEvent>(
      fs,
      path,
      scan.validEnd,
      (events, start, lines) => log?.committed(events, start, lines),
    );
    log = new EventLog(
      path,
      file,
      scan.count,
      scan.createdEvents,
      scan.expiredEvents,
      scan.tail,
      [...scan.lineStarts],
      scan.lineStartsFrom,
      scan.head,
    );
    return log;
  }

  append(event: ServiceEvent, durable = true): Promise<void> {
    return this.file.append(serializeEvent(event), event, durable);
  }

  /** Appends `events` in one write: all of them, or none (see AppendFile.appendAll). */
  appendAll(events: readonly ServiceEvent[], durable = true): Promise<void> {
    return this.file.appendAll(
      events.map((event) => ({ line: serializeEvent(event), item: event })),
      durable,
    );
  }

  /** Makes every event appended so far durable. */
  sync(): Promise<void> {
    return this.file.sync();
  }

  count(): number {
    return this.lineCount;
  }

  /** The position of the oldest event kept: 1 until retention dropped some. */
  oldest(): number {
    return this.logHead.dropped + 1;
  }

  /** What retention dropped (NO_HEAD: nothing). */
  head(): LogHead {
    return this.logHead;
  }

  /** Where the log stands now (what a snapshot keeps; see LogMark). */
  mark(): LogMark {
    return {
      offset: this.size(),
      count: this.lineCount,
      created: this.created,
      expired: this.expired,
      lineStarts: [...this.lineStarts],
      ...(this.lineStartsFrom === 0 ? {} : { lineStartsFrom: this.lineStartsFrom }),
    };
  }

  /** Where the complete lines written end, in the whole history (log-positions.ts). */
  size(): number {
    return this.logHead.base + this.file.size();
  }

  /** Bytes of complete lines in the file. */
  fileSize(): number {
    return this.file.size();
  }

  /** The last `limit` durable events, oldest first. */
  tail(limit: number): ServiceEvent[] {
    return limit > 0 ? this.recent.slice(-limit) : [];
  }

  /**
   * The events at positions `from` to `to` (1-based, inclusive, within the
   * log), oldest first: from memory when they are recent, else read from the
   * file starting at the nearest indexed line before them (at most
   * LINE_INDEX_STEP lines more than asked). A line that is not an event
   * (damage the inspector reports) is left out.
   */
  async range(from: number, to: number): Promise<ServiceEvent[]> {
    from = Math.max(from, this.oldest());
    if (to < from) return [];
    const inMemoryFrom = this.lineCount - this.recent.length + 1;
    if (from >= inMemoryFrom) {
      return this.recent.slice(from - inMemoryFrom, to - inMemoryFrom + 1);
    }
    this.reading++;
    try {
      return await this.readRange(from, to);
    } finally {
      this.reading--;
      if (this.reading === 0 && this.retiredReader !== null) {
        const retired = this.retiredReader;
        this.retiredReader = null;
        await (await retired).close();
      }
    }
  }

  private async readRange(from: number, to: number): Promise<ServiceEvent[]> {
    // From the nearest indexed line before `from`, else from the file's
    // start (where a compacted log's head line stands at position oldest - 1).
    const index = Math.floor((from - 1) / LINE_INDEX_STEP) - this.lineStartsFrom;
    // (An entry that points before the first kept line is none: never read.)
    const found = this.lineStarts[index];
    const indexed = found !== undefined && found >= this.firstKept() ? found : undefined;
    let offset = indexed === undefined ? 0 : indexed - this.logHead.base;
    let position =
      indexed === undefined
        ? Math.max(0, this.oldest() - 2)
        : (this.lineStartsFrom + index) * LINE_INDEX_STEP;
    const end = this.file.size();
    this.reader ??= openNoFollow(this.path, 'r');
    const handle = await this.reader;
    const buffer = Buffer.allocUnsafe(READ_CHUNK_BYTES);
    const decoder = new StringDecoder('utf8');
    const events: ServiceEvent[] = [];
    let partial = '';
    while (offset < end && position < to) {
      const { bytesRead } = await handle.read(
        buffer,
        0,
        Math.min(buffer.length, end - offset),
        offset,
      );
      if (bytesRead === 0) break;
      offset += bytesRead;
      const lines = (partial + decoder.write(buffer.subarray(0, bytesRead))).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        position++;
        if (position < from) continue;
        if (position > to) break;
        const event = parseEventLine(line);
        if (event !== null) events.push(event);
      }
    }
    return events;
  }

  /** Puts a compacted file in the log's place: see AppendFile.replace and log-compaction.ts. */
  replaceFile(swap: (end: number) => Promise<{ handle: FileHandle; size: number }>): Promise<void> {
    return this.file.replace(swap);
  }

  /**
   * Makes the file a compaction renamed over the log this log's file: called
   * by AppendFile.replace's swap, after the rename, with no append under way.
   * Positions and history offsets are unchanged; the line index and the
   * events in memory lose what was dropped.
   */
  compacted(head: LogHead): void {
    this.logHead = head;
    ({ lineStarts: this.lineStarts, lineStartsFrom: this.lineStartsFrom } = keptLineStarts(
      this.lineStarts,
      this.lineStartsFrom,
      head.dropped,
    ));
    const inMemoryFrom = this.lineCount - this.recent.length + 1;
    if (inMemoryFrom <= head.dropped)
      this.recent = this.recent.slice(head.dropped + 1 - inMemoryFrom);
    // Reads of the old file under way finish on it; later ones open the new one.
    if (this.reader !== null) {
      const old = this.reader;
      this.reader = null;
      if (this.reading === 0) void old.then((handle) => handle.close()).catch(() => undefined);
      else this.retiredReader = old;
    }
  }

  /** The first byte of the history the file still holds. */
  firstKept(): number {
    return firstKept(this.logHead);
  }

  async close(): Promise<void> {
    try {
      await this.file.close();
    } finally {
      await (await this.reader)?.close();
    }
  }

  /** See Store.onEvent. */
  onEvent(listener: EventListener): () => void {
    return this.listeners.add(listener);
  }

  private committed(events: ServiceEvent[], start: number, lines: string[]): void {
    let offset = start;
    for (const [index, event] of events.entries()) {
      // Note where every LINE_INDEX_STEP-th line starts.
      if ((this.lineStartsFrom + this.lineStarts.length) * LINE_INDEX_STEP === this.lineCount) {
        this.lineStarts.push(this.logHead.base + offset);
      }
      offset += Buffer.byteLength(lines[index] ?? '');
      this.lineCount++;
      if (event.event === 'session_created') this.created++;
      else if (event.event === 'session_expired') this.expired++;
      this.recent.push(event);
      this.listeners.tell(event, this.lineCount);
    }
    if (this.recent.length > 2 * MAX_EVENT_LIMIT) this.recent = this.recent.slice(-MAX_EVENT_LIMIT);
  }
}

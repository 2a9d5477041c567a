/**
 * Where lines and bytes stand in events.jsonl's whole history, and what the
 * first line of a compacted log says about the events
 * retention dropped before it (see docs/design/expiry-and-retention.md).
 *
 * A compaction rewrites the log as `{"event":"log_compacted","dropped":D,
 * "offset":B,"created":C,"expired":E,…}` followed by the events it keeps.
 * - Positions stay line numbers in the whole history: the events at 1..D are
 *   gone, the first kept one is D + 1 (the head line itself stands in D's
 *   place and is never served as an event), so `count` stays the number of
 *   events ever logged.
 * - Byte offsets kept elsewhere (a snapshot's mark, a journal segment's
 *   `events_offset`, the marker's `adopted_through`) are offsets in the
 *   whole history: byte x of the file is byte B + x of the history. So they
 *   stay true across the rename that compacts, with nothing else rewritten;
 *   an offset before the first kept line (B + the head line's length) points
 *   into what was dropped.
 * - C and E are the `session_created` and `session_expired` events among the
 *   dropped, so a recount from the file (total_sessions, expired_sessions)
 *   stays exact.
 * A log that was never compacted has no head: every field 0.
 */
import { logCompactedEvent, serializeEvent } from '../../domain/event.js';

/**
 * Every this many lines the scan notes where a line starts (see
 * EventLogScan.lineStarts): a page reads at most this many lines more than it
 * shows (about 40 KiB), and 10,000,000 events cost 40,000 numbers.
 */
export const LINE_INDEX_STEP = 256;

/**
 * A place in the log and what precedes it: the byte offset of a line start
 * (in the whole history: see above), the lines before it (its position less
 * one), how many of them are `session_created` and `session_expired` events
 * (a snapshot written before expiry has no `expired`: none), and where every
 * LINE_INDEX_STEP-th line starts up to it: `lineStarts[i]` is where position
 * (lineStartsFrom + i) × LINE_INDEX_STEP + 1 starts (lineStartsFrom is absent
 * before a compaction: 0). A snapshot keeps one, so a boot counts only the
 * lines after it.
 */
export interface LogMark {
  offset: number;
  count: number;
  created: number;
  expired?: number;
  lineStarts: number[];
  lineStartsFrom?: number;
}

export const LOG_START: LogMark = { offset: 0, count: 0, created: 0, expired: 0, lineStarts: [0] };

export interface LogHead {
  /** Events dropped before the first kept one (positions 1..dropped). */
  dropped: number;
  /** Where the file's byte 0 stands in the whole history. */
  base: number;
  /** `session_created` events among the dropped. */
  created: number;
  /** `session_expired` events among the dropped. */
  expired: number;
  /** Bytes of the head line with its newline (0: no head). */
  length: number;
}

export const NO_HEAD: Readonly<LogHead> = Object.freeze({
  dropped: 0,
  base: 0,
  created: 0,
  expired: 0,
  length: 0,
});

/** The head the first line of a log is, or NO_HEAD when it is no head. */
export function parseLogHead(firstLine: string): LogHead {
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(firstLine) as Record<string, unknown>;
  } catch {
    return NO_HEAD;
  }
  if (typeof value !== 'object' || value === null || value.event !== 'log_compacted') {
    return NO_HEAD;
  }
  const { dropped, offset, created, expired } = value;
  const counts = [dropped, offset, created, expired];
  if (!counts.every((n) => Number.isSafeInteger(n) && (n as number) >= 0)) return NO_HEAD;
  if ((dropped as number) < 1) return NO_HEAD;
  return {
    dropped: dropped as number,
    base: offset as number,
    created: created as number,
    expired: expired as number,
    length: Buffer.byteLength(firstLine) + 1,
  };
}

/**
 * Where counting a log's lines from its byte 0 starts: the head line counts
 * as the line at position `dropped`, in the place of the last dropped event.
 */
export function startMark(head: LogHead): LogMark {
  if (head.length === 0) return LOG_START;
  // The line index begins at the first kept line's step (see keptLineStarts).
  return {
    offset: head.base,
    count: head.dropped - 1,
    created: head.created,
    expired: head.expired,
    lineStarts: [],
    lineStartsFrom: Math.ceil(head.dropped / LINE_INDEX_STEP),
  };
}

/**
 * A line index without the entries of lines at positions up to `dropped`:
 * `lineStarts[i]` is where position (lineStartsFrom + i) × LINE_INDEX_STEP
 * + 1 starts, and no entry may point into what a compaction dropped (a
 * snapshot's mark taken before one still has them).
 */
export function keptLineStarts(
  lineStarts: readonly number[],
  lineStartsFrom: number,
  dropped: number,
): { lineStarts: number[]; lineStartsFrom: number } {
  const from = Math.max(lineStartsFrom, Math.ceil(dropped / LINE_INDEX_STEP));
  return { lineStarts: lineStarts.slice(from - lineStartsFrom), lineStartsFrom: from };
}

/** The first byte of the history a compacted log still holds: its first kept line. */
export function firstKept(head: LogHead): number {
  return head.base + head.length;
}

/**
 * The head line of a compaction keeping the history from byte `keptFrom`
 * (a line start) on, with everything before it dropped. Its `offset` is
 * `keptFrom` less the line's own length, which the offset's digits are part
 * of; where no number of digits fits (the length crosses a power of ten) the
 * line ends in a space, which every JSON reader skips.
 */
export function compactionHead(
  container: string,
  dropped: { count: number; keptFrom: number; created: number; expired: number },
  now: Date,
): { line: string; head: LogHead } {
  const lineAt = (offset: number): string =>
    serializeEvent(
      logCompactedEvent(
        container,
        { dropped: dropped.count, offset, created: dropped.created, expired: dropped.expired },
        now,
      ),
    );
  for (const pad of ['', ' ']) {
    let offset = dropped.keptFrom;
    for (let attempt = 0; attempt < 4; attempt++) {
      const line = lineAt(offset) + pad;
      const length = Buffer.byteLength(line) + 1;
      if (offset + length === dropped.keptFrom) {
        const { count, created, expired } = dropped;
        return { line, head: { dropped: count, base: offset, created, expired, length } };
      }
      offset = Math.max(0, dropped.keptFrom - length);
    }
  }
  throw new RangeError('a compaction must drop more bytes than its head line');
}

/**
 * The head line of a new log whose first `dropped.count` events are gone
 * (an export of a database that retention kept): the history begins with it,
 * at offset 0.
 */
export function headLineAtStart(
  container: string,
  dropped: { count: number; created: number; expired: number },
  now: Date,
): { line: string; head: LogHead } {
  const atZero = serializeEvent(
    logCompactedEvent(
      container,
      { dropped: dropped.count, offset: 0, created: dropped.created, expired: dropped.expired },
      now,
    ),
  );
  return compactionHead(container, { ...dropped, keptFrom: Buffer.byteLength(atZero) + 1 }, now);
}

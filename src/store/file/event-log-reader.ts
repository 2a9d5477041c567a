/**
 * Reads `events.jsonl` without changing it: the number of complete lines
 * (and where every LINE_INDEX_STEP-th starts), the last N events, and what is
 * wrong at its end (a torn last line left by a
 * crash mid-append, or trailing lines that are not JSON). Shared by the
 * service's boot and the offline inspector, so both read the format the same way.
 */
import type { FileHandle } from 'node:fs/promises';
import { isServiceEvent, type ServiceEvent } from '../../domain/event.js';
import {
  firstKept,
  keptLineStarts,
  LINE_INDEX_STEP,
  LOG_START,
  type LogHead,
  type LogMark,
  NO_HEAD,
  parseLogHead,
  startMark,
} from './log-positions.js';
import { isFileProblem, openReadStream, openRegularFile, UnsafeFileError } from './safe-open.js';

export { LINE_INDEX_STEP, LOG_START, type LogMark };

const NEWLINE = 0x0a;
const CHUNK = 1 << 20;
/** More damaged lines than this at the end is not a torn append: report it, never cut it. */
const MAX_TRAILING_INVALID = 16;

export interface EventLogScan {
  /** File size in bytes (0 when the file does not exist). */
  size: number;
  exists: boolean;
  /**
   * The position of the last complete line, up to the end of the last valid
   * line: the events ever logged (the dropped ones too).
   */
  count: number;
  /** How many of them are `session_created` events: sessions ever created. */
  createdEvents: number;
  /** How many are `session_expired` events: sessions the sweep removed. */
  expiredEvents: number;
  /** The last events (at most the requested number), oldest first. */
  tail: ServiceEvent[];
  /** Byte offset after the last valid line: everything from here on is cut. */
  validEnd: number;
  /**
   * Where lines 1, 1 + LINE_INDEX_STEP, 1 + 2 × LINE_INDEX_STEP, … start (byte
   * offsets in the whole history, see log-positions.ts), so any line can be
   * reached by reading at most LINE_INDEX_STEP lines: how the log is read a
   * page at a time. After a compaction the first are gone: `lineStarts[i]`
   * is where position (lineStartsFrom + i) × LINE_INDEX_STEP + 1 starts.
   */
  lineStarts: number[];
  lineStartsFrom: number;
  /** What the first line says retention dropped (NO_HEAD: nothing). */
  head: LogHead;
  /** Bytes after the last newline: a torn last line (an interrupted append), 0 if none. */
  tornBytes: number;
  /** Complete, unparseable lines in the tail window that are followed by valid ones. */
  corruptLinesInTail: number;
}

/** What a scan finds where there is no log (yet). */
export const NO_EVENT_LOG: Readonly<EventLogScan> = Object.freeze({
  size: 0,
  exists: false,
  count: 0,
  createdEvents: 0,
  expiredEvents: 0,
  tail: [],
  validEnd: 0,
  lineStarts: [0],
  lineStartsFrom: 0,
  head: NO_HEAD,
  tornBytes: 0,
  corruptLinesInTail: 0,
});

/** The event on one line of the log, or null when the line is not one. */
export function parseEventLine(line: string): ServiceEvent | null {
  if (line.length === 0) return null;
  try {
    const value: unknown = JSON.parse(line);
    return isServiceEvent(value) ? value : null;
  } catch {
    return null;
  }
}

/** `"event":"session_created"` as we write it, and as the original (Python's spacing) did. */
const CREATED_MARKS = [
  Buffer.from('"event":"session_created"'),
  Buffer.from('"event": "session_created"'),
];
/** `"event":"session_expired"`: only this service logs it. */
const EXPIRED_MARK = Buffer.from('"event":"session_expired"');
const CARRY = Math.max(...[...CREATED_MARKS, EXPIRED_MARK].map((mark) => mark.length)) - 1;

function countMatches(buffer: Buffer, mark: Buffer): number {
  let count = 0;
  let at = buffer.indexOf(mark);
  while (at !== -1) {
    count++;
    at = buffer.indexOf(mark, at + mark.length);
  }
  return count;
}

/** What countLines counts. */
interface LineCounts {
  lines: number;
  created: number;
  expired: number;
  lineStarts: number[];
  lineStartsFrom: number;
}

/**
 * Counts the complete lines before `end`, and the `session_created` and
 * `session_expired` events among them (without parsing a line: a quote inside a JSON string is always
 * escaped, so the mark cannot occur inside a value).
 */
async function countLines(
  path: string,
  end: number,
  from: LogMark,
  head: LogHead,
): Promise<LineCounts> {
  const lineStarts = [...from.lineStarts];
  let lines = from.count;
  let created = from.created;
  let expired = from.expired ?? 0;
  const lineStartsFrom = from.lineStartsFrom ?? 0;
  const fileFrom = from.offset - head.base;
  if (end <= fileFrom) return { lines, created, expired, lineStarts, lineStartsFrom };
  let carry = Buffer.alloc(0);
  let chunkStart = fileFrom;
  const stream = await openReadStream(path, {
    start: fileFrom,
    end: end - 1,
    highWaterMark: CHUNK,
  });
  if (stream === null) return { lines, created, expired, lineStarts, lineStartsFrom };
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    let at = chunk.indexOf(NEWLINE);
    while (at !== -1) {
      lines++;
      if (lines % LINE_INDEX_STEP === 0 && chunkStart + at + 1 < end) {
        lineStarts.push(head.base + chunkStart + at + 1);
      }
      at = chunk.indexOf(NEWLINE, at + 1);
    }
    chunkStart += chunk.length;
    // The carry is shorter than a mark, so no match is counted twice.
    const window = carry.length === 0 ? chunk : Buffer.concat([carry, chunk]);
    for (const mark of CREATED_MARKS) created += countMatches(window, mark);
    expired += countMatches(window, EXPIRED_MARK);
    carry = Buffer.from(window.subarray(Math.max(0, window.length - CARRY)));
  }
  return { lines, created, expired, lineStarts, lineStartsFrom };
}

/** The head the file's first line is (NO_HEAD when none); a head line is short. */
async function readHead(handle: FileHandle, size: number): Promise<LogHead> {
  const buffer = Buffer.alloc(Math.min(size, HEAD_LINE_MAX));
  await handle.read(buffer, 0, buffer.length, 0);
  const newline = buffer.indexOf(NEWLINE);
  return newline === -1 ? NO_HEAD : parseLogHead(buffer.toString('utf8', 0, newline));
}

const HEAD_LINE_MAX = 1024;

interface Line {
  text: string;
  /** Byte offset of the line's first byte in the file. */
  start: number;
}

/** Reads complete lines backwards from `end` until `wanted` lines or the file start. */
async function readLastLines(handle: FileHandle, end: number, wanted: number): Promise<Line[]> {
  const parts: Buffer[] = [];
  let position = end;
  let newlines = 0;
  while (position > 0 && newlines <= wanted) {
    const length = Math.min(CHUNK, position);
    position -= length;
    const buffer = Buffer.allocUnsafe(length);
    await handle.read(buffer, 0, length, position);
    parts.unshift(buffer);
    for (let i = 0; i < length; i++) if (buffer[i] === NEWLINE) newlines++;
  }
  const text = Buffer.concat(parts);
  // Drop the partial first line unless we reached the file's start.
  let from = position > 0 ? text.indexOf(NEWLINE) + 1 : 0;
  const lines: Line[] = [];
  while (from < text.length) {
    const newline = text.indexOf(NEWLINE, from);
    lines.push({ text: text.toString('utf8', from, newline), start: position + from });
    from = newline + 1;
  }
  return lines.slice(-wanted - 1);
}

/**
 * The byte offset of the first line from `start` (a line start) to the end
 * of the file that is not an event, a torn last line included; null when
 * every line is one. Read as raw bytes, so the offset is exact whatever the
 * bad bytes are. `onEvent` sees each line before that one, in order, except
 * the lines in `known`: events as this service serializes them (a journal's),
 * taken as events without parsing them again.
 */
export async function firstBadLine(
  path: string,
  start: number,
  onEvent: (line: string, event: ServiceEvent, offset: number) => void = () => undefined,
  known: ReadonlySet<string> = new Set(),
): Promise<number | null> {
  let offset = start;
  let partial: Buffer = Buffer.alloc(0);
  const stream = await openReadStream(path, { start, highWaterMark: CHUNK });
  if (stream === null) return null;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      const bytes = partial.length === 0 ? chunk : Buffer.concat([partial, chunk]);
      let from = 0;
      for (
        let newline = bytes.indexOf(NEWLINE);
        newline !== -1;
        newline = bytes.indexOf(NEWLINE, from)
      ) {
        const line = bytes.toString('utf8', from, newline);
        if (!known.has(line)) {
          const event = parseEventLine(line);
          if (event === null) return offset;
          onEvent(line, event, offset);
        }
        offset += newline + 1 - from;
        from = newline + 1;
      }
      partial = bytes.subarray(from);
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  } finally {
    stream.destroy();
  }
  return partial.length > 0 ? offset : null;
}

/** Every line of the log from byte `start` (a line start) up to byte `end`, in order, never the whole log in memory. */
export async function* readLogLines(path: string, end: number, start = 0): AsyncGenerator<string> {
  if (end <= start) return;
  const stream = await openReadStream(path, {
    start,
    end: end - 1,
    encoding: 'utf8',
    highWaterMark: 1 << 20,
  });
  if (stream === null) return;
  let partial = '';
  try {
    for await (const chunk of stream as AsyncIterable<string>) {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      yield* lines;
    }
  } finally {
    stream.destroy();
  }
  if (partial !== '') yield partial;
}

/**
 * Reads the log's tail and counts its lines; with `from`, counts only the
 * lines after that mark (ignored when the valid log ends before it).
 */
export async function scanEventLog(
  path: string,
  tailSize: number,
  from: LogMark = LOG_START,
): Promise<EventLogScan> {
  // Never through a symlink, never a FIFO (the open would hang): see safe-open.ts.
  const opened = await openRegularFile(path);
  if (opened === null) return { ...NO_EVENT_LOG, lineStarts: [0] };
  if (isFileProblem(opened)) throw new UnsafeFileError(path, opened);
  const { handle, size } = opened;
  let lastNewlineEnd = 0;
  let lines: Line[];
  let head: LogHead = NO_HEAD;
  try {
    head = await readHead(handle, size);
    // Everything after the last newline is a torn line.
    if (size > 0) {
      let position = size;
      const buffer = Buffer.allocUnsafe(Math.min(CHUNK, size));
      search: while (position > 0) {
        const length = Math.min(buffer.length, position);
        position -= length;
        await handle.read(buffer, 0, length, position);
        for (let i = length - 1; i >= 0; i--) {
          if (buffer[i] === NEWLINE) {
            lastNewlineEnd = position + i + 1;
            break search;
          }
        }
      }
    }
    lines = lastNewlineEnd > 0 ? await readLastLines(handle, lastNewlineEnd, tailSize) : [];
  } finally {
    await handle.close();
  }

  // Complete lines at the very end that are not events are damage too (a crash
  // on a file system that extends files with zeroes); lines followed by valid
  // ones are corruption to report, not to cut.
  let trailingInvalid = 0;
  while (
    trailingInvalid < lines.length &&
    parseEventLine((lines[lines.length - 1 - trailingInvalid] as Line).text) === null
  ) {
    trailingInvalid++;
  }
  if (trailingInvalid > MAX_TRAILING_INVALID) trailingInvalid = 0;
  const kept = lines.slice(0, lines.length - trailingInvalid);
  const validEnd =
    trailingInvalid > 0 ? (lines[lines.length - trailingInvalid] as Line).start : lastNewlineEnd;
  const tail: ServiceEvent[] = [];
  let corruptLinesInTail = 0;
  for (const line of kept) {
    if (line.start === 0 && head.length > 0) continue; // the head line is no event of the history
    const event = parseEventLine(line.text);
    if (event === null) corruptLinesInTail++;
    else tail.push(event);
  }
  // A mark this file still holds, else from its start.
  const fileFrom = from.offset - head.base;
  const usable = from.offset >= firstKept(head) && fileFrom <= validEnd;
  const totals = await countLines(path, validEnd, usable ? from : startMark(head), head);
  const index = keptLineStarts(totals.lineStarts, totals.lineStartsFrom, head.dropped);
  return {
    size,
    exists: true,
    count: totals.lines,
    createdEvents: totals.created,
    expiredEvents: totals.expired,
    tail: tailSize === 0 ? [] : tail.slice(-tailSize),
    validEnd,
    lineStarts: index.lineStarts,
    lineStartsFrom: index.lineStartsFrom,
    head,
    tornBytes: size - lastNewlineEnd,
    corruptLinesInTail,
  };
}

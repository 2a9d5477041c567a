/**
 * What events.jsonl says happened after a point: the session changes another
 * program logged (the original implementation logs every change it makes)
 * after a snapshot's mark, which a start adopts from their files, and the
 * point itself, kept in the marker so the next start does not look again.
 */
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { type ServiceEvent, serializeEvent } from '../../domain/event.js';
import { isSessionId } from '../../domain/session.js';
import { firstBadLine, parseEventLine, readLogLines } from './event-log-reader.js';
import type { JournalSegmentRead } from './journal-records.js';
import type { DataLayout } from './layout.js';
import { firstKept, type LogHead } from './log-positions.js';

/** The kinds of event a session change logs, ours and the original's alike. */
const SESSION_CHANGE_KINDS = new Set([
  'session_created',
  'session_updated',
  'session_deleted',
  'session_expired',
]);

/** A point in events.jsonl: its byte offset, and a digest of the bytes just before it. */
export interface LogPoint {
  offset: number;
  digest: string;
}

const LOG_POINT_BYTES = 256;

/** The point at byte `fileOffset` of the log as it is now (its offset is kept in the whole history). */
export async function logPointAt(
  path: string,
  fileOffset: number,
  head: LogHead,
): Promise<LogPoint> {
  return { offset: head.base + fileOffset, digest: await digestBefore(path, fileOffset) };
}

async function digestBefore(path: string, offset: number): Promise<string> {
  const from = Math.max(0, offset - LOG_POINT_BYTES);
  const bytes = Buffer.alloc(offset - from);
  const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    await handle.read(bytes, 0, bytes.length, from);
  } finally {
    await handle.close();
  }
  return createHash('sha1').update(bytes).digest('base64');
}

/**
 * Whether the log (of `end` bytes) still holds the bytes `point` was taken
 * at. A point at or before the first line a compaction kept holds: every
 * line left comes after it; so does one whose digest's bytes reach back
 * into what the compaction replaced by its first line (they cannot be
 * compared, and the compaction kept every line after that one).
 */
async function logPointHolds(
  path: string,
  point: LogPoint,
  end: number,
  head: LogHead,
): Promise<boolean> {
  const kept = firstKept(head);
  if (point.offset <= kept) return true;
  if (head.length > 0 && point.offset - LOG_POINT_BYTES < kept)
    return point.offset - head.base <= end;
  const at = point.offset - head.base;
  if (at > end) return false;
  return (await digestBefore(path, at)) === point.digest;
}

/** A session change in events.jsonl that no journal segment holds: another program made it. */
export interface ForeignLogEntry {
  sessionId: string;
  kind: string;
}

/**
 * One read of events.jsonl after a snapshot's mark (read only): the first
 * line that is no event, and the session changes before it that none of the
 * `segments` (those after the snapshot) holds. The log was synced up to the
 * mark; after it, a line that is no event (zeros, pages a power cut kept out
 * of order, a torn last line) ends what counts: the session changes after it
 * are in the journal, the rest was never synced, so never acknowledged.
 * Before that line, a session change no journal segment holds is another
 * program's. `mark` and `handledThrough` are in the whole history, `end` and
 * the offsets returned in the file (log-positions.ts); the mark must be one
 * the file holds (at or after its first kept line).
 */
export async function readLogAfterMark(
  layout: DataLayout,
  head: LogHead,
  mark: number,
  end: number,
  segments: readonly JournalSegmentRead[],
  handledThrough: LogPoint | null = null,
): Promise<{ foreignLog: ForeignLogEntry[]; badAfterMark: number | null; keptAfterBad: string[] }> {
  const logged = new Set<string>();
  for (const segment of segments) {
    for (const record of segment.records) {
      if (record.event === undefined) continue;
      logged.add(serializeEvent(record.event));
      // A whole `ts` is written `.0`; versions before wrote it as JSON.stringify does.
      if (Number.isInteger(record.event.ts)) logged.add(JSON.stringify(record.event));
    }
  }
  const foreignLog: ForeignLogEntry[] = [];
  // Lines before `handledThrough` were looked at by an earlier start, which
  // adopted what they named (the marker keeps how far); a log that no
  // longer holds the same bytes there (replaced, or cut by a power failure
  // and written again) makes it mean nothing.
  const handled =
    handledThrough !== null && (await logPointHolds(layout.eventsFile, handledThrough, end, head))
      ? handledThrough.offset - head.base
      : 0;
  const noteForeign = (event: ServiceEvent, offset: number): void => {
    if (offset < handled || !SESSION_CHANGE_KINDS.has(event.event)) return;
    const sessionId = event.session_id;
    if (typeof sessionId === 'string' && isSessionId(sessionId)) {
      foreignLog.push({ sessionId, kind: event.event });
    }
  };
  const badAfterMark = await firstBadLine(
    layout.eventsFile,
    mark - head.base,
    (_line, event, offset) => noteForeign(event, offset),
    logged,
  );
  // After the damage, whole events no journal segment holds are not ours to
  // drop: another program appended them after a cut left the tail damaged
  // (the original appends whatever the log ends in). They are kept.
  const keptAfterBad: string[] = [];
  if (badAfterMark !== null) {
    let at = badAfterMark;
    for await (const read of readLogLines(layout.eventsFile, end, badAfterMark)) {
      const lineStart = at;
      at += Buffer.byteLength(read) + 1;
      // An append after a torn line or zeros shares its line with them.
      const cut = Math.max(0, read.lastIndexOf('{"ts"'));
      const line = read.slice(cut);
      const event = parseEventLine(line);
      if (event === null || logged.has(line)) continue;
      keptAfterBad.push(line);
      noteForeign(event, lineStart + Buffer.byteLength(read.slice(0, cut)));
    }
  }
  return { foreignLog, badAfterMark, keptAfterBad };
}

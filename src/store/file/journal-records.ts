/**
 * A journal segment's records (journal.ts says the format) and how segments
 * are read: at a boot, a step at a time between turns of the event loop;
 * offline (the inspector, a repair, migrate) at once. A torn last line (an append a kill cut short)
 * is dropped; a complete line that is not a change is damage, set aside.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { isServiceEvent, type ServiceEvent } from '../../domain/event.js';
import { isSessionId, type Session, type SessionPatch } from '../../domain/session.js';
import { parseStoredPatch, parseStoredSession } from '../../domain/stored-session.js';
import { yieldToEventLoop } from './boot-progress.js';
import {
  checkDirectorySync,
  isFileProblem,
  readRegularFileSync,
  UnsafeFileError,
} from './safe-open.js';

export type JournalRecord =
  // `seq` is undefined for a session the original wrote (it kept no order);
  // JSON leaves the key out then, as the original's files do.
  | { op: 'put'; session: Session; seq: number | undefined; event?: ServiceEvent; revert?: true }
  // Never a revert: a failed change is undone by a put of the session as it was.
  | { op: 'patch'; id: string; patch: SessionPatch; event?: ServiceEvent; revert?: never }
  | { op: 'delete'; id: string; event?: ServiceEvent; revert?: true };

const SEGMENT_PATTERN = /^(\d{10})\.jsonl$/;

/**
 * The most a segment may hold to be read: it is read whole, as one string,
 * and V8's longest string is about 512 MiB (a segment that large would have
 * failed to read anyway; SNAPSHOT_JOURNAL_KB keeps them far smaller).
 */
export const MAX_SEGMENT_BYTES = 512 * 1024 * 1024;

export function recordSessionId(record: JournalRecord): string {
  return record.op === 'put' ? record.session.id : record.id;
}

export interface JournalSegmentRead {
  file: string;
  number: number;
  /** The segment's size in bytes, without the zeros it ends in (written ahead of its records). */
  bytes: number;
  /** Where in events.jsonl the events of this segment's changes can start. */
  eventsOffset: number;
  records: JournalRecord[];
  /**
   * Bytes from the first complete line that is not a change: corruption, set
   * aside for a person. Zero when the segment only ends in a torn line.
   */
  damagedBytes: number;
  /**
   * Bytes of a last line without its newline: an append a kill cut short (a
   * large write can stop at a page boundary). It was never acknowledged, so
   * it is simply dropped.
   */
  tornBytes: number;
}

function parseRecord(line: string): JournalRecord | null {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const record = value as Record<string, unknown>;
  const event = record.event;
  if (event !== undefined && !isServiceEvent(event)) return null;
  const revert = record.revert === true ? ({ revert: true } as const) : {};
  const withEvent = event === undefined ? {} : { event: event as ServiceEvent };
  if (record.op === 'delete') {
    if (typeof record.id !== 'string' || !isSessionId(record.id)) return null;
    return { op: 'delete', id: record.id, ...withEvent, ...revert };
  }
  if (record.op === 'patch') {
    if (typeof record.id !== 'string' || !isSessionId(record.id)) return null;
    const patch = parseStoredPatch(record.patch);
    if (typeof patch === 'string' || record.revert === true) return null;
    return { op: 'patch', id: record.id, patch, ...withEvent };
  }
  if (record.op === 'put') {
    const session = parseStoredSession(record.session);
    if (typeof session === 'string') return null;
    const seq = Number.isSafeInteger(record.seq) ? (record.seq as number) : undefined;
    return { op: 'put', session, seq, ...withEvent, ...revert };
  }
  return null;
}

/** Records parsed between turns of the event loop when a boot reads the journal. */
const RECORDS_PER_TURN = 2000;

function parseSegment(file: string, number: number, content: string): JournalSegmentRead {
  const steps = parseSegmentSteps(file, number, content);
  for (;;) {
    const step = steps.next();
    if (step.done === true) return step.value;
  }
}

/**
 * parseSegment, pausing (yielding) every RECORDS_PER_TURN records, so an
 * async reader can let the event loop turn in between.
 */
function* parseSegmentSteps(
  file: string,
  number: number,
  content: string,
): Generator<number, JournalSegmentRead> {
  // What follows the last non-zero byte was written ahead of the records: the
  // end, not a torn line (a record cut short before it is still one).
  let end = content.length;
  while (end > 0 && content.charCodeAt(end - 1) === 0) end--;
  const text = content.slice(0, end);
  const read: JournalSegmentRead = {
    file,
    number,
    bytes: Buffer.byteLength(text),
    eventsOffset: 0,
    records: [],
    damagedBytes: 0,
    tornBytes: 0,
  };
  let from = 0;
  let lineNumber = 0;
  while (from < text.length) {
    const newline = text.indexOf('\n', from);
    const line = newline === -1 ? null : text.slice(from, newline);
    let valid = line !== null;
    if (line !== null && lineNumber === 0) {
      try {
        const header = JSON.parse(line) as { journal?: unknown; events_offset?: unknown };
        valid = header.journal === 1 && Number.isSafeInteger(header.events_offset);
        if (valid) read.eventsOffset = header.events_offset as number;
      } catch {
        valid = false;
      }
    } else if (line !== null) {
      const record = parseRecord(line);
      if (record === null) valid = false;
      else read.records.push(record);
    }
    if (!valid) {
      const rest = Buffer.byteLength(text.slice(from));
      if (line === null) read.tornBytes = rest;
      else read.damagedBytes = rest;
      break;
    }
    lineNumber++;
    from = (newline as number) + 1;
    if (lineNumber > 1 && read.records.length % RECORDS_PER_TURN === 0) yield RECORDS_PER_TURN;
  }
  yield read.records.length % RECORDS_PER_TURN;
  return read;
}

/** The segment files in `dir` ([name, number]), oldest first. */
function segmentFiles(dir: string): [string, number][] {
  // readdir follows a symlinked journal/: refused instead (see data-dir-safety.ts).
  const folder = checkDirectorySync(dir);
  if (folder === 'missing') return [];
  if (folder !== 'ok') throw new UnsafeFileError(dir, folder);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const files: [string, number][] = [];
  for (const name of names) {
    const match = SEGMENT_PATTERN.exec(name);
    if (match !== null) files.push([name, Number(match[1])]);
  }
  return files.sort((a, b) => a[1] - b[1]);
}

/**
 * A segment's text, or null when it was retired meanwhile. A segment holds
 * acknowledged changes: one that is not a regular file (a symlink, a FIFO)
 * or cannot be read is refused, never skipped.
 */
function readSegmentText(path: string): string | null {
  const bytes = readRegularFileSync(path, MAX_SEGMENT_BYTES);
  if (bytes === null) return null;
  if (isFileProblem(bytes)) throw new UnsafeFileError(path, bytes);
  return bytes.toString('utf8');
}

/** Reads every segment in `dir`, oldest first (synchronously: offline only). */
export function readJournal(dir: string): JournalSegmentRead[] {
  const segments: JournalSegmentRead[] = [];
  for (const [name, number] of segmentFiles(dir)) {
    const text = readSegmentText(join(dir, name));
    if (text !== null) segments.push(parseSegment(name, number, text));
  }
  return segments;
}

/**
 * readJournal for a boot: the same segments, parsed with a turn of the event
 * loop every RECORDS_PER_TURN records (a full journal is tens of megabytes
 * of JSON), each counted into `progress.journalRecords`.
 */
export async function readJournalStepwise(
  dir: string,
  progress: { journalRecords: number },
): Promise<JournalSegmentRead[]> {
  const segments: JournalSegmentRead[] = [];
  for (const [name, number] of segmentFiles(dir)) {
    const text = readSegmentText(join(dir, name));
    if (text === null) continue;
    const steps = parseSegmentSteps(name, number, text);
    for (;;) {
      const step = steps.next();
      if (step.done === true) {
        segments.push(step.value);
        break;
      }
      progress.journalRecords += step.value;
      await yieldToEventLoop();
    }
  }
  return segments;
}

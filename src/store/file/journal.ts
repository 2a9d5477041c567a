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
 * cancels its event.
 */

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { isServiceEvent, type ServiceEvent, serializeEvent } from '../../domain/event.js';
import {
  applySessionPatch,
  isSessionId,
  parseStoredPatch,
  parseStoredSession,
  type Session,
  type SessionPatch,
} from '../../domain/session.js';
import { cleanUpAfter } from '../cleanup.js';
import { AppendFile } from './append-file.js';
import { yieldToEventLoop } from './boot-progress.js';
import type { DurableFiles } from './durable-file.js';
import type { WritableFileSystem } from './file-system.js';
import { sessionFileName } from './layout.js';
import {
  checkDirectorySync,
  isFileProblem,
  openNoFollow,
  readRegularFileSync,
  UnsafeFileError,
} from './safe-open.js';
import {
  type CreationKey,
  compareCreationOrder,
  compareStoredSessions,
  creationKeyOf,
  readSessionFile,
  type StoredSession,
  sessionFileEntries,
  type UnreadableSession,
} from './session-files.js';
import type { ResidentSession } from './snapshot.js';

export type JournalRecord =
  // `seq` is undefined for a session the original wrote (it kept no order);
  // JSON leaves the key out then, as the original's files do.
  | { op: 'put'; session: Session; seq: number | undefined; event?: ServiceEvent; revert?: true }
  // Never a revert: a failed change is undone by a put of the session as it was.
  | { op: 'patch'; id: string; patch: SessionPatch; event?: ServiceEvent; revert?: never }
  | { op: 'delete'; id: string; event?: ServiceEvent; revert?: true };

const SEGMENT_PATTERN = /^(\d{10})\.jsonl$/;

/**
 * Segments are written into zeros written ahead of them, this much at a time,
 * so a commit's fdatasync leaves the file's size alone (see AppendFile.create).
 */
const SEGMENT_PREALLOCATE_BYTES = 1024 * 1024;

/**
 * The most a segment may hold to be read: it is read whole, as one string,
 * and V8's longest string is about 512 MiB (a segment that large would have
 * failed to read anyway; SNAPSHOT_JOURNAL_KB keeps them far smaller).
 */
export const MAX_SEGMENT_BYTES = 512 * 1024 * 1024;

export function segmentFileName(number: number): string {
  return `${String(number).padStart(10, '0')}.jsonl`;
}

export function recordSessionId(record: JournalRecord): string {
  return record.op === 'put' ? record.session.id : record.id;
}

// Reading (boot, repair and the inspector)

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

export interface Replay {
  /**
   * What the journal leaves of each session it touches: the session after
   * its last change, or null when its last change deletes it. Memory is the
   * journal's, whatever the directory holds.
   */
  outcome: Map<string, StoredSession | null>;
  /**
   * Sessions the journal patches with nothing to patch: no put before the
   * patch and no base held them (another program removed the file or the
   * snapshot the patch applies to). Not in `outcome`.
   */
  unresolved: string[];
  /** Events of the changes that were not reverted, in journal order. */
  events: ServiceEvent[];
  records: number;
}

/**
 * The sessions whose first change in `segments` is a patch: those a replay
 * needs as they were before the segments (from the snapshot, or from their
 * files when rolling forward).
 */
export function sessionsPatchedFirst(segments: readonly JournalSegmentRead[]): Set<string> {
  const seen = new Set<string>();
  const patchedFirst = new Set<string>();
  for (const segment of segments) {
    for (const record of segment.records) {
      const id = recordSessionId(record);
      if (seen.has(id)) continue;
      seen.add(id);
      if (record.op === 'patch') patchedFirst.add(id);
    }
  }
  return patchedFirst;
}

/** The files of `ids` that hold a session: the bases a roll-forward patches. */
export function basesFromFiles(
  sessionsDir: string,
  ids: Iterable<string>,
): Map<string, StoredSession> {
  const bases = new Map<string, StoredSession>();
  for (const id of ids) {
    const entry = readSessionFile(sessionsDir, sessionFileName(id));
    if (entry?.kind === 'session') bases.set(id, entry.stored);
  }
  return bases;
}

/** The sessions of a snapshot among `ids`, parsed: the bases a start patches. */
export function basesFromSnapshot(
  residents: Iterable<ResidentSession>,
  ids: ReadonlySet<string>,
): Map<string, StoredSession> {
  const bases = new Map<string, StoredSession>();
  if (ids.size === 0) return bases;
  for (const resident of residents) {
    if (ids.has(resident.id)) {
      bases.set(resident.id, { session: JSON.parse(resident.json) as Session, seq: resident.seq });
    }
  }
  return bases;
}

/** "N sessions (a, b, c, …)": ids named in a report, the first three of them. */
export function describeIds(ids: readonly string[]): string {
  const shown = ids.slice(0, 3).join(', ');
  return `${ids.length} ${ids.length === 1 ? 'session' : 'sessions'} (${shown}${ids.length > 3 ? ', …' : ''})`;
}

/** Patches of a session whose base the segments do not hold, in order. */
interface Unbased {
  patches: SessionPatch[];
}

/** A session the replay has patched: its own copy, patched in place. */
interface Patched {
  stored: StoredSession;
}

/**
 * Reads the segments' changes in order: what they leave of each session, and
 * their events. A patch applies to the session as the replay left it, or, at
 * a session's first change, to its base in `bases` (see
 * sessionsPatchedFirst; without one the session is `unresolved`). A session
 * patched is copied once, then patched in place: a replay costs the changes'
 * size, whatever the sessions weigh.
 */
export function replayJournal(
  segments: readonly JournalSegmentRead[],
  bases: ReadonlyMap<string, StoredSession> = new Map(),
): Replay {
  const state = new Map<string, StoredSession | Patched | Unbased | null>();
  const expected: { event: ServiceEvent; cancelled: boolean }[] = [];
  const lastById = new Map<string, { event: ServiceEvent; cancelled: boolean }>();
  let records = 0;
  for (const segment of segments) {
    for (const record of segment.records) {
      records++;
      const id = recordSessionId(record);
      if (record.op === 'patch') {
        const current = state.get(id);
        if (current === undefined) state.set(id, { patches: [record.patch] });
        else if (current === null) {
          // Never written (a patch needs the session); a later put or delete settles it.
        } else if ('patches' in current) current.patches.push(record.patch);
        else if ('stored' in current) applySessionPatch(current.stored.session, record.patch);
        else state.set(id, { stored: patchedCopy(current, [record.patch]) });
      } else {
        state.set(id, record.op === 'put' ? { session: record.session, seq: record.seq } : null);
      }
      if (record.revert === true) {
        const reverted = lastById.get(id);
        if (reverted !== undefined) reverted.cancelled = true;
      } else if (record.event !== undefined) {
        const entry = { event: record.event, cancelled: false };
        expected.push(entry);
        lastById.set(id, entry);
      }
    }
  }
  const outcome = new Map<string, StoredSession | null>();
  const unresolved: string[] = [];
  for (const [id, current] of state) {
    if (current === null) outcome.set(id, null);
    else if ('stored' in current) outcome.set(id, current.stored);
    else if (!('patches' in current)) outcome.set(id, current);
    else {
      const base = bases.get(id);
      if (base === undefined) unresolved.push(id);
      else outcome.set(id, patchedCopy(base, current.patches));
    }
  }
  return {
    outcome,
    unresolved,
    events: expected.filter((entry) => !entry.cancelled).map((entry) => entry.event),
    records,
  };
}

/** A copy of `stored` (its own to patch in place) with `patches` applied. */
function patchedCopy(stored: StoredSession, patches: readonly SessionPatch[]): StoredSession {
  const session = structuredClone(stored.session);
  for (const patch of patches) applySessionPatch(session, patch);
  return { session, seq: stored.seq };
}

/**
 * The `expected` events that are not among the lines of `eventsFile` between
 * `from` and `end` (each line matches one expected event at most).
 */
export async function findMissingEvents(
  eventsFile: string,
  from: number,
  end: number,
  expected: readonly ServiceEvent[],
): Promise<ServiceEvent[]> {
  if (expected.length === 0) return [];
  const present = new Map<string, number>();
  const start = Math.min(Math.max(0, from), end);
  if (end > start) {
    const handle = await openNoFollow(eventsFile, 'r');
    try {
      const buffer = Buffer.alloc(end - start);
      await handle.read(buffer, 0, buffer.length, start);
      for (const line of buffer.toString('utf8').split('\n')) {
        if (line !== '') present.set(line, (present.get(line) ?? 0) + 1);
      }
    } finally {
      await handle.close();
    }
  }
  const missing: ServiceEvent[] = [];
  for (const event of expected) {
    // A version that wrote a whole `ts` without `.0` wrote the line as JSON.stringify does.
    const written = serializeEvent(event);
    const line = present.has(written) ? written : JSON.stringify(event);
    const count = present.get(line) ?? 0;
    if (count > 0) present.set(line, count - 1);
    else missing.push(event);
  }
  return missing;
}

// Writing (the live service)

/** One segment file being appended to. */
export class JournalSegment {
  private inflight = 0;
  private idle: (() => void)[] = [];
  records = 0;

  constructor(
    readonly path: string,
    private readonly file: AppendFile,
  ) {}

  /** Marks a change as started on this segment; pair with `end`. */
  begin(): void {
    this.inflight++;
    this.records++;
  }

  append(record: JournalRecord): Promise<void> {
    return this.file.append(JSON.stringify(record), undefined);
  }

  end(): void {
    this.inflight--;
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
      bytes: () => segment.bytes,
      drained: () => Promise.resolve(),
      close: () => Promise.resolve(),
    }));
    return new Journal(fs, files, dir, first, number, left);
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
        bytes: () => retiring.size(),
        drained: () => retiring.drained(),
        close: () => retiring.close(),
      });
      this.currentNumber = number;
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

/** The sessions from files with what the journal left of them in their place, in creation order. */
export function applyOutcome(
  fromFiles: readonly StoredSession[],
  outcome: ReadonlyMap<string, StoredSession | null>,
): StoredSession[] {
  const sessions = fromFiles.filter((stored) => !outcome.has(stored.session.id));
  for (const last of outcome.values()) if (last !== null) sessions.push(last);
  return sessions.sort(compareStoredSessions);
}

export interface SessionsAsServed {
  /** How many sessions the service would serve (the files with the journal applied). */
  count: number;
  /** Session files that cannot be read, and temp files of unfinished writes. */
  unreadable: UnreadableSession[];
  tempFiles: string[];
  segments: JournalSegmentRead[];
  /** Journal lines that a start would replay. */
  pendingChanges: number;
  /**
   * The sessions, in creation order, one at a time: only their creation
   * keys are held, each file is read again when its turn comes (a file
   * deleted since is left out; one changed since shows as it is now). With
   * `limit`, only the first and the last `limit` of them are read.
   */
  sessions(limit?: number | null): Generator<Session>;
}

/**
 * The sessions as the service would serve them, read offline in memory that
 * grows with their number by a creation key each, not by their data.
 * `filesCurrent`: the last instance stopped cleanly and sealed the
 * directory, so the files hold every change the journal does, and whatever
 * differs is another program's change a start adopts: the journal is not
 * applied over them.
 */
export function sessionsAsServed(
  sessionsDir: string,
  journalDir: string,
  filesCurrent = false,
): SessionsAsServed {
  const segments = readJournal(journalDir);
  // The files are the base of the sessions the journal patches first.
  const patchedFirst = filesCurrent ? new Set<string>() : sessionsPatchedFirst(segments);
  const bases = new Map<string, StoredSession>();
  const fromFiles: CreationKey[] = [];
  const unreadable: UnreadableSession[] = [];
  const tempFiles: string[] = [];
  for (const entry of sessionFileEntries(sessionsDir)) {
    if (entry.kind === 'temp') tempFiles.push(entry.file);
    else if (entry.kind === 'unreadable') unreadable.push(entry);
    else {
      fromFiles.push(creationKeyOf(entry.stored));
      if (patchedFirst.has(entry.stored.session.id))
        bases.set(entry.stored.session.id, entry.stored);
    }
  }
  const replay = replayJournal(segments, bases);
  const { records } = replay;
  const outcome: ReadonlyMap<string, StoredSession | null> = filesCurrent
    ? new Map()
    : replay.outcome;
  const keys = fromFiles.filter((key) => !outcome.has(key.id));
  for (const last of outcome.values()) if (last !== null) keys.push(creationKeyOf(last));
  keys.sort(compareCreationOrder);
  return {
    count: keys.length,
    unreadable,
    tempFiles,
    segments,
    pendingChanges: records,
    *sessions(limit = null) {
      const shown =
        limit === null || keys.length <= 2 * limit
          ? keys
          : [...keys.slice(0, limit), ...keys.slice(keys.length - limit)];
      for (const key of shown) {
        const fromJournal = outcome.get(key.id);
        if (fromJournal) {
          yield fromJournal.session;
          continue;
        }
        const entry = readSessionFile(sessionsDir, sessionFileName(key.id));
        if (entry?.kind === 'session') yield entry.stored.session;
      }
    },
  };
}

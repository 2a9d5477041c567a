/**
 * What a crash can leave in a data directory, and the safe repairs: our own
 * temp files of unfinished writes are removed (their targets still hold the
 * old content; another program's, such as the original's `<id>.tmp`, are
 * moved to quarantine/), unreadable session files and damaged event-log
 * lines are moved into quarantine/ (never deleted), a torn last line (an interrupted append,
 * never acknowledged) is dropped, and the journal's committed changes are rolled
 * forward into sessions/ and events.jsonl. Run by the service at boot when
 * no snapshot can be trusted (recoverDataDirectory; with one, a boot takes
 * recoverFromSnapshot's way, snapshot-boot.ts, and reads no session file) and by `stateful
 * inspect --repair`, always under the directory's lock. Session files are
 * read one at a time and kept only when the caller wants them (the file
 * store does; a repair does not, so it works in bounded memory).
 */
import { readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { MAX_EVENT_LIMIT, serializeEvent } from '../../domain/event.js';
import { AppendFile } from './append-file.js';
import { yieldToEventLoop } from './boot-progress.js';
import { forEachConcurrently } from './concurrently.js';
import { DurableFiles } from './durable-file.js';
import { type EventLogScan, LINE_INDEX_STEP, scanEventLog } from './event-log-reader.js';
import { nodeFileSystem, type WritableFileSystem } from './file-system.js';
import { type JournalSegmentRead, readJournal } from './journal-records.js';
import {
  applyOutcome,
  basesFromFiles,
  findMissingEvents,
  type Replay,
  replayJournal,
  sessionsPatchedFirst,
} from './journal-replay.js';
import { type DataLayout, sessionFileName, TEMP_SUFFIX } from './layout.js';
import { firstKept } from './log-positions.js';
import {
  formatSessionFile,
  quarantineFile,
  removeTempFile,
  type StoredSession,
  sessionFileEntries,
} from './session-files.js';

/** Session files the roll-forward writes at the same time. */
const ROLL_FORWARD_CONCURRENCY = 8;
/** How often the reading of sessions/ reports its progress and lets the event loop turn. */
const PROGRESS_EVERY = 1000;

export interface JournalRollForward {
  /** Journal lines applied. */
  changes: number;
  /** Session files written or removed to match them. */
  sessionFiles: number;
  /** Events the journal held that a kill kept out of events.jsonl, now appended. */
  eventsRestored: number;
  /**
   * Segments with a damaged (complete but unreadable) line, or with a patch of
   * an `unresolved` session, moved to quarantine after the roll-forward.
   */
  quarantined: string[];
  /**
   * Sessions the journal patches with nothing to patch (another program
   * removed their file, or the snapshot the patch applied to): not served;
   * their changes stay in the segments set aside.
   */
  unresolved: string[];
}

export interface RecoveryReport {
  tempFilesRemoved: string[];
  /**
   * savedAs: where damaged lines went; null when only a torn last line was
   * dropped. eventsKept: whole events of another program found after the
   * damage, appended again after the cut.
   */
  eventLogRepair: { bytesRemoved: number; savedAs: string | null; eventsKept?: number } | null;
  quarantined: { file: string; problem: string; savedAs: string }[];
  journal: JournalRollForward | null;
}

export interface RecoveredDirectory {
  recovery: RecoveryReport;
  /** The readable sessions, in creation order (none unless asked for). */
  sessions: StoredSession[];
  /** The event log after the repair (its last MAX_EVENT_LIMIT events). */
  eventLog: EventLogScan;
}

export interface RecoveryOptions {
  /** Keep the sessions read (the file store does; a repair does not). */
  keepSessions: boolean;
  /** Told how many session files have been read, every PROGRESS_EVERY files. */
  progress?: (filesRead: number) => void;
  /**
   * The last instance stopped cleanly and sealed the directory, so the files
   * were current then and the journal holds nothing they lack: its segments
   * are dropped, not rolled forward over what another program changed since.
   */
  filesCurrent?: boolean;
  /** Sessions whose files another program changed and a start adopts: not rolled over. */
  leave?: ReadonlySet<string>;
}

/**
 * Removes the temp files of unfinished writes in `dir`; returns their names
 * (what is no regular file at a temp name is quarantined instead).
 */
export async function removeTempFiles(
  fs: WritableFileSystem,
  layout: DataLayout,
  dir: string,
  recovery: RecoveryReport,
): Promise<void> {
  for (const name of await readdir(dir)) {
    if (name.endsWith(TEMP_SUFFIX)) await settleTempFile(fs, layout, dir, name, recovery);
  }
}

/**
 * Removes a temp file of ours that an unfinished write left, or moves one
 * that is not ours (the original's `<id>.tmp`, a link) to quarantine/.
 */
async function settleTempFile(
  fs: WritableFileSystem,
  layout: DataLayout,
  dir: string,
  name: string,
  recovery: RecoveryReport,
): Promise<void> {
  const prefix = relative(layout.root, dir);
  const file = prefix === '' ? name : `${prefix}/${name}`;
  const label = prefix === '' ? name : `${prefix}-${name}`;
  const savedAs = await removeTempFile(fs, join(dir, name), layout.quarantineDir, label);
  if (savedAs === null) recovery.tempFilesRemoved.push(file);
  else {
    recovery.quarantined.push({
      file,
      problem: "a temp file this service did not write (another program's unfinished write)",
      savedAs: relative(layout.root, savedAs),
    });
  }
}

/** A file moved to quarantine/: where it was, why, and where it went (relative to the directory). */
export interface MovedFile {
  file: string;
  problem: string;
  savedAs: string;
}

/** Moves sessions/`bad.file` to quarantine/, and says so in `moved`. */
export async function quarantineSessionFile(
  fs: WritableFileSystem,
  layout: DataLayout,
  bad: { file: string; problem: string },
  moved: MovedFile[],
): Promise<void> {
  const savedAs = await quarantineFile(
    fs,
    join(layout.sessionsDir, bad.file),
    layout.quarantineDir,
    `session-${bad.file}`,
  );
  moved.push({
    file: `sessions/${bad.file}`,
    problem: bad.problem,
    savedAs: relative(layout.root, savedAs),
  });
}

/**
 * Reads every session file and rolls the journal forward into them: how a
 * directory is taken over when no snapshot can be trusted (the original's
 * directory, a first boot, a directory changed by another program).
 */
export async function recoverDataDirectory(
  layout: DataLayout,
  options: RecoveryOptions = { keepSessions: true },
  fs: WritableFileSystem = nodeFileSystem,
): Promise<RecoveredDirectory> {
  const recovery: RecoveryReport = {
    tempFilesRemoved: [],
    eventLogRepair: null,
    quarantined: [],
    journal: null,
  };
  await fs.mkdir(layout.sessionsDir, { recursive: true });
  await removeTempFiles(fs, layout, layout.root, recovery);
  const sessions: StoredSession[] = [];
  // Collected first: the directory is changed only once it has been read through.
  const tempFiles: string[] = [];
  const unreadable: { file: string; problem: string }[] = [];
  let read = 0;
  for (const entry of sessionFileEntries(layout.sessionsDir)) {
    if (entry.kind === 'temp') tempFiles.push(entry.file);
    else if (entry.kind === 'unreadable') unreadable.push(entry);
    else if (options.keepSessions) sessions.push(entry.stored);
    if (++read % PROGRESS_EVERY === 0) {
      options.progress?.(read);
      await yieldToEventLoop();
    }
  }
  for (const name of tempFiles)
    await settleTempFile(fs, layout, layout.sessionsDir, name, recovery);
  for (const bad of unreadable) await quarantineSessionFile(fs, layout, bad, recovery.quarantined);

  let eventLog = await scanEventLog(layout.eventsFile, MAX_EVENT_LIMIT);
  if (eventLog.validEnd < eventLog.size) {
    recovery.eventLogRepair = await cutDamagedTail(fs, layout, eventLog.validEnd, eventLog.size);
    eventLog = { ...eventLog, size: eventLog.validEnd };
  }
  const rolled = await rollJournalForward(fs, layout, eventLog, {
    filesCurrent: options.filesCurrent === true,
    leave: options.leave ?? new Set(),
  });
  recovery.journal = rolled.report;
  return {
    recovery,
    sessions: options.keepSessions ? applyOutcome(sessions, rolled.outcome) : [],
    eventLog: rolled.eventLog,
  };
}

/**
 * Applies what the journal committed: session files are written (or removed)
 * durably, missing events appended, and then the segments deleted (a segment
 * with a damaged line goes to quarantine instead; a torn last line is only
 * dropped: it was never acknowledged). Safe to repeat: a
 * kill halfway leaves the segments, and applying them again gives the same.
 */
async function rollJournalForward(
  fs: WritableFileSystem,
  layout: DataLayout,
  eventLog: EventLogScan,
  { filesCurrent, leave }: { filesCurrent: boolean; leave: ReadonlySet<string> },
): Promise<{
  /** What the journal left of each session it touched (empty without a journal). */
  outcome: ReadonlyMap<string, StoredSession | null>;
  eventLog: EventLogScan;
  report: JournalRollForward | null;
}> {
  const segments = readJournal(layout.journalDir);
  if (segments.length === 0) return { outcome: new Map(), eventLog, report: null };
  const damaged = segments.some((segment) => segment.damagedBytes > 0);
  if (!damaged && (filesCurrent || segments.every((segment) => segment.records.length === 0))) {
    // Segments that hold no change (a kill before any write), or none the
    // files lack (a sealed clean stop): nothing to roll forward or report.
    for (const segment of segments)
      await fs.rm(join(layout.journalDir, segment.file), { force: true });
    return { outcome: new Map(), eventLog, report: null };
  }

  // Only the sessions the journal touched are written, from the journal and,
  // for those it patches first, their files.
  const bases = basesFromFiles(layout.sessionsDir, sessionsPatchedFirst(segments));
  const replay = replayJournal(segments, bases);
  const { scan, restored } = await restoreMissingEvents(fs, layout, eventLog, segments, replay);
  // What a start adopts (`leave`, for inspect --repair) is not rolled over.
  // Without a snapshot, the log cannot tell another program's lines from the
  // events of segments a snapshot covered (and deleted) before it was lost,
  // so after a kill the journal wins over every file it touches.
  for (const id of leave) replay.outcome.delete(id);

  const files = new DurableFiles(fs);
  await forEachConcurrently(replay.outcome, ROLL_FORWARD_CONCURRENCY, async ([id, last]) => {
    const path = join(layout.sessionsDir, sessionFileName(id));
    if (last === null) await files.removeIfPresent(path);
    else await files.write(path, formatSessionFile(last));
  });

  const quarantined: string[] = [];
  const unresolved = new Set(replay.unresolved);
  for (const segment of segments) {
    const path = join(layout.journalDir, segment.file);
    const patchesUnresolved = segment.records.some(
      (record) => record.op === 'patch' && unresolved.has(record.id),
    );
    if (segment.damagedBytes > 0 || patchesUnresolved) {
      const savedAs = await quarantineFile(
        fs,
        path,
        layout.quarantineDir,
        `journal-${segment.file}`,
      );
      quarantined.push(relative(layout.root, savedAs));
    } else {
      await fs.rm(path, { force: true });
    }
  }
  await files.syncDirectory(layout.journalDir);

  return {
    outcome: replay.outcome,
    eventLog: scan,
    report: {
      changes: replay.records,
      sessionFiles: replay.outcome.size,
      eventsRestored: restored,
      quarantined,
      unresolved: replay.unresolved,
    },
  };
}

/**
 * Appends the events of committed changes that a kill kept out of
 * events.jsonl (`events_offset` says where a segment's events can start).
 */
export async function restoreMissingEvents(
  fs: WritableFileSystem,
  layout: DataLayout,
  eventLog: EventLogScan,
  segments: readonly JournalSegmentRead[],
  replay: Replay,
): Promise<{ scan: EventLogScan; restored: number }> {
  if (segments.length === 0) return { scan: eventLog, restored: 0 };
  // Segments' offsets are in the whole history (log-positions.ts); none
  // starts before what a compaction kept, which never drops past them.
  const { head } = eventLog;
  const from = Math.min(...segments.map((segment) => segment.eventsOffset));
  const missing = await findMissingEvents(
    layout.eventsFile,
    Math.max(from, firstKept(head)) - head.base,
    eventLog.validEnd,
    replay.events,
  );
  if (missing.length === 0) return { scan: eventLog, restored: 0 };
  const log = await AppendFile.open(fs, layout.eventsFile, eventLog.validEnd);
  try {
    await Promise.all(missing.map((event) => log.append(serializeEvent(event), undefined)));
    // The line index goes on from the scan's (every LINE_INDEX_STEP-th line).
    const lineStarts = [...eventLog.lineStarts];
    let offset = eventLog.validEnd;
    let count = eventLog.count;
    for (const event of missing) {
      if ((eventLog.lineStartsFrom + lineStarts.length) * LINE_INDEX_STEP === count) {
        lineStarts.push(head.base + offset);
      }
      offset += Buffer.byteLength(`${serializeEvent(event)}\n`);
      count++;
    }
    return {
      scan: {
        ...eventLog,
        count,
        createdEvents:
          eventLog.createdEvents + missing.filter((e) => e.event === 'session_created').length,
        expiredEvents:
          eventLog.expiredEvents + missing.filter((e) => e.event === 'session_expired').length,
        tail: [...eventLog.tail, ...missing].slice(-MAX_EVENT_LIMIT),
        lineStarts,
        validEnd: log.size(),
        size: log.size(),
      },
      restored: missing.length,
    };
  } finally {
    await log.close();
  }
}

/**
 * Cuts the event log's tail after its last valid line. One rule for the log
 * and the journal: a torn last line (no newline: an append a kill
 * interrupted, never acknowledged, and restored from the journal if its
 * change was) is only dropped; complete lines that are not events are damage,
 * kept in quarantine for a person.
 */
export async function cutDamagedTail(
  fs: WritableFileSystem,
  layout: DataLayout,
  validEnd: number,
  size: number,
): Promise<{ bytesRemoved: number; savedAs: string | null }> {
  const { cut, savedAs } = await cutTail(fs, layout, layout.eventsFile, validEnd, size, {
    label: 'events-tail',
    quarantine: (bytes) => bytes.includes(0x0a),
  });
  return { bytesRemoved: cut, savedAs };
}

/**
 * Cuts `path` back to `keep` bytes, durably, first saving the `size - keep`
 * bytes cut to quarantine/ when `quarantine` says they are worth a look.
 */
async function cutTail(
  fs: WritableFileSystem,
  layout: DataLayout,
  path: string,
  keep: number,
  size: number,
  options: { label: string; quarantine: (cut: Buffer) => boolean },
): Promise<{ cut: number; savedAs: string | null }> {
  const handle = await fs.open(path, 'r+');
  try {
    const cut = Buffer.alloc(size - keep);
    await handle.read(cut, 0, cut.length, keep);
    let savedAs: string | null = null;
    if (options.quarantine(cut)) {
      await fs.mkdir(layout.quarantineDir, { recursive: true });
      const saved = join(
        layout.quarantineDir,
        `${new Date().toISOString().replace(/[:.]/g, '-')}-${options.label}.bin`,
      );
      await new DurableFiles(fs).write(saved, cut);
      savedAs = relative(layout.root, saved);
    }
    await handle.truncate(keep);
    await handle.sync();
    return { cut: cut.length, savedAs };
  } finally {
    await handle.close();
  }
}

/**
 * A journal segment that ends in bytes that are not records: what a power
 * cut leaves of appends that never reached an fsync (zeros where the size
 * grew before the data came, or pages of them in any order). Every record
 * acknowledged was synced before its answer, so it lies before the first bad
 * byte: the segment is cut there (the bytes cut off go to quarantine/ for a
 * person to look at) and its records up to there stand.
 */
export async function cutJournalTail(
  fs: WritableFileSystem,
  layout: DataLayout,
  segment: JournalSegmentRead,
): Promise<{ file: string; problem: string; savedAs: string }> {
  const keep = segment.bytes - segment.damagedBytes;
  const { cut, savedAs } = await cutTail(
    fs,
    layout,
    join(layout.journalDir, segment.file),
    keep,
    segment.bytes,
    { label: `journal-${segment.file}-tail`, quarantine: () => true },
  );
  segment.bytes = keep;
  segment.damagedBytes = 0;
  return {
    file: `journal/${segment.file}`,
    problem: `${cut} bytes after its last record are not records (writes a power cut or a crash cut short); cut off`,
    savedAs: savedAs as string,
  };
}

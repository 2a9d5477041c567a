/**
 * A boot from snapshot.jsonl and the journal segments after it, reading no
 * session file (recovery.ts has the takeover that reads them all;
 * view-repair.ts makes the session files show what such a boot serves).
 */
import { join } from 'node:path';
import { MAX_EVENT_LIMIT } from '../../domain/event.js';
import { AppendFile } from './append-file.js';
import { BootProgress } from './boot-progress.js';
import { type EventLogScan, scanEventLog } from './event-log-reader.js';
import { nodeFileSystem, type WritableFileSystem } from './file-system.js';
import { type JournalSegmentRead, readJournalStepwise } from './journal-records.js';
import {
  basesFromSnapshot,
  describeIds,
  replayJournal,
  sessionsPatchedFirst,
} from './journal-replay.js';
import type { DataLayout } from './layout.js';
import {
  type ForeignLogEntry,
  type LogPoint,
  logPointAt,
  readLogAfterMark,
} from './log-after-mark.js';
import { firstKept } from './log-positions.js';
import {
  cutDamagedTail,
  cutJournalTail,
  type RecoveryReport,
  removeTempFiles,
  restoreMissingEvents,
} from './recovery.js';
import type { StoredSession } from './session-files.js';
import { type ResidentSession, readSnapshot, type SnapshotHeader } from './snapshot.js';

export interface SnapshotBoot {
  recovery: RecoveryReport;
  /** The snapshot's sessions, in creation order; `outcome` goes on top of them. */
  sessions: ResidentSession[];
  /** What the journal's segments after the snapshot leave of each session they touch. */
  outcome: ReadonlyMap<string, StoredSession | null>;
  eventLog: EventLogScan;
  /** The segments replayed into memory, kept until the next snapshot covers them. */
  retained: JournalSegmentRead[];
  /** The first segment number the snapshot does not cover. */
  journalFrom: number;
  /**
   * Session changes logged after the snapshot's mark by another program (the
   * original implementation logs every change it makes), in log order: the
   * sessions whose files a start reads to adopt them (see foreign-changes.ts).
   */
  foreignLog: ForeignLogEntry[];
  /** Where events.jsonl stood when the snapshot was taken (in its whole history). */
  eventsMark: number;
  /** How far this boot looked at events.jsonl for others' changes (kept in the marker). */
  logExamined: LogPoint;
}

/**
 * Boots from `snapshot.jsonl` and the journal segments after it, reading no
 * session file: what a restart costs is one sequential read, whatever the
 * history. Returns why not instead when the snapshot cannot be trusted: it is
 * missing or unreadable, events.jsonl ends before the point it was taken at,
 * or a segment after it is damaged. Session changes that events.jsonl holds
 * after the snapshot and no journal segment holds (another program's, such as
 * the original implementation's) are returned, for the start to adopt from
 * their files. The directory is changed only once the snapshot is found good.
 */
export async function recoverFromSnapshot(
  layout: DataLayout,
  fs: WritableFileSystem = nodeFileSystem,
  progress: BootProgress = new BootProgress(),
  handledThrough: LogPoint | null = null,
): Promise<SnapshotBoot | { unusable: string }> {
  progress.phase = 'reading snapshot.jsonl';
  const read = await readSnapshot(layout.snapshotFile, progress);
  if (read.kind === 'missing') return { unusable: 'there is no snapshot.jsonl' };
  if (read.kind === 'unusable') return { unusable: `snapshot.jsonl is unusable: ${read.problem}` };
  const { header } = read;
  let eventLog = await scanEventLog(layout.eventsFile, MAX_EVENT_LIMIT, header.events);
  const logProblem = logAfterSnapshotProblem(eventLog, header.events.offset);
  if (logProblem !== null) return { unusable: logProblem };
  progress.phase = 'reading the journal';
  const segments = await readJournalStepwise(layout.journalDir, progress);
  const live = segments.filter((segment) => segment.number >= header.journal_from);
  progress.phase = 'checking events.jsonl after the snapshot';
  const { foreignLog, badAfterMark, keptAfterBad } = await readLogAfterMark(
    layout,
    eventLog.head,
    header.events.offset,
    eventLog.size,
    live,
    handledThrough,
  );

  progress.phase = 'replaying the journal';
  const replay = replayJournal(live, basesFromSnapshot(read.sessions, sessionsPatchedFirst(live)));
  if (replay.unresolved.length > 0) {
    // Only another program's edit of the snapshot leaves a patch with nothing to apply to.
    return {
      unusable: `the journal patches ${describeIds(replay.unresolved)}, which snapshot.jsonl does not hold`,
    };
  }

  const recovery: RecoveryReport = {
    tempFilesRemoved: [],
    eventLogRepair: null,
    quarantined: [],
    journal: null,
  };
  await removeTempFiles(fs, layout, layout.root, recovery);
  const repaired = await repairLogTail(
    fs,
    layout,
    eventLog,
    { badAfterMark, keptAfterBad },
    header,
  );
  recovery.eventLogRepair = repaired.repair;
  eventLog = repaired.eventLog;
  await settleSegments(fs, layout, segments, header.journal_from, recovery);
  const { scan, restored } = await restoreMissingEvents(fs, layout, eventLog, live, replay);
  // Replaying the segments after a snapshot is how every boot goes, after a
  // clean stop or a kill; only events a kill cut off, restored, are a repair.
  if (restored > 0) {
    recovery.journal = {
      changes: replay.records,
      sessionFiles: replay.outcome.size,
      eventsRestored: restored,
      quarantined: [],
      unresolved: [],
    };
  }
  return {
    recovery,
    sessions: read.sessions,
    outcome: replay.outcome,
    eventLog: scan,
    retained: live,
    journalFrom: header.journal_from,
    eventsMark: header.events.offset,
    foreignLog,
    logExamined: await logPointAt(layout.eventsFile, scan.size, scan.head),
  };
}

/** Why events.jsonl does not hold what came after the snapshot's point (`mark`), or null. */
function logAfterSnapshotProblem(eventLog: EventLogScan, mark: number): string | null {
  if (eventLog.head.base + eventLog.validEnd < mark) {
    return 'events.jsonl ends before the point snapshot.jsonl was taken at';
  }
  if (mark < firstKept(eventLog.head)) {
    return 'events.jsonl no longer holds the events after snapshot.jsonl was taken';
  }
  return null;
}

/** Deletes the segments the snapshot covers, and cuts the damaged tail off those after it. */
async function settleSegments(
  fs: WritableFileSystem,
  layout: DataLayout,
  segments: readonly JournalSegmentRead[],
  journalFrom: number,
  recovery: RecoveryReport,
): Promise<void> {
  for (const segment of segments) {
    if (segment.number < journalFrom) {
      await fs.rm(join(layout.journalDir, segment.file), { force: true }); // covered by the snapshot
    } else if (segment.damagedBytes > 0) {
      recovery.quarantined.push(await cutJournalTail(fs, layout, segment));
    }
  }
}

/**
 * Cuts the damaged tail off events.jsonl (to quarantine/), keeping the whole
 * events another program appended after the damage; returns the repair and
 * the log as it now is.
 */
async function repairLogTail(
  fs: WritableFileSystem,
  layout: DataLayout,
  eventLog: EventLogScan,
  after: { badAfterMark: number | null; keptAfterBad: readonly string[] },
  header: SnapshotHeader,
): Promise<{ repair: RecoveryReport['eventLogRepair']; eventLog: EventLogScan }> {
  const { badAfterMark, keptAfterBad } = after;
  if (badAfterMark !== null) {
    const repair: NonNullable<RecoveryReport['eventLogRepair']> = await cutDamagedTail(
      fs,
      layout,
      badAfterMark,
      eventLog.size,
    );
    if (keptAfterBad.length > 0) {
      const log = await AppendFile.open(fs, layout.eventsFile, badAfterMark);
      try {
        await Promise.all(keptAfterBad.map((line) => log.append(line, undefined)));
      } finally {
        await log.close();
      }
      repair.eventsKept = keptAfterBad.length;
    }
    return {
      repair,
      eventLog: await scanEventLog(layout.eventsFile, MAX_EVENT_LIMIT, header.events),
    };
  }
  if (eventLog.validEnd < eventLog.size) {
    const repair = await cutDamagedTail(fs, layout, eventLog.validEnd, eventLog.size);
    return { repair, eventLog: { ...eventLog, size: eventLog.validEnd } };
  }
  return { repair: null, eventLog };
}

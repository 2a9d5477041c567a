/**
 * Opening the data directory: take its lock, recover what a crash can leave
 * behind (stray temp files, a torn event-log tail, unreadable files, journal
 * segments to replay), load the sessions (from the snapshot and the journal
 * after it, snapshot-boot.ts; or, taking a directory over, from every file,
 * recovery.ts) and the recent events, then adopt what another program
 * changed while no instance ran (foreign-adoption.ts), and leave the
 * write-behind what the last stop did not: the files a kill left behind,
 * every file after a power cut, a first snapshot after a takeover. What it
 * found and mended is logged as events and returned.
 */
import type { Dir } from 'node:fs';
import { opendir } from 'node:fs/promises';
import { relative } from 'node:path';
import { EMPTY_STATS, type InstanceMarker, type Stats } from '../../domain/counters.js';
import { cleanUpAfter } from '../cleanup.js';
import { BootProgress, type ProgressReport } from './boot-progress.js';
import { assertUsableDataDirectory } from './data-dir-access.js';
import { assertSafeDataDirectory } from './data-dir-safety.js';
import { DurableFiles } from './durable-file.js';
import { EventLog } from './event-log.js';
import type { EventLogScan } from './event-log-reader.js';
import type { WritableFileSystem } from './file-system.js';
import { adoptForeignChanges } from './foreign-adoption.js';
import { whereToLook } from './foreign-changes.js';
import { acquireInstanceLock, type InstanceLock } from './instance-lock.js';
import {
  currentBootId,
  formatMarker,
  type MarkerRead,
  readMarker,
  trustedSeal,
} from './instance-marker.js';
import { Journal } from './journal.js';
import { type DataLayout, dataLayout, readdirIfPresent } from './layout.js';
import { assembleParts, closeParts, type FileStoreOptions, type FileStoreParts } from './parts.js';
import { type RecoveryReport, recoverDataDirectory } from './recovery.js';
import { quarantineFile } from './session-files.js';
import { residentOf, type TableLoad } from './session-table.js';
import { recoverFromSnapshot, type SnapshotBoot } from './snapshot-boot.js';
import { DEFAULT_SPARE_FILES } from './spare-files.js';
import { readStats } from './stats-file.js';

/** What opening the directory found and mended; each entry is also logged as an event. */
export interface BootRecoveryReport extends RecoveryReport {
  statsRecovered: string | null;
}

export interface OpenedDirectory {
  parts: FileStoreParts;
  recovery: BootRecoveryReport;
  /** The files this start moved to quarantine/, relative to the data directory. */
  quarantined: string[];
}

/** What a boot read: the sessions (a snapshot's, or every file's) and the journal's changes on top. */
interface SessionsRead {
  recovery: RecoveryReport;
  load: TableLoad;
  /** Whether the session files already show the journal's changes (a sealed clean stop). */
  filesCurrent: boolean;
  eventLog: EventLogScan;
  /** The boot from the snapshot; null when the directory was taken over from its files. */
  snapshot: SnapshotBoot | null;
  /** Taken over with no session in it: a new directory (its first snapshot goes unannounced). */
  fresh: boolean;
}

/** What the steps of an opening share. */
interface Opening {
  layout: DataLayout;
  fileSystem: WritableFileSystem;
  files: DurableFiles;
  options: FileStoreOptions;
  progress: ProgressReport;
  boot: BootProgress;
}

/**
 * Takes ownership of `dataDir` and recovers it. Throws, with nothing on disk
 * changed, DataDirectoryUnusableError when this user may not use it,
 * UnsafeDataDirectoryError when a name in it is a link or a FIFO, and
 * DataDirectoryBusyError when a live instance holds it.
 */
export async function openDirectory(
  dataDir: string,
  instanceId: string,
  fileSystem: WritableFileSystem,
  options: FileStoreOptions,
): Promise<OpenedDirectory> {
  const layout = dataLayout(dataDir);
  // A directory this user may not make, read or write: refused before anything is made.
  assertUsableDataDirectory(layout);
  await fileSystem.mkdir(layout.root, { recursive: true });
  // A symlinked sessions/, a FIFO as events.jsonl...: refused, never used.
  assertSafeDataDirectory(layout);
  const lock = acquireInstanceLock(layout.lockFile);
  const progress = options.progress ?? (() => undefined);
  const boot = new BootProgress();
  boot.reportEvery(progress, options.progressIntervalMs);
  const files = new DurableFiles(fileSystem);
  try {
    return await load({ layout, fileSystem, files, options, progress, boot }, lock, instanceId);
  } catch (error) {
    lock.release();
    throw error;
  } finally {
    boot.stop();
  }
}

async function load(
  opening: Opening,
  lock: InstanceLock,
  instanceId: string,
): Promise<OpenedDirectory> {
  const { layout, fileSystem, files, options } = opening;
  const spareFiles = options.spareFiles ?? DEFAULT_SPARE_FILES;
  // The spares a kill left (a clean stop removes its own): never written
  // through again, removed in the background after the start's first
  // checkpoint (thousands of unlinks, half a second here, are not worth a
  // slower start); a failure shows as the checkpoint's.
  const leftSpares = await readdirIfPresent(layout.spareDir);
  if (spareFiles > 0) await fileSystem.mkdir(layout.spareDir, { recursive: true });
  const markerRead = await readMarker(layout.markerFile);
  if (markerRead.kind === 'ok' && markerRead.seal !== null) {
    // A start consumes the seal before it changes anything: if it dies
    // halfway, the next start must not take the directory for as sealed.
    await files.write(
      layout.markerFile,
      formatMarker(markerRead.marker, { ...markerRead, seal: null }),
    );
  }
  const read = await readSessions(opening, markerRead);
  const { stats, statsRecovered } = await readCounters(opening);
  opening.boot.phase = 'loading the sessions into memory';
  const events = await EventLog.open(fileSystem, layout.eventsFile, read.eventLog);
  let journal: Journal;
  try {
    journal = await Journal.start(
      fileSystem,
      files,
      layout.journalDir,
      events.size(),
      read.snapshot?.retained ?? [],
      read.snapshot?.journalFrom ?? 1,
    );
  } catch (error) {
    await cleanUpAfter(error, () => events.close());
    throw error;
  }
  const parts = assembleParts({
    ...{ instanceId, lock, layout, fileSystem, files, events, journal, options },
    load: read.load,
    filesCurrent: read.filesCurrent,
    snapshotMark: read.snapshot?.eventsMark ?? null,
    accounting: {
      stats,
      marker: markerOf(markerRead),
      // Until a marker keeps it, what stats.json counts beyond the log.
      sessionsBeforeLog:
        markerRead.kind === 'ok' && markerRead.sessionsBeforeLog !== null
          ? markerRead.sessionsBeforeLog
          : Math.max(0, stats.total_sessions - read.eventLog.createdEvents),
      adoptedThrough: read.snapshot?.logExamined ?? null,
    },
  });
  try {
    await settle(opening, parts, read, markerRead, leftSpares);
    const report: BootRecoveryReport = { ...read.recovery, statsRecovered };
    await logRecovery(parts, report);
    if (read.snapshot !== null) rebuildIfPowerCut(opening, parts, markerRead);
    return { parts, recovery: report, quarantined: quarantinedBy(report) };
  } catch (error) {
    // The files the background repair is writing, written before the lock goes.
    await cleanUpAfter(error, async () => {
      await parts.view.rebuilt();
      await closeParts(parts);
    });
    throw error;
  }
}

/** Loads the sessions from the snapshot and the journal, or from every file when it cannot be used. */
async function readSessions(opening: Opening, markerRead: MarkerRead): Promise<SessionsRead> {
  const { layout, fileSystem, files, progress, boot } = opening;
  const filesCurrent = trustedSeal(markerRead, currentBootId()) !== null;
  const snapshot = await recoverFromSnapshot(
    layout,
    fileSystem,
    boot,
    markerRead.kind === 'ok' ? markerRead.adoptedThrough : null,
  );
  if (!('unusable' in snapshot)) {
    return {
      recovery: snapshot.recovery,
      load: { sessions: snapshot.sessions, outcome: snapshot.outcome },
      filesCurrent,
      eventLog: snapshot.eventLog,
      snapshot,
      fresh: false,
    };
  }
  // A snapshot that cannot be trusted must not outlive the takeover: it
  // would cover segments this run writes.
  await files.removeIfPresent(layout.snapshotFile);
  // A new directory has nothing to take over: one line says so, not four.
  const fresh = await holdsNoSession(layout);
  const say: ProgressReport = fresh ? () => undefined : progress;
  if (fresh) progress('a new data directory: nothing to take over', {});
  say('taking over the directory: reading every session file', { why: snapshot.unusable });
  const started = performance.now();
  boot.phase = 'taking over the directory: reading session files';
  const read = await recoverDataDirectory(
    layout,
    {
      keepSessions: true,
      filesCurrent,
      progress: (filesRead) => {
        boot.sessionFilesRead = filesRead;
      },
    },
    fileSystem,
  );
  say('taking over the directory: session files read', {
    sessions: read.sessions.length,
    seconds: Math.round(performance.now() - started) / 1000,
  });
  return {
    recovery: read.recovery,
    load: {
      sessions: read.sessions.map((stored) => residentOf(stored.session, stored.seq)),
      outcome: new Map(),
    },
    filesCurrent: true,
    eventLog: read.eventLog,
    snapshot: null,
    fresh,
  };
}

/** Whether sessions/ holds nothing (or is not there): a directory no one has written sessions to. */
async function holdsNoSession(layout: DataLayout): Promise<boolean> {
  let dir: Dir;
  try {
    dir = await opendir(layout.sessionsDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw error;
  }
  try {
    return (await dir.read()) === null;
  } finally {
    await dir.close();
  }
}

/** stats.json, or zeros; an unreadable one goes to quarantine/. */
async function readCounters(
  opening: Opening,
): Promise<{ stats: Stats; statsRecovered: string | null }> {
  const { layout, fileSystem } = opening;
  const statsRead = await readStats(layout.statsFile);
  if (statsRead.kind === 'ok') return { stats: statsRead.stats, statsRecovered: null };
  if (statsRead.kind !== 'corrupt') return { stats: { ...EMPTY_STATS }, statsRecovered: null };
  const savedAs = await quarantineFile(
    fileSystem,
    layout.statsFile,
    layout.quarantineDir,
    'stats.json',
  );
  return {
    stats: { ...EMPTY_STATS },
    statsRecovered: `stats.json was unreadable (${statsRead.problem}); moved to ${relative(layout.root, savedAs)}`,
  };
}

/** The marker as the accounting judges a start by: an unreadable one says "running". */
function markerOf(markerRead: MarkerRead): InstanceMarker | null {
  if (markerRead.kind === 'ok') return markerRead.marker;
  if (markerRead.kind === 'missing') return null;
  return {
    container: 'unknown',
    pid: 0,
    started_at: '',
    state: 'running',
    startup_count: 0,
    crash_count: 0,
  };
}

/**
 * What a boot does once the parts stand, before anything is served:
 * recount total_sessions, adopt others' changes, start the write-behind's
 * repairs, snapshot a directory just taken over.
 */
async function settle(
  opening: Opening,
  parts: FileStoreParts,
  read: SessionsRead,
  markerRead: MarkerRead,
  leftSpares: readonly string[],
): Promise<void> {
  const { progress, boot, layout } = opening;
  const { table, view, instance } = parts;
  const { recovery, snapshot, eventLog } = read;
  instance.recountSessions(eventLog.createdEvents, table.size);
  instance.recountExpired(eventLog.expiredEvents);
  if (snapshot !== null) {
    const foreign = whereToLook(
      layout,
      trustedSeal(markerRead, currentBootId()),
      snapshot.foreignLog.map((entry) => entry.sessionId),
    );
    if (foreign !== null) {
      boot.phase = 'adopting what another program changed';
      progress('adopting what another program changed in the directory', {
        changed: foreign.changed,
        looking_at:
          foreign.scope.kind === 'logged'
            ? 'the sessions events.jsonl names'
            : 'every session file',
      });
      const created = new Set(
        snapshot.foreignLog
          .filter((entry) => entry.kind === 'session_created')
          .map((entry) => entry.sessionId),
      );
      await adoptForeignChanges(parts, foreign.scope, created, recovery, { progress, boot });
      instance.recountSessions(eventLog.createdEvents, table.size);
    }
  }
  view.repairAfterKill(leftSpares, progress);
  if (snapshot === null) {
    // The next boot reads this instead of every file.
    const started = performance.now();
    const say: ProgressReport = read.fresh ? () => undefined : progress;
    say('taking over the directory: writing snapshot.jsonl', { sessions: table.size });
    await view.snapshot();
    say('took the directory over', {
      sessions: table.size,
      seconds: Math.round(performance.now() - started) / 1000,
    });
  }
}

/**
 * Session files are written without a sync: if the machine went down since
 * the last instance wrote some, any of them may be stale, and the
 * write-behind writes them all again (a takeover has just read them all).
 */
function rebuildIfPowerCut(opening: Opening, parts: FileStoreParts, markerRead: MarkerRead): void {
  const bootId = currentBootId();
  const viewBootId = markerRead.kind === 'ok' ? markerRead.viewBootId : null;
  if (viewBootId === null || bootId === null || viewBootId === bootId) return;
  parts.instance.viewWrittenBefore(viewBootId);
  parts.view.rebuildAfterPowerCut(opening.progress, () => parts.instance.viewWrittenDuring(bootId));
}

async function logRecovery(parts: FileStoreParts, recovery: BootRecoveryReport): Promise<void> {
  const { log } = parts;
  if (recovery.eventLogRepair !== null) {
    await log('log_repaired', {
      bytes_removed: recovery.eventLogRepair.bytesRemoved,
      saved_as: recovery.eventLogRepair.savedAs,
      events_kept: recovery.eventLogRepair.eventsKept ?? 0,
    });
  }
  for (const entry of recovery.quarantined) {
    await log('session_quarantined', {
      file: entry.file,
      problem: entry.problem,
      saved_as: entry.savedAs,
    });
  }
  if (recovery.statsRecovered !== null) {
    await log('stats_recovered', { detail: recovery.statsRecovered });
  }
  if (recovery.journal !== null) {
    await log('journal_replayed', {
      changes: recovery.journal.changes,
      session_files: recovery.journal.sessionFiles,
      events_restored: recovery.journal.eventsRestored,
      ...(recovery.journal.unresolved.length > 0 && {
        // Patched, but nothing to patch: not served (see JournalRollForward).
        unresolved: recovery.journal.unresolved.slice(0, 20).join(' '),
        unresolved_count: recovery.journal.unresolved.length,
      }),
    });
  }
}

/** The files a start's recovery moved to quarantine/, relative to the data directory. */
function quarantinedBy(report: BootRecoveryReport): string[] {
  const files = report.quarantined.map((entry) => entry.savedAs);
  if (report.eventLogRepair?.savedAs) files.push(report.eventLogRepair.savedAs);
  if (report.journal !== null) files.push(...report.journal.quarantined);
  return files;
}

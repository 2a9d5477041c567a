/**
 * The file store: the data directory as the original laid it out, made
 * durable. Opening it takes the directory's lock, then recovers what a crash
 * can leave behind (stray temp files, a torn event-log tail, unreadable
 * files, journal segments to replay), loads the sessions (from the snapshot
 * and the journal after it, or from every file) and the recent events into
 * memory. From then on reads come from memory and every write is
 * on disk before it resolves:
 *
 *   create, update, delete   the change's journal line (appended and
 *                            fdatasynced with the others of its batch), then
 *                            its event line, appended to events.jsonl without
 *                            a sync of its own (the journal line holds the
 *                            event until a snapshot syncs the log);
 *                            serialised per session
 *
 * Session files are a view written behind from memory by checkpoints (every
 * five seconds and at close), without a sync of their own: the journal holds
 * every change until a snapshot (snapshot.ts) covers it. A snapshot is
 * written when the journal has grown past a threshold (and after taking over
 * a directory without one): it writes every session to snapshot.jsonl,
 * durably, then deletes the segments it covers. After the machine itself
 * went down, a start writes every file again (see rebuildView). A boot reads
 * the snapshot and replays the journal after it, then adopts what another
 * program changed in sessions/ while no instance ran (adoptForeignChanges);
 * it reads every session file only when no snapshot can be used (see
 * recovery.ts). A clean stop seals the directory (directory-seal.ts) so the
 * next start sees in O(1) whether anything changed. An event in the log always describes a committed
 * change, and a committed change whose event a kill cut off gets it at the
 * next boot. Counters that change with every request (total_requests)
 * or every create (total_sessions) reach stats.json lazily, within a second;
 * total_sessions is recounted from the durable `session_created` events at boot.
 *
 * Every session is held in memory, as its compact JSON (parsed when it is
 * read: a third of the heap of a parsed session), so their total footprint
 * (see domain/footprint.ts) is kept under a budget: a create or an update
 * that would grow it past the budget is refused before anything is written.
 */

import { statfsSync } from 'node:fs';
import { lstat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { EMPTY_STATS, type InstanceMarker, judgeStart, type Stats } from '../../domain/counters.js';
import {
  InvalidInputError,
  StoppingError,
  StorageBudgetError,
  StorageFullError,
} from '../../domain/errors.js';
import {
  crashDetectedEvent,
  crashTriggeredEvent,
  type EventExtra,
  type EventKind,
  makeEvent,
  type ServiceEvent,
  startupEvent,
} from '../../domain/event.js';
import { footprintGrowth, sessionFootprint } from '../../domain/footprint.js';
import {
  decodeCursor,
  encodeCursor,
  matchesSearch,
  type Page,
  type PageQuery,
  pageIsFull,
  SEARCH_SCAN_LIMIT,
} from '../../domain/page.js';
import {
  isSessionId,
  nameInSessionJson,
  type Session,
  type SessionChange,
  type SessionJson,
  sessionNotFound,
} from '../../domain/session.js';
import { utcTimestamp } from '../../domain/time.js';
import { cleanUpAfter } from '../cleanup.js';
import {
  type BackgroundReporter,
  type EventListener,
  type EventTail,
  type InstanceStart,
  runInBackground,
  type StorageUsage,
  type Store,
  type StoreOverview,
  UNREPORTED,
} from '../store.js';
import { BootProgress, type ProgressReport } from './boot-progress.js';
import { CreationIndex } from './creation-index.js';
import { assertSafeDataDirectory } from './data-dir-safety.js';
import { type DirectorySeal, takeSeal } from './directory-seal.js';
import { DurableFiles, storageError } from './durable-file.js';
import { EventLog } from './event-log.js';
import type { EventLogScan } from './event-log-reader.js';
import { nodeFileSystem, type WritableFileSystem } from './file-system.js';
import {
  type ForeignChange,
  type ForeignScope,
  findForeignChanges,
  whereToLook,
} from './foreign-changes.js';
import { GroupCommit } from './group-commit.js';
import { acquireInstanceLock, type InstanceLock } from './instance-lock.js';
import {
  currentBootId,
  formatMarker,
  type MarkerRead,
  readMarker,
  trustedSeal,
} from './instance-marker.js';
import { Journal, type JournalRecord, type JournalSegmentRead } from './journal.js';
import {
  type DataLayout,
  dataLayout,
  isSessionFileName,
  readdirIfPresent,
  sessionFileName,
  TEMP_SUFFIX,
} from './layout.js';
import {
  type LogPoint,
  type RecoveryReport,
  recoverDataDirectory,
  recoverFromSnapshot,
} from './recovery.js';
import {
  type CreationKey,
  formatSessionFile,
  quarantineFile,
  removeTempFile,
  type StoredSession,
} from './session-files.js';
import { type ResidentSession, writeSnapshot } from './snapshot.js';
import {
  DEFAULT_SPARE_FILES,
  removeSpareFiles,
  SPARE_MIN_AGE_MS,
  type SparePool,
} from './spare-files.js';
import { formatStats, readStats } from './stats-file.js';
import type { UnsyncedWrite } from './unsynced-writes.js';

/** How far behind `total_requests` and `total_sessions` on disk may fall. */
const LAZY_FLUSH_INTERVAL_MS = 1000;
/**
 * How far behind the journal session files may fall (checkpoints write them).
 * Longer coalesces more updates of a session into one file write; the
 * journal to replay after a kill grows with it.
 */
const CHECKPOINT_INTERVAL_MS = 5000;
/**
 * How far behind the journal a session file may fall when all it lacks is
 * accesses counted (writes that changed no data nor the name): a file of a
 * megabyte is not written again every checkpoint for the sake of a count.
 */
const TOUCH_VIEW_INTERVAL_MS = 30_000;
/** The session files a checkpoint hands to the writer thread at a time, at most… */
const CHECKPOINT_BATCH_FILES = 256;
/** …and their characters (the batch is copied to the thread). */
const CHECKPOINT_BATCH_BYTES = 4 * 1024 * 1024;
/** Sessions a snapshot takes from memory at a time. */
const SNAPSHOT_BATCH = 1000;
/** The journal size past which a snapshot is written (see FileStoreOptions.snapshotJournalBytes). */
const SNAPSHOT_JOURNAL_BYTES = 64 * 1024 * 1024;

/** What the file system holding `path` has free for an unprivileged writer. */
function freeBytes(path: string): number {
  try {
    const stats = statfsSync(path);
    return stats.bavail * stats.bsize;
  } catch (error) {
    throw storageError(error, 'reading the free space');
  }
}

function residentOf(session: Session, seq: number | undefined): ResidentSession {
  return {
    seq,
    id: session.id,
    created_at: session.created_at,
    footprint: sessionFootprint(session),
    json: JSON.stringify(session),
  };
}

function sessionOf(resident: ResidentSession): Session {
  return parseSession(resident.json);
}

/** A session's compact JSON, as the store holds it, parsed. */
function parseSession(json: string): Session {
  return JSON.parse(json) as Session;
}

/** A cursor's position: [seq], or [created_at, id] for a session the original wrote. */
function cursorOf(key: CreationKey): (string | number)[] {
  return key.seq === undefined ? [key.created_at, key.id] : [key.seq];
}

function cursorKey(position: (string | number)[]): CreationKey {
  const [first, second] = position;
  if (typeof first === 'number' && second === undefined) {
    return { seq: first, id: '', created_at: '' };
  }
  if (typeof first === 'string' && typeof second === 'string') {
    return { seq: undefined, created_at: first, id: second };
  }
  throw new InvalidInputError('"after" is not a cursor this service gave out ("next").');
}

/** What opening the directory found and mended; each entry is also logged as an event. */
export interface BootRecoveryReport extends RecoveryReport {
  statsRecovered: string | null;
}

export interface FileStoreOptions {
  /** The most the sessions' footprints may add up to (STORAGE_BUDGET_MB); no limit by default. */
  budgetBytes?: number;
  /** Told how each checkpoint and lazy stats flush went (a failed one is retried). */
  background?: BackgroundReporter;
  /**
   * The most sessions that may be changed and not yet written to their files
   * (CHECKPOINT_BACKLOG); a write past it waits for a checkpoint. No bound by
   * default.
   */
  checkpointBacklog?: number;
  /**
   * How long changes may wait in the journal after the last checkpoint that
   * finished before the store reports a problem (a minute by default: a
   * checkpoint starts every five seconds).
   */
  checkpointBehindMs?: number;
  /**
   * The journal size past which a snapshot is written (SNAPSHOT_JOURNAL_KB;
   * 64 MiB by default): what a boot replays at most, besides the snapshot.
   */
  snapshotJournalBytes?: number;
  /**
   * The free space the file system must keep (MIN_FREE_DISK_MB): below it a
   * create or a growing update is refused (StorageFullError) before anything
   * is written. None by default.
   */
  minFreeBytes?: number;
  /**
   * How many replaced session files may be kept in spare/ to write later
   * ones into (SPARE_FILES; 8,192 by default, 0 for none): see spare-files.ts.
   */
  spareFiles?: number;
  /** How long a replaced file is kept before it is written again (SPARE_MIN_AGE_MS; tests: 0). */
  spareMinAgeMs?: number;
  /**
   * Told how the boot goes: "starting" once a second while it runs (what it
   * is doing, sessions read, journal records replayed, seconds; see
   * boot-progress.ts), and the steps of a takeover (it reads every session
   * file) and of the background work a boot leaves.
   */
  progress?: ProgressReport;
  /** How often "starting" is reported while the boot runs (STARTUP_PROGRESS_MS; a second by default). */
  progressIntervalMs?: number;
}

/** The settings a store runs with (FileStoreOptions with the defaults filled in). */
interface StoreSettings {
  budgetBytes: number;
  minFreeBytes: number;
  background: BackgroundReporter;
  checkpointBehindMs: number;
  maxBacklog: number;
  snapshotJournalBytes: number;
  spares: SparePool | null;
}

/** What a boot loaded: the sessions (a snapshot's, or every file's) and the journal's changes on top. */
interface Loaded {
  sessions: Iterable<ResidentSession>;
  outcome: ReadonlyMap<string, StoredSession | null>;
  /** Whether the session files already show `outcome` (the last instance stopped cleanly and sealed the directory). */
  filesCurrent: boolean;
}

export interface OpenedFileStore {
  store: FileStore;
  recovery: BootRecoveryReport;
}

/** The files a start's recovery moved to quarantine/, relative to the data directory. */
function quarantinedBy(report: BootRecoveryReport): string[] {
  const files = report.quarantined.map((entry) => entry.savedAs);
  if (report.eventLogRepair?.savedAs) files.push(report.eventLogRepair.savedAs);
  if (report.journal !== null) files.push(...report.journal.quarantined);
  return files;
}

/** Whether the last instance stopped cleanly and sealed the directory, its files current since. */
function sealedStop(markerRead: MarkerRead): boolean {
  return trustedSeal(markerRead, currentBootId()) !== null;
}

export class FileStore implements Store {
  /**
   * The sessions, each a ResidentSession whose `json` and `footprint` an
   * update replaces in place (the creation index holds the same objects).
   */
  private readonly sessions = new Map<string, ResidentSession>();
  /** The sessions' creation order, seekable, for pages. */
  private readonly order = new CreationIndex();
  /** Bumped by every change of a session (see sessionsVersion). */
  private version = 0;
  private readonly sessionLocks = new Map<string, Promise<unknown>>();
  private readonly statsCommit: GroupCommit;
  /** The counters as stats.json last received them. */
  private flushed: Stats;
  private readonly requestFlushTimer: NodeJS.Timeout;
  /** Sessions changed since the last checkpoint took them over. */
  private dirty = new Set<string>();
  /** Of those, the ones created since: their files do not exist yet (UnsyncedWrite.fresh). */
  private created = new Set<string>();
  /**
   * Sessions whose files lack only accesses counted since (see
   * TOUCH_VIEW_INTERVAL_MS): handed to `dirty` every so often, and by a
   * snapshot and a clean stop, which leave every file current.
   */
  private touched = new Set<string>();
  private touchedQueued = performance.now();
  /**
   * The machine boot during which session files were written without a sync
   * (the marker keeps it): an earlier one's until rebuildView has written
   * them all again.
   */
  private viewBootId: string | null = currentBootId();
  /** Sessions total_sessions counts that the log does not (see instance-marker.ts). */
  private sessionsBeforeLog = 0;
  /** Files this start moved to quarantine/, and when it last looked whether they are still there. */
  private quarantinedAtStart: string[] = [];
  private quarantineLookedAt = 0;
  /** What a clean stop left (directory-seal.ts), once it has sealed the directory. */
  private seal: DirectorySeal | null = null;
  /** Set by a clean stop about to seal the directory: no write commits after it. */
  private sealing = false;
  private readonly commitsInFlight = new Set<Promise<void>>();
  /** How far into events.jsonl others' logged changes are adopted (see readLogAfterMark). */
  private adoptedThrough: LogPoint | null = null;
  /** A rebuild of the session files under way (see rebuildView). */
  private viewRebuild: Promise<void> = Promise.resolve();
  /**
   * Whether checkpoints may meet temp files a kill or a power cut left: the
   * boot's first (after a kill) and those of a rebuild of the view. Their
   * writes remove them (see UnsyncedWrite.staleTemp).
   */
  private repairingView = true;
  /**
   * The boot's first checkpoint, in the background after a kill; when it has
   * written every file the journal replayed, repairingView ends. A failed one
   * leaves repairingView on (the checkpoints after it retry those files).
   * Then the removal of the spares the kill left.
   */
  private viewRepair: Promise<void> = Promise.resolve();
  /**
   * Session files of checkpoint batches that failed: the failed write may
   * have left its temp file (when even removing it failed), which the next
   * write of the file removes, though it may write a spare, not the temp file.
   */
  private readonly tempsMaybeLeft = new Set<string>();
  private closing = false;
  private readonly snapshotCommit: GroupCommit;
  private snapshotRunning = false;
  /** The snapshot last asked for (a stop waits for it to settle). */
  private latestSnapshot: Promise<void> = Promise.resolve();
  /** When the last snapshot finished (or the store opened). */
  private snapshotted = performance.now();
  private backlogCheckpoint: Promise<void> | null = null;
  private readonly checkpointCommit: GroupCommit;
  /** When the last checkpoint started, and when the last one finished. */
  private lastCheckpoint = performance.now();
  private checkpointed = performance.now();
  private nextSeq: number;
  private marker: InstanceMarker | null;
  /** The sessions' footprints added up, reservations for writes in flight included. */
  private storedBytes = 0;
  private readonly budgetBytes: number;
  private readonly minFreeBytes: number;
  private readonly background: BackgroundReporter;
  private readonly checkpointBehindMs: number;
  private readonly maxBacklog: number;
  private readonly snapshotJournalBytes: number;
  private readonly spares: SparePool | null;

  private constructor(
    readonly instanceId: string,
    private readonly layout: DataLayout,
    private readonly lock: InstanceLock,
    private readonly files: DurableFiles,
    private readonly events: EventLog,
    private readonly journal: Journal,
    private readonly counters: Stats,
    loaded: Loaded,
    marker: InstanceMarker | null,
    private readonly fileSystem: WritableFileSystem,
    settings: StoreSettings,
  ) {
    this.budgetBytes = settings.budgetBytes;
    this.minFreeBytes = settings.minFreeBytes;
    this.background = settings.background;
    this.checkpointBehindMs = settings.checkpointBehindMs;
    this.maxBacklog = settings.maxBacklog;
    this.snapshotJournalBytes = settings.snapshotJournalBytes;
    this.spares = settings.spares;
    for (const resident of loaded.sessions) this.sessions.set(resident.id, resident);
    for (const [id, last] of loaded.outcome) {
      if (last === null) this.sessions.delete(id);
      else this.sessions.set(id, residentOf(last.session, last.seq));
      // A clean stop left the files current; after a kill the boot rewrites them.
      if (!loaded.filesCurrent) this.dirty.add(id);
    }
    let maxSeq = 0;
    for (const resident of this.sessions.values()) {
      this.order.add(resident);
      // What was stored is loaded whatever the budget says now: it only stops growth.
      this.storedBytes += resident.footprint;
      if (resident.seq !== undefined && resident.seq > maxSeq) maxSeq = resident.seq;
    }
    this.nextSeq = maxSeq + 1;
    this.marker = marker;
    this.flushed = { ...counters };
    this.statsCommit = new GroupCommit(async () => {
      const snapshot = { ...this.counters };
      await this.files.write(this.layout.statsFile, formatStats(snapshot));
      this.flushed = snapshot;
    });
    this.checkpointCommit = new GroupCommit(() => this.writeCheckpoint());
    this.snapshotCommit = new GroupCommit(() => this.writeSnapshot());
    this.requestFlushTimer = setInterval(() => {
      const { total_requests, total_sessions } = this.counters;
      if (
        total_requests !== this.flushed.total_requests ||
        total_sessions !== this.flushed.total_sessions
      ) {
        // Retried on the next tick.
        runInBackground(this.background, 'stats_flush', () => this.statsCommit.run());
      }
      if (performance.now() - this.touchedQueued >= TOUCH_VIEW_INTERVAL_MS)
        this.queueTouchedFiles();
      if (
        this.dirty.size > 0 &&
        performance.now() - this.lastCheckpoint >= CHECKPOINT_INTERVAL_MS
      ) {
        runInBackground(this.background, 'checkpoint', () => this.checkpoint());
      }
      this.snapshotIfDue();
    }, LAZY_FLUSH_INTERVAL_MS);
    this.requestFlushTimer.unref();
  }

  /**
   * Takes ownership of `dataDir` (throws DataDirectoryBusyError if a live
   * instance holds it; nothing on disk is changed then) and recovers it.
   */
  static async open(
    dataDir: string,
    instanceId: string,
    fileSystem: WritableFileSystem = nodeFileSystem,
    options: FileStoreOptions = {},
  ): Promise<OpenedFileStore> {
    const layout = dataLayout(dataDir);
    await fileSystem.mkdir(layout.root, { recursive: true });
    // A symlinked sessions/, a FIFO as events.jsonl...: refused, never used.
    assertSafeDataDirectory(layout);
    const lock = acquireInstanceLock(layout.lockFile);
    try {
      return await FileStore.recover(
        layout,
        lock,
        instanceId,
        new DurableFiles(fileSystem),
        fileSystem,
        options,
      );
    } catch (error) {
      lock.release();
      throw error;
    }
  }

  private static async recover(
    layout: DataLayout,
    lock: InstanceLock,
    instanceId: string,
    files: DurableFiles,
    fileSystem: WritableFileSystem,
    options: FileStoreOptions,
  ): Promise<OpenedFileStore> {
    const progress = options.progress ?? (() => undefined);
    const boot = new BootProgress();
    boot.reportEvery(progress, options.progressIntervalMs);
    try {
      return await FileStore.load(layout, lock, instanceId, files, fileSystem, options, boot);
    } finally {
      boot.stop();
    }
  }

  private static async load(
    layout: DataLayout,
    lock: InstanceLock,
    instanceId: string,
    files: DurableFiles,
    fileSystem: WritableFileSystem,
    options: FileStoreOptions,
    boot: BootProgress,
  ): Promise<OpenedFileStore> {
    const progress = options.progress ?? (() => undefined);
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
    const fromSnapshot = await recoverFromSnapshot(
      layout,
      fileSystem,
      boot,
      markerRead.kind === 'ok' ? markerRead.adoptedThrough : null,
    );
    let recovery: RecoveryReport;
    let loaded: Loaded;
    let scan: EventLogScan;
    let retained: JournalSegmentRead[] = [];
    let journalFrom = 1;
    if ('unusable' in fromSnapshot) {
      // A snapshot that cannot be trusted must not outlive the takeover: it
      // would cover segments this run writes.
      await files.removeIfPresent(layout.snapshotFile);
      progress('taking over the directory: reading every session file', {
        why: fromSnapshot.unusable,
      });
      const started = performance.now();
      boot.phase = 'taking over the directory: reading session files';
      const read = await recoverDataDirectory(
        layout,
        {
          keepSessions: true,
          filesCurrent: sealedStop(markerRead),
          progress: (filesRead) => {
            boot.sessionFilesRead = filesRead;
          },
        },
        fileSystem,
      );
      recovery = read.recovery;
      scan = read.eventLog;
      loaded = {
        sessions: read.sessions.map((stored) => residentOf(stored.session, stored.seq)),
        outcome: new Map(),
        filesCurrent: true,
      };
      progress('taking over the directory: session files read', {
        sessions: read.sessions.length,
        seconds: Math.round(performance.now() - started) / 1000,
      });
    } else {
      recovery = fromSnapshot.recovery;
      scan = fromSnapshot.eventLog;
      loaded = {
        sessions: fromSnapshot.sessions,
        outcome: fromSnapshot.outcome,
        filesCurrent: sealedStop(markerRead),
      };
      retained = fromSnapshot.retained;
      journalFrom = fromSnapshot.journalFrom;
    }
    let statsRecovered: string | null = null;

    const statsRead = await readStats(layout.statsFile);
    let stats: Stats = { ...EMPTY_STATS };
    if (statsRead.kind === 'ok') stats = statsRead.stats;
    if (statsRead.kind === 'corrupt') {
      const savedAs = await quarantineFile(
        fileSystem,
        layout.statsFile,
        layout.quarantineDir,
        'stats.json',
      );
      statsRecovered = `stats.json was unreadable (${statsRead.problem}); moved to ${relative(layout.root, savedAs)}`;
    }

    const marker: InstanceMarker | null =
      markerRead.kind === 'ok'
        ? markerRead.marker
        : markerRead.kind === 'corrupt'
          ? ({
              container: 'unknown',
              pid: 0,
              started_at: '',
              state: 'running',
              startup_count: 0,
              crash_count: 0,
            } as const)
          : null;

    boot.phase = 'loading the sessions into memory';
    const events = await EventLog.open(fileSystem, layout.eventsFile, scan);
    let journal: Journal;
    try {
      journal = await Journal.start(
        fileSystem,
        files,
        layout.journalDir,
        events.size(),
        retained,
        journalFrom,
      );
    } catch (error) {
      await cleanUpAfter(error, () => events.close());
      throw error;
    }
    const store = new FileStore(
      instanceId,
      layout,
      lock,
      files,
      events,
      journal,
      stats,
      loaded,
      marker,
      fileSystem,
      {
        budgetBytes: options.budgetBytes ?? Number.POSITIVE_INFINITY,
        minFreeBytes: options.minFreeBytes ?? 0,
        background: options.background ?? UNREPORTED,
        checkpointBehindMs: options.checkpointBehindMs ?? 60_000,
        maxBacklog: options.checkpointBacklog ?? Number.POSITIVE_INFINITY,
        snapshotJournalBytes: options.snapshotJournalBytes ?? SNAPSHOT_JOURNAL_BYTES,
        spares:
          spareFiles === 0
            ? null
            : {
                dir: layout.spareDir,
                maxFiles: spareFiles,
                minAgeMs: options.spareMinAgeMs ?? SPARE_MIN_AGE_MS,
              },
      },
    );
    // stats.json gets total_sessions lazily; every create's event is durable
    // before it is acknowledged, so the log recounts what a crash cut short,
    // on top of the sessions counted before the log had them (known since the
    // takeover; until a marker keeps it, what stats.json counts beyond the log).
    // Never report fewer sessions created than exist, either.
    // Written with the marker at startInstance, once what the log named is adopted.
    store.adoptedThrough = 'unusable' in fromSnapshot ? null : fromSnapshot.logExamined;
    store.sessionsBeforeLog =
      markerRead.kind === 'ok' && markerRead.sessionsBeforeLog !== null
        ? markerRead.sessionsBeforeLog
        : Math.max(0, stats.total_sessions - scan.createdEvents);
    stats.total_sessions = Math.max(
      stats.total_sessions,
      store.sessionsBeforeLog + scan.createdEvents,
      store.sessionCount(),
    );
    try {
      if (!('unusable' in fromSnapshot)) {
        const foreign = whereToLook(
          layout,
          trustedSeal(markerRead, currentBootId()),
          fromSnapshot.foreignLog.map((entry) => entry.sessionId),
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
            fromSnapshot.foreignLog
              .filter((entry) => entry.kind === 'session_created')
              .map((entry) => entry.sessionId),
          );
          await store.adoptForeignChanges(foreign.scope, created, recovery, progress, boot);
          stats.total_sessions = Math.max(
            stats.total_sessions,
            store.sessionsBeforeLog + scan.createdEvents,
            store.sessionCount(),
          );
        }
      }
      // After a kill: the files of the sessions the journal replayed (a
      // checkpoint a kill cut short left some behind, and temp files, which
      // its writes remove), in the background: the files are a view written
      // behind, the journal holds every change until a snapshot, whose own
      // checkpoint comes after this one.
      const rewriting = store.dirty.size;
      if (rewriting === 0) store.repairingView = false;
      if (rewriting > 0 || leftSpares.length > 0) {
        store.viewRepair = runInBackground(store.background, 'checkpoint', async () => {
          if (rewriting > 0) {
            const started = performance.now();
            await store.checkpoint();
            store.repairingView = false;
            progress('session files of the replayed journal written', {
              sessions: rewriting,
              seconds: Math.round(performance.now() - started) / 1000,
            });
          }
          await removeSpareFiles(fileSystem, layout.spareDir, layout.quarantineDir, leftSpares);
        });
      }
      if ('unusable' in fromSnapshot) {
        // The next boot reads this instead of every file.
        const started = performance.now();
        progress('taking over the directory: writing snapshot.jsonl', {
          sessions: store.sessionCount(),
        });
        await store.snapshot();
        progress('took the directory over', {
          sessions: store.sessionCount(),
          seconds: Math.round(performance.now() - started) / 1000,
        });
      }
      const report: BootRecoveryReport = { ...recovery, statsRecovered };
      await store.logRecovery(report);
      store.quarantinedAtStart = quarantinedBy(report);
      // Session files are written without a sync: if the machine went down
      // since the last instance wrote some, any of them may be stale.
      const bootId = currentBootId();
      if (
        !('unusable' in fromSnapshot) &&
        markerRead.kind === 'ok' &&
        markerRead.viewBootId !== null &&
        bootId !== null &&
        markerRead.viewBootId !== bootId
      ) {
        store.viewBootId = markerRead.viewBootId;
        // After the repair above, which would end the rebuild's repairingView.
        store.viewRebuild = store.viewRepair.then(() =>
          runInBackground(store.background, 'checkpoint', () =>
            store.rebuildView(bootId, progress),
          ),
        );
      }
      return { store, recovery: report };
    } catch (error) {
      // The files the background repair is writing, written before the lock goes.
      await cleanUpAfter(error, async () => {
        await store.viewRepair;
        await store.closeFiles();
      });
      throw error;
    }
  }

  private async logRecovery(recovery: BootRecoveryReport): Promise<void> {
    if (recovery.eventLogRepair !== null) {
      await this.log('log_repaired', {
        bytes_removed: recovery.eventLogRepair.bytesRemoved,
        saved_as: recovery.eventLogRepair.savedAs,
        events_kept: recovery.eventLogRepair.eventsKept ?? 0,
      });
    }
    for (const entry of recovery.quarantined) {
      await this.log('session_quarantined', {
        file: entry.file,
        problem: entry.problem,
        saved_as: entry.savedAs,
      });
    }
    if (recovery.statsRecovered !== null) {
      await this.log('stats_recovered', { detail: recovery.statsRecovered });
    }
    if (recovery.journal !== null) {
      await this.log('journal_replayed', {
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

  /**
   * Adopts what another program changed in sessions/ while no instance ran
   * (see foreign-changes.ts), before anything is served. Each change is
   * journaled with a `session_adopted` event, as a change of ours is, so the
   * next start has it without looking again; the file stays as that program
   * left it. A file that cannot be a session goes to quarantine/ (reported
   * in `recovery`); a session held under its name keeps its content, and its
   * file is written again. `createdInLog`: the sessions whose creation the
   * log records (total_sessions counts them already).
   */
  private async adoptForeignChanges(
    scope: ForeignScope,
    createdInLog: ReadonlySet<string>,
    recovery: RecoveryReport,
    progress: (message: string, detail: Record<string, unknown>) => void,
    boot: BootProgress,
  ): Promise<void> {
    const started = performance.now();
    boot.phase = 'looking for session files another program changed';
    const found = await findForeignChanges(
      this.layout.sessionsDir,
      this.sessions,
      scope,
      (names) => {
        boot.sessionNamesSeen = names;
      },
    );
    for (const bad of found.unusable) {
      const savedAs = await quarantineFile(
        this.fileSystem,
        join(this.layout.sessionsDir, bad.file),
        this.layout.quarantineDir,
        `session-${bad.file}`,
      );
      recovery.quarantined.push({
        file: `sessions/${bad.file}`,
        problem: bad.problem,
        savedAs: relative(this.layout.root, savedAs),
      });
      const id = bad.file.slice(0, -'.json'.length);
      if (this.sessions.has(id)) this.dirty.add(id);
    }
    // Their files already hold what memory will: no checkpoint may write them
    // from the journal's older version meanwhile (a commit that finds the
    // backlog full runs one), nor after.
    for (const change of found.changes) {
      this.dirty.delete(change.id);
      this.touched.delete(change.id);
    }
    for (const change of found.changes) {
      await this.adopt(change);
      if (change.kind === 'created' && !createdInLog.has(change.id)) this.sessionsBeforeLog++;
    }
    progress('adopted what another program changed', {
      files_read: found.filesRead,
      adopted: found.changes.length,
      quarantined: found.unusable.length,
      seconds: Math.round(performance.now() - started) / 1000,
    });
  }

  /** Makes one change another program made the store's own (see adoptForeignChanges). */
  private async adopt(change: ForeignChange): Promise<void> {
    const { id } = change;
    const event = makeEvent('session_adopted', this.instanceId, {
      session_id: id,
      change: change.kind,
    });
    const current = this.sessions.get(id);
    if (change.kind === 'deleted') {
      if (current === undefined) return;
      await this.commit(
        { op: 'delete', id },
        event,
        { op: 'put', session: sessionOf(current), seq: current.seq, revert: true },
        () => this.forget(current),
      );
    } else {
      // A new session goes after every one held; one held keeps its place.
      const seq = current === undefined ? this.nextSeq++ : current.seq;
      const resident = residentOf(change.stored.session, seq);
      await this.commit(
        { op: 'put', session: change.stored.session, seq },
        event,
        current === undefined
          ? { op: 'delete', id, revert: true }
          : { op: 'put', session: sessionOf(current), seq, revert: true },
        () => {
          // Replaced whole, in its place in the map (listings follow it); in
          // the index too, as the other program may have changed created_at,
          // a creation key.
          if (current !== undefined) {
            this.order.remove(current);
            this.storedBytes -= current.footprint;
          }
          this.sessions.set(id, resident);
          this.order.add(resident);
          this.storedBytes += resident.footprint;
        },
      );
    }
    // The file already says what memory now holds: not written again (a temp
    // file of ours a kill left beside it goes, as a checkpoint's write would).
    this.dirty.delete(id);
    if (this.repairingView) {
      const temp = `${sessionFileName(id)}${TEMP_SUFFIX}`;
      await removeTempFile(
        this.fileSystem,
        join(this.layout.sessionsDir, temp),
        this.layout.quarantineDir,
        `session-${temp}`,
      );
    }
  }

  /** Drops a session from memory (its change is durable). */
  private forget(resident: ResidentSession): void {
    this.sessions.delete(resident.id);
    this.order.remove(resident);
    this.storedBytes -= resident.footprint;
  }

  // Sessions

  async insertSession(session: Session, event: ServiceEvent): Promise<void> {
    const resident = residentOf(session, this.nextSeq++);
    const { id } = session;
    await this.withBudget(resident.footprint, () =>
      this.commit(
        { op: 'put', session, seq: resident.seq },
        event,
        { op: 'delete', id, revert: true },
        () => {
          // Its durable event is what counts the session: boot recounts total_sessions
          // from the log, so stats.json may catch up lazily without losing an increment.
          this.counters.total_sessions++;
          this.sessions.set(id, resident);
          this.order.add(resident);
          this.created.add(id);
        },
      ),
    );
  }

  getSession(id: string): Session | undefined {
    if (!isSessionId(id)) return undefined;
    const resident = this.sessions.get(id);
    return resident === undefined ? undefined : sessionOf(resident);
  }

  /** Every session, in creation order. */
  listSessions(): Session[] {
    return Array.from(this.sessions.values(), sessionOf);
  }

  async *sessionBatches(batchSize: number): AsyncIterable<readonly SessionJson[]> {
    // The sessions' JSON is copied at once (a reference a session): the
    // listing is the store as of the request, whatever changes while it is sent.
    const snapshot = Array.from(this.sessions.values(), (resident) => resident.json);
    for (let start = 0; start < snapshot.length; start += batchSize) {
      yield snapshot.slice(start, start + batchSize);
    }
  }

  sessionPage(query: PageQuery): Page<SessionJson> {
    const after = query.after === null ? null : cursorKey(decodeCursor(query.after));
    const { search } = query;
    // The held JSON is the answer's; a search reads only the names it looks at.
    const items: SessionJson[] = [];
    let bytes = 0;
    // A search looks at no more than SEARCH_SCAN_LIMIT sessions a page.
    const { last, more } = this.order.scan(
      after,
      query.limit,
      query.newestFirst,
      search === null ? Number.POSITIVE_INFINITY : SEARCH_SCAN_LIMIT,
      (key) => {
        const resident = this.sessions.get(key.id) as ResidentSession;
        if (search !== null) {
          const found = matchesSearch(
            { id: resident.id, name: nameInSessionJson(resident.json) },
            search,
          );
          if (!found) return 'skip';
        }
        if (pageIsFull(items.length, bytes, resident.json.length, query.maxBytes)) return 'stop';
        items.push(resident.json);
        bytes += resident.json.length;
        return 'take';
      },
    );
    return {
      items,
      next: more && last !== null ? encodeCursor(cursorOf(last)) : null,
    };
  }

  sessionsVersion(): number {
    return this.version;
  }

  sessionCount(): number {
    return this.sessions.size;
  }

  changeSession(
    id: string,
    change: (current: Session) => SessionChange,
    event: ServiceEvent,
  ): Promise<Session> {
    return this.withSessionLock(id, async () => {
      const resident = this.requireSession(id);
      const current = sessionOf(resident);
      const { session: next, patch } = change(current);
      const growth = footprintGrowth(current, next);
      await this.withBudget(growth, () =>
        this.commit(
          // What the write changed when that says it (see journal.ts), so a
          // write costs its own size in the journal, not the session's.
          patch === null
            ? { op: 'put', session: next, seq: resident.seq }
            : { op: 'patch', id, patch },
          event,
          { op: 'put', session: current, seq: resident.seq, revert: true },
          () => {
            resident.json = JSON.stringify(next);
            resident.footprint += growth;
          },
        ),
      );
      return next;
    });
  }

  removeSession(id: string, event: ServiceEvent): Promise<void> {
    return this.withSessionLock(id, async () => {
      const resident = this.requireSession(id);
      await this.commit(
        { op: 'delete', id },
        event,
        { op: 'put', session: sessionOf(resident), seq: resident.seq, revert: true },
        () => this.forget(resident),
      );
    });
  }

  /**
   * Runs `write` with `growth` bytes of the budget reserved, refusing it
   * first if they do not fit; a failed write gives them back. Shrinking is
   * always allowed, so a full store can still be mended.
   */
  private async withBudget(growth: number, write: () => Promise<void>): Promise<void> {
    const mib = (bytes: number) => (bytes / (1024 * 1024)).toFixed(1);
    if (growth > 0 && this.minFreeBytes > 0) {
      // One statfs (about 0.5 µs): the journal is written into zeros written
      // ahead of it, so a full disk would not refuse the write itself.
      const free = freeBytes(this.layout.root);
      if (free < this.minFreeBytes) {
        throw new StorageFullError(
          `The data directory is full: its file system has ${mib(free)} MiB free, below ` +
            `MIN_FREE_DISK_MB (${mib(this.minFreeBytes)} MiB); nothing was changed. ` +
            'Free space or delete sessions, then retry.',
        );
      }
    }
    if (growth > 0 && this.storedBytes + growth > this.budgetBytes) {
      throw new StorageBudgetError(
        `The sessions stored use ${mib(this.storedBytes)} MiB of the ${mib(this.budgetBytes)} MiB ` +
          'storage budget (STORAGE_BUDGET_MB); this write needs ' +
          `${mib(growth)} MiB more. Delete or shrink sessions, or raise the budget.`,
      );
    }
    this.storedBytes += growth;
    try {
      await write();
    } catch (error) {
      this.storedBytes -= growth;
      throw error;
    }
  }

  problems(): string[] {
    const problems: string[] = [];
    const now = performance.now();
    if (this.quarantinedAtStart.length > 0) {
      // Until a person has moved them out: looked at again once a second at
      // most, off the request (what it finds shows from the next answer on).
      if (now - this.quarantineLookedAt >= 1000) {
        this.quarantineLookedAt = now;
        void this.stillInQuarantine(this.quarantinedAtStart).then((files) => {
          this.quarantinedAtStart = files;
        });
      }
      const files = this.quarantinedAtStart;
      if (files.length > 0) {
        problems.push(
          `this start moved ${files.length} files it cannot use to quarantine/ (${files.slice(0, 3).join(', ')}${files.length > 3 ? ', …' : ''}): ` +
            'look at them, then delete them (the events say where each came from)',
        );
      }
    }
    if (this.dirty.size > 0 && now - this.checkpointed >= this.checkpointBehindMs) {
      problems.push(
        `no checkpoint has finished for ${Math.round((now - this.checkpointed) / 1000)} s: ` +
          `${this.dirty.size} changed sessions wait for their files to be written ` +
          '(durable in the journal; the next boot replays them)',
      );
    }
    const journalBytes = this.journal.bytes();
    if (
      journalBytes >= 2 * this.snapshotJournalBytes &&
      now - this.snapshotted >= this.checkpointBehindMs
    ) {
      problems.push(
        `no snapshot has finished for ${Math.round((now - this.snapshotted) / 1000)} s: ` +
          `the journal holds ${(journalBytes / (1024 * 1024)).toFixed(1)} MiB ` +
          '(durable; the next boot replays it all)',
      );
    }
    return problems;
  }

  /** Of `files` (relative to the data directory), those still there. */
  private async stillInQuarantine(files: readonly string[]): Promise<string[]> {
    const there = await Promise.all(
      files.map((file) =>
        lstat(join(this.layout.root, file)).then(
          () => true,
          () => false,
        ),
      ),
    );
    return files.filter((_, i) => there[i]);
  }

  /** Sessions changed whose files no checkpoint has started to write (see FileStoreOptions.checkpointBacklog). */
  checkpointBacklog(): number {
    return this.dirty.size;
  }

  storageUsage(): StorageUsage {
    return { bytes: this.storedBytes, budgetBytes: this.budgetBytes };
  }

  /**
   * Makes a change durable: its journal line (the commit), then its event,
   * then `apply` changes memory, all before the journal segment counts the
   * change finished (so a snapshot that rotated past the segment sees it).
   * If the event cannot be written, a revert line undoes the change (and
   * cancels the event) and the error is thrown; memory is changed only after
   * both, so reads never see a change in flight.
   */
  private async commit(
    change: JournalRecord,
    event: ServiceEvent,
    revert: JournalRecord,
    apply: () => void,
  ): Promise<void> {
    if (this.sealing) throw new StoppingError();
    const committing = this.commitChange(change, event, revert, apply);
    this.commitsInFlight.add(committing);
    try {
      await committing;
    } finally {
      this.commitsInFlight.delete(committing);
    }
  }

  private async commitChange(
    change: JournalRecord,
    event: ServiceEvent,
    revert: JournalRecord,
    apply: () => void,
  ): Promise<void> {
    // Writes never run further ahead of the checkpoints than the backlog
    // allows: past it a write waits until a checkpoint has written the
    // backlog's files, or fails with it.
    while (this.dirty.size >= this.maxBacklog) {
      // One checkpoint for all the writes waiting, reported once.
      this.backlogCheckpoint ??= this.checkpoint()
        .then(
          () => this.background.succeeded('checkpoint'),
          (error: unknown) => {
            this.background.failed('checkpoint', error);
            throw error;
          },
        )
        .finally(() => {
          this.backlogCheckpoint = null;
        });
      await this.backlogCheckpoint;
    }
    const segment = this.journal.segment();
    segment.begin();
    try {
      await segment.append({ ...change, event });
      try {
        await this.events.append(event, false); // durable in the journal until a snapshot
      } catch (error) {
        // If even the revert fails, the next boot appends the event instead.
        await cleanUpAfter(error, () => segment.append(revert));
        throw error;
      }
      apply();
      this.version++;
      const id = revert.op === 'put' ? revert.session.id : revert.id;
      const countedOnly =
        change.op === 'patch' && change.patch.name === undefined && change.patch.data === undefined;
      if (countedOnly && !this.dirty.has(id)) this.touched.add(id);
      else {
        this.dirty.add(id);
        this.touched.delete(id);
      }
    } finally {
      segment.end();
    }
    this.snapshotIfDue();
  }

  /**
   * Writes the file of every session changed since the last checkpoint, from
   * memory, without a sync of its own (the journal holds the changes until a
   * snapshot holds them durably in snapshot.jsonl; the files are a view).
   * Concurrent callers share a checkpoint.
   */
  checkpoint(): Promise<void> {
    return this.checkpointCommit.run();
  }

  /** Hands the sessions that lack only accesses counted to the next checkpoint. */
  private queueTouchedFiles(): void {
    for (const id of this.touched) this.dirty.add(id);
    this.touched.clear();
    this.touchedQueued = performance.now();
  }

  private async writeCheckpoint(): Promise<void> {
    this.lastCheckpoint = performance.now();
    const ids = this.dirty;
    const created = this.created;
    this.dirty = new Set();
    this.created = new Set();
    try {
      // A batch at a time (see unsynced-writes.ts), each from memory as it is now.
      let batch: UnsyncedWrite[] = [];
      let bytes = 0;
      for (const id of ids) {
        const resident = this.sessions.get(id);
        const content =
          resident === undefined
            ? null
            : formatSessionFile({ session: sessionOf(resident), seq: resident.seq });
        const target = this.sessionPath(id);
        const staleTemp = this.repairingView || this.tempsMaybeLeft.has(target);
        batch.push({ target, content, staleTemp, fresh: created.has(id) });
        bytes += content?.length ?? 0;
        if (batch.length >= CHECKPOINT_BATCH_FILES || bytes >= CHECKPOINT_BATCH_BYTES) {
          await this.writeCheckpointBatch(batch);
          batch = [];
          bytes = 0;
        }
      }
      await this.writeCheckpointBatch(batch);
      this.checkpointed = performance.now();
    } catch (error) {
      for (const id of ids) this.dirty.add(id);
      throw error;
    }
  }

  private async writeCheckpointBatch(batch: readonly UnsyncedWrite[]): Promise<void> {
    try {
      const setAside = await this.files.writeUnsynced(
        batch,
        this.spares,
        this.layout.quarantineDir,
      );
      // A symlink, FIFO or folder found at a session file's name: moved aside, never written through.
      for (const entry of setAside) {
        await this.log('session_quarantined', {
          file: relative(this.layout.root, entry.path),
          problem: entry.problem,
          saved_as: relative(this.layout.root, entry.savedAs),
        });
      }
    } catch (error) {
      // Which write failed is not known here; the next write of each removes its temp file.
      for (const write of batch) this.tempsMaybeLeft.add(write.target);
      throw error;
    }
    if (this.tempsMaybeLeft.size > 0) {
      for (const write of batch) this.tempsMaybeLeft.delete(write.target);
    }
  }

  /** Starts a snapshot in the background when the journal has grown past the threshold. */
  private snapshotIfDue(): void {
    if (this.snapshotRunning || this.journal.bytes() < this.snapshotJournalBytes) return;
    runInBackground(this.background, 'snapshot', () => this.snapshot());
  }

  /**
   * Writes every session to snapshot.jsonl, then deletes the journal
   * segments it covers (see snapshot.ts). Concurrent callers share one.
   */
  snapshot(): Promise<void> {
    const run = this.snapshotCommit.run();
    this.latestSnapshot = run;
    return run;
  }

  private async writeSnapshot(): Promise<void> {
    this.snapshotRunning = true;
    try {
      // After the rotation memory holds every change of the older segments.
      const journalFrom = await this.journal.rotate(this.events.size());
      const events = this.events.mark();
      await this.events.sync(); // the events up to the mark, durable before the segments go
      // The files of every session changed so far, written before the
      // segments go (unsynced: a kill keeps them; a machine that goes down
      // may not, and the next start writes them all again, see rebuildView).
      this.queueTouchedFiles();
      await this.checkpoint();
      await writeSnapshot(
        this.fileSystem,
        this.layout.snapshotFile,
        { journal_from: journalFrom, events },
        this.residentBatches(),
        () => this.files.syncDirectory(this.layout.root),
      );
      await this.journal.dropBefore(journalFrom);
      this.snapshotted = performance.now();
    } finally {
      this.snapshotRunning = false;
    }
  }

  /**
   * Writes every session's file again, a batch at a time through the
   * checkpoints (which never overlap), after the machine went down since
   * files were last written; then the marker stops asking for it.
   */
  private async rebuildView(
    bootId: string,
    progress: (message: string, detail: Record<string, unknown>) => void,
  ): Promise<void> {
    progress('the machine restarted since session files were written: writing them all again', {
      sessions: this.sessions.size,
    });
    // A power cut may also have brought back files of sessions deleted since
    // (an unlink is not synced either), or left temp files of their writes:
    // the checkpoint removes the file and temp file of every session that is
    // not live, as for a delete.
    for (const name of await readdirIfPresent(this.layout.sessionsDir)) {
      const file = name.endsWith(TEMP_SUFFIX) ? name.slice(0, -TEMP_SUFFIX.length) : name;
      const id = isSessionFileName(file) ? file.slice(0, -'.json'.length) : null;
      if (id !== null && isSessionId(id) && !this.sessions.has(id)) this.dirty.add(id);
    }
    let written = 0;
    this.repairingView = true;
    for await (const batch of this.residentBatches()) {
      if (this.closing) return;
      for (const resident of batch) this.dirty.add(resident.id);
      await this.checkpoint();
      written += batch.length;
      if (written % 100_000 < batch.length) progress('writing session files', { written });
    }
    this.repairingView = false;
    this.viewBootId = bootId;
    if (this.marker?.container === this.instanceId) await this.writeMarker(this.marker);
    progress('session files written again', { written });
  }

  /** The sessions in creation order, a batch at a time, whatever changes between batches. */
  private async *residentBatches(): AsyncGenerator<ResidentSession[]> {
    let cursor: CreationKey | null = null;
    for (;;) {
      const { keys, more } = this.order.page(cursor, SNAPSHOT_BATCH, false);
      if (keys.length > 0) yield keys as ResidentSession[];
      if (!more) return;
      cursor = keys.at(-1) ?? null;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  private requireSession(id: string): ResidentSession {
    const current = isSessionId(id) ? this.sessions.get(id) : undefined;
    if (current === undefined) throw sessionNotFound(id);
    return current;
  }

  private sessionPath(id: string): string {
    return join(this.layout.sessionsDir, sessionFileName(id));
  }

  /** Runs `task` after every earlier task on the same session has settled. */
  private async withSessionLock<T>(id: string, task: () => Promise<T>): Promise<T> {
    const previous = this.sessionLocks.get(id) ?? Promise.resolve();
    const current = previous.then(task, task);
    const settled = current.then(
      () => undefined,
      () => undefined,
    );
    this.sessionLocks.set(id, settled);
    try {
      return await current;
    } finally {
      if (this.sessionLocks.get(id) === settled) this.sessionLocks.delete(id);
    }
  }

  // Events

  /** An event of the store's own (what recovery found and mended). */
  private log(kind: EventKind, extra: EventExtra): Promise<void> {
    return this.appendEvent(makeEvent(kind, this.instanceId, extra));
  }

  appendEvent(event: ServiceEvent): Promise<void> {
    return this.events.append(event);
  }

  onEvent(listener: EventListener): () => void {
    return this.events.onEvent(listener);
  }

  recentEvents(limit: number): ServiceEvent[] {
    return this.events.tail(limit);
  }

  eventTail(limit: number): EventTail {
    return { events: this.events.tail(limit), count: this.events.count() };
  }

  async eventRange(from: number, to: number): Promise<EventTail> {
    const count = this.events.count();
    return { events: await this.events.range(Math.max(1, from), Math.min(to, count)), count };
  }

  eventCount(): number {
    return this.events.count();
  }

  // Counters

  stats(): Stats {
    return { ...this.counters };
  }

  private async updateStats(change: (current: Stats) => Partial<Stats>): Promise<Stats> {
    const before = { ...this.counters };
    Object.assign(this.counters, change(before));
    try {
      await this.statsCommit.run();
    } catch (error) {
      // Undo only what this change did; other counters moved on meanwhile.
      for (const key of Object.keys(before) as (keyof Stats)[]) {
        if (key !== 'total_requests' && this.counters[key] !== before[key]) {
          this.counters[key] = before[key];
        }
      }
      throw error;
    }
    return { ...this.counters };
  }

  countRequest(): void {
    this.counters.total_requests++;
  }

  flushStats(): Promise<void> {
    return this.statsCommit.run();
  }

  // The instance marker

  readMarker(): InstanceMarker | null {
    return this.marker;
  }

  private async writeMarker(marker: InstanceMarker): Promise<void> {
    const viewBootId = this.viewBootId;
    await this.files.write(
      this.layout.markerFile,
      formatMarker(marker, {
        viewBootId,
        sessionsBeforeLog: this.sessionsBeforeLog,
        seal: this.seal,
        adoptedThrough: this.adoptedThrough,
      }),
    );
    this.marker = marker;
    // A rebuild of the files that finished meanwhile must not be forgotten.
    if (this.viewBootId !== viewBootId) await this.writeMarker(marker);
  }

  // Instance accounting, by the marker (see domain/counters.ts)

  async startInstance(): Promise<InstanceStart> {
    const verdict = judgeStart(this.marker, this.stats());
    // The marker announces the counts before stats.json has them: a death in
    // between is made good by the next start (see judgeStart).
    await this.writeMarker({
      container: this.instanceId,
      pid: process.pid,
      started_at: utcTimestamp(),
      state: 'running',
      startup_count: verdict.startupCount,
      crash_count: verdict.crashCount,
    });
    await this.updateStats(() => ({
      startup_count: verdict.startupCount,
      crash_count: verdict.crashCount,
    }));
    if (verdict.detected !== null) {
      await this.appendEvent(
        crashDetectedEvent(this.instanceId, verdict.detected, verdict.crashCount),
      );
    }
    await this.appendEvent(startupEvent(this.instanceId, verdict));
    return {
      startupCount: verdict.startupCount,
      crashCount: verdict.crashCount,
      detected: verdict.detected === null ? [] : [verdict.detected],
    };
  }

  async recordCrash(): Promise<number> {
    const crashCount = this.counters.crash_count + 1;
    const marker = this.requireOwnMarker();
    await this.writeMarker({ ...marker, state: 'crashing', crash_count: crashCount });
    await this.updateStats(() => ({ crash_count: crashCount }));
    await this.appendEvent(crashTriggeredEvent(this.instanceId, crashCount));
    return crashCount;
  }

  async stopInstance(event: ServiceEvent): Promise<void> {
    await this.appendEvent(event);
    await this.writeMarker({ ...this.requireOwnMarker(), state: 'stopped' });
  }

  overview(): StoreOverview {
    return { stats: this.stats(), liveSessions: this.sessionCount(), liveInstances: 1 };
  }

  private requireOwnMarker(): InstanceMarker {
    if (this.marker?.container !== this.instanceId) {
      throw new Error('startInstance() has not run: this instance has no marker yet.');
    }
    return this.marker;
  }

  /**
   * Resolves once the session files a start after a kill or a machine
   * restart writes again (in the background) are all written and the spares
   * a kill left are removed, or that work ended early (a stop, a failure:
   * the next start does it again).
   */
  async viewRebuilt(): Promise<void> {
    await Promise.allSettled([this.viewRepair, this.viewRebuild]);
  }

  async close(): Promise<void> {
    clearInterval(this.requestFlushTimer);
    this.closing = true;
    // A snapshot or a rebuild of the files under way finishes first (how it
    // went was reported to the BackgroundReporter; the journal keeps what a
    // snapshot did not cover, the marker asks the next start to rebuild).
    await Promise.allSettled([this.latestSnapshot, this.viewRebuild, this.viewRepair]);
    try {
      // The files current; the journal keeps what no snapshot covers yet
      // (a stop writes no snapshot, so it takes seconds whatever came before).
      this.queueTouchedFiles();
      await this.checkpoint();
      await this.statsCommit.run();
      // Nothing else writes now. What a failure leaves, the next start removes.
      await removeSpareFiles(
        this.fileSystem,
        this.layout.spareDir,
        this.layout.quarantineDir,
      ).catch(() => undefined);
      // A clean stop seals what it leaves: the next start sees in O(1)
      // whether another program changed the directory since (directory-seal.ts).
      // Only files that hold every change may be sealed: from here on no
      // write commits (one still in flight after the shutdown timeout is
      // refused), and one that did since the checkpoint leaves no seal.
      this.sealing = true;
      await Promise.allSettled([...this.commitsInFlight]);
      const filesCurrent = this.dirty.size === 0 && this.touched.size === 0;
      if (this.marker?.state === 'stopped' && filesCurrent) {
        this.seal = takeSeal(this.layout);
        await this.writeMarker(this.marker);
      }
    } catch (error) {
      // What the checkpoint could not cover stays in the journal for the next boot.
      await cleanUpAfter(error, () => this.closeFiles());
      throw error;
    }
    await this.closeFiles();
  }

  /** Closes the journal and the event log (each, whatever the other does), then unlocks. */
  private async closeFiles(): Promise<void> {
    try {
      await this.journal.close();
    } finally {
      try {
        await this.events.close();
      } finally {
        this.lock.release();
      }
    }
  }
}

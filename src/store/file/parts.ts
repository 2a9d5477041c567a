/**
 * The parts a file store is made of (see file-store.ts for what each does),
 * how they are put together with their settings, and how they are closed.
 */

import { type EventExtra, type EventKind, makeEvent } from '../../domain/event.js';
import { KEEP_EVERYTHING, type RetentionPolicy } from '../../domain/retention.js';
import type { Clock } from '../../domain/time.js';
import { type BackgroundReporter, UNREPORTED } from '../store.js';
import type { ProgressReport } from './boot-progress.js';
import { Commits } from './commits.js';
import type { DurableFiles } from './durable-file.js';
import type { EventLog } from './event-log.js';
import type { WritableFileSystem } from './file-system.js';
import { type AccountingStart, InstanceAccounting } from './instance-accounting.js';
import type { InstanceLock } from './instance-lock.js';
import type { Journal } from './journal.js';
import type { DataLayout } from './layout.js';
import { MIN_DROP_BYTES } from './log-compaction.js';
import { SessionTable, type TableLoad } from './session-table.js';
import { DEFAULT_SPARE_FILES, SPARE_MIN_AGE_MS } from './spare-files.js';
import { WriteBehind } from './write-behind.js';

/** The journal size past which a snapshot is written (see FileStoreOptions.snapshotJournalBytes). */
const SNAPSHOT_JOURNAL_BYTES = 64 * 1024 * 1024;

export interface FileStoreOptions {
  /** The most the sessions' footprints may add up to (STORAGE_BUDGET_MB); no limit by default. */
  budgetBytes?: number;
  /** Now, in epoch ms (Date.now by default): what expiry is judged by; tests move it. */
  clock?: Clock;
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
  /** What events.jsonl keeps (EVENTS_RETAIN_*; everything by default): see log-compaction.ts. */
  retention?: RetentionPolicy;
  /** The least a compaction drops (MIN_DROP_BYTES; tests: less). */
  retentionMinDropBytes?: number;
  /** How often "starting" is reported while the boot runs (STARTUP_PROGRESS_MS; a second by default). */
  progressIntervalMs?: number;
}

/** The parts a file store is made of (see file-store.ts). */
export interface FileStoreParts {
  instanceId: string;
  layout: DataLayout;
  lock: InstanceLock;
  fileSystem: WritableFileSystem;
  files: DurableFiles;
  background: BackgroundReporter;
  /** What events.jsonl keeps, and the least a compaction drops (see log-compaction.ts). */
  retention: { policy: RetentionPolicy; minDropBytes: number };
  events: EventLog;
  journal: Journal;
  table: SessionTable;
  view: WriteBehind;
  instance: InstanceAccounting;
  commits: Commits;
  /** Logs an event of the store's own (what recovery found and mended). */
  log(kind: EventKind, extra: EventExtra): Promise<void>;
}

/** What the parts are built over: the directory, its open logs, and what the boot loaded. */
export interface Assembly {
  instanceId: string;
  lock: InstanceLock;
  layout: DataLayout;
  fileSystem: WritableFileSystem;
  files: DurableFiles;
  events: EventLog;
  journal: Journal;
  options: FileStoreOptions;
  /** The sessions loaded and the journal's changes on top. */
  load: TableLoad;
  /** Whether the session files already show the journal's changes (a sealed clean stop). */
  filesCurrent: boolean;
  /** Where events.jsonl stood when the snapshot the boot used was taken; null: none. */
  snapshotMark: number | null;
  accounting: AccountingStart;
}

/** Builds the store's parts, each with its settings (FileStoreOptions with the defaults filled in). */
export function assembleParts(assembly: Assembly): FileStoreParts {
  const { instanceId, layout, fileSystem, files, events, journal, options } = assembly;
  const background = options.background ?? UNREPORTED;
  const spareFiles = options.spareFiles ?? DEFAULT_SPARE_FILES;
  const table = new SessionTable(assembly.load, {
    budgetBytes: options.budgetBytes ?? Number.POSITIVE_INFINITY,
    minFreeBytes: options.minFreeBytes ?? 0,
    root: layout.root,
    clock: options.clock ?? Date.now,
  });
  const log = (kind: EventKind, extra: EventExtra) =>
    events.append(makeEvent(kind, instanceId, extra));
  const view = new WriteBehind(
    {
      layout,
      fileSystem,
      files,
      background,
      spares:
        spareFiles === 0
          ? null
          : {
              dir: layout.spareDir,
              maxFiles: spareFiles,
              minAgeMs: options.spareMinAgeMs ?? SPARE_MIN_AGE_MS,
            },
      maxBacklog: options.checkpointBacklog ?? Number.POSITIVE_INFINITY,
      checkpointBehindMs: options.checkpointBehindMs ?? 60_000,
      snapshotJournalBytes: options.snapshotJournalBytes ?? SNAPSHOT_JOURNAL_BYTES,
    },
    { table, journal, events, log },
  );
  view.snapshotMark = assembly.snapshotMark;
  // A clean stop left the files current; after a kill the boot rewrites them.
  if (!assembly.filesCurrent) for (const id of assembly.load.outcome.keys()) view.mustWrite(id);
  const instance = new InstanceAccounting(
    instanceId,
    { layout, files },
    assembly.accounting,
    (event) => events.append(event),
  );
  const commits = new Commits({ journal, events, table, view });
  const { lock } = assembly;
  return {
    ...{ instanceId, lock, layout, fileSystem, files, background },
    retention: {
      policy: options.retention ?? KEEP_EVERYTHING,
      minDropBytes: options.retentionMinDropBytes ?? MIN_DROP_BYTES,
    },
    ...{ events, journal, table, view, instance, commits, log },
  };
}

/** Closes the journal and the event log (each, whatever the other does), then unlocks. */
export async function closeParts(parts: FileStoreParts): Promise<void> {
  try {
    await parts.journal.close();
  } finally {
    try {
      await parts.events.close();
    } finally {
      parts.lock.release();
    }
  }
}

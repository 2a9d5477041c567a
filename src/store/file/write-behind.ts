/**
 * What the file store writes behind the journal, from memory: the session
 * files (the view the original's readers read) and the snapshot.
 *
 * - A checkpoint writes the file of every session changed since the last
 *   one (every five seconds, at a snapshot and at close), on a worker thread
 *   and without a sync (unsynced-writes.ts): the journal holds each change
 *   until a snapshot does. A file that lacks only accesses counted waits up
 *   to 30 s. A write never runs further ahead of the checkpoints than
 *   CHECKPOINT_BACKLOG sessions (waitForBacklog).
 * - A snapshot, once the journal passes SNAPSHOT_JOURNAL_KB, writes every
 *   session to snapshot.jsonl durably, then deletes the journal segments it
 *   covers (snapshot.ts).
 * - After a kill, a start rewrites the files of the sessions the journal
 *   replayed (repairAfterKill); after the machine itself went down, every
 *   file (rebuildAfterPowerCut): an unsynced write may not have survived.
 */
import { join, relative } from 'node:path';
import type { EventExtra, EventKind } from '../../domain/event.js';
import { isSessionId } from '../../domain/session.js';
import { type BackgroundReporter, runInBackground } from '../store.js';
import type { ProgressReport } from './boot-progress.js';
import type { DurableFiles } from './durable-file.js';
import type { EventLog } from './event-log.js';
import type { WritableFileSystem } from './file-system.js';
import type { Journal } from './journal.js';
import {
  type DataLayout,
  isSessionFileName,
  readdirIfPresent,
  sessionFileName,
  TEMP_SUFFIX,
} from './layout.js';
import { formatSessionFile } from './session-files.js';
import { type SessionTable, sessionOf } from './session-table.js';
import { SharedFlush } from './shared-flush.js';
import { writeSnapshot } from './snapshot.js';
import { removeSpareFiles, type SparePool } from './spare-files.js';
import type { UnsyncedWrite } from './unsynced-writes.js';

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

export interface WriteBehindSettings {
  layout: DataLayout;
  fileSystem: WritableFileSystem;
  files: DurableFiles;
  spares: SparePool | null;
  background: BackgroundReporter;
  /** CHECKPOINT_BACKLOG: changed sessions a write may run ahead of the checkpoints. */
  maxBacklog: number;
  /** How long changes may wait for a checkpoint (or the journal for a snapshot) before it is a problem. */
  checkpointBehindMs: number;
  /** SNAPSHOT_JOURNAL_KB: the journal size past which a snapshot is written. */
  snapshotJournalBytes: number;
}

/** What the write-behind reads and logs through. */
export interface WriteBehindSources {
  table: SessionTable;
  journal: Journal;
  events: EventLog;
  /** Logs an event of the store's own. */
  log(kind: EventKind, extra: EventExtra): Promise<void>;
}

export class WriteBehind {
  private readonly settings: WriteBehindSettings;
  private readonly sources: WriteBehindSources;
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
   * Whether checkpoints may meet temp files a kill or a power cut left: the
   * boot's first (after a kill) and those of a rebuild of the view. Their
   * writes remove them (see UnsyncedWrite.staleTemp).
   */
  private repairing = true;
  /** The boot's repair after a kill (repairAfterKill), and the rebuild after a power cut. */
  private viewRepair: Promise<void> = Promise.resolve();
  private viewRebuild: Promise<void> = Promise.resolve();
  /**
   * Session files of checkpoint batches that failed: the failed write may
   * have left its temp file (when even removing it failed), which the next
   * write of the file removes, though it may write a spare, not the temp file.
   */
  private readonly tempsMaybeLeft = new Set<string>();
  private readonly checkpoints: SharedFlush;
  private backlogCheckpoint: Promise<void> | null = null;
  /** When the last checkpoint started, and when the last one finished. */
  private lastCheckpoint = performance.now();
  private checkpointed = performance.now();
  private readonly snapshots: SharedFlush;
  /** Where events.jsonl stood (in its whole history) when the snapshot a boot would use was taken; null: none. */
  snapshotMark: number | null = null;
  private snapshotRunning = false;
  /** The snapshot last asked for (a stop waits for it to settle). */
  private latestSnapshot: Promise<void> = Promise.resolve();
  /** When the last snapshot finished (or the store opened). */
  private snapshotted = performance.now();
  private stopping = false;

  constructor(settings: WriteBehindSettings, sources: WriteBehindSources) {
    this.settings = settings;
    this.sources = sources;
    this.checkpoints = new SharedFlush(() => this.writeCheckpoint());
    this.snapshots = new SharedFlush(() => this.writeSnapshot());
  }

  /** Says that a committed change left `id`'s file behind. */
  changed(id: string, how: 'created' | 'changed' | 'counted'): void {
    if (how === 'counted' && !this.dirty.has(id)) {
      this.touched.add(id);
      return;
    }
    this.dirty.add(id);
    this.touched.delete(id);
    if (how === 'created') this.created.add(id);
  }

  /** Says that `id`'s file must be written again (or removed) by the next checkpoint. */
  mustWrite(id: string): void {
    this.dirty.add(id);
  }

  /** Says that `id`'s file already holds what memory does (another program wrote it). */
  alreadyWritten(id: string): void {
    this.dirty.delete(id);
    this.touched.delete(id);
  }

  /** Whether checkpoints may meet temp files a kill left (see `repairing`). */
  get repairingView(): boolean {
    return this.repairing;
  }

  /** Sessions changed whose files no checkpoint has started to write (see CHECKPOINT_BACKLOG). */
  backlog(): number {
    return this.dirty.size;
  }

  /** Whether every session file holds every change committed. */
  filesCurrent(): boolean {
    return this.dirty.size === 0 && this.touched.size === 0;
  }

  /**
   * Resolves once a write may go ahead: past the backlog a write waits until
   * a checkpoint has written the backlog's files, or fails with it.
   */
  async waitForBacklog(): Promise<void> {
    while (this.dirty.size >= this.settings.maxBacklog) {
      const { background } = this.settings;
      // One checkpoint for all the writes waiting, reported once.
      this.backlogCheckpoint ??= this.checkpoint()
        .then(
          () => background.succeeded('checkpoint'),
          (error: unknown) => {
            background.failed('checkpoint', error);
            throw error;
          },
        )
        .finally(() => {
          this.backlogCheckpoint = null;
        });
      await this.backlogCheckpoint;
    }
  }

  /** Once a second: the checkpoint and the snapshot that are due, in the background. */
  tick(): void {
    const now = performance.now();
    if (now - this.touchedQueued >= TOUCH_VIEW_INTERVAL_MS) this.queueTouchedFiles();
    if (this.dirty.size > 0 && now - this.lastCheckpoint >= CHECKPOINT_INTERVAL_MS) {
      runInBackground(this.settings.background, 'checkpoint', () => this.checkpoint());
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
    return this.checkpoints.run();
  }

  /** Starts a snapshot in the background when the journal has grown past the threshold. */
  snapshotIfDue(): void {
    if (this.snapshotRunning) return;
    if (this.sources.journal.bytes() < this.settings.snapshotJournalBytes) return;
    runInBackground(this.settings.background, 'snapshot', () => this.snapshot());
  }

  /**
   * Writes every session to snapshot.jsonl, then deletes the journal
   * segments it covers (see snapshot.ts). Concurrent callers share one.
   */
  snapshot(): Promise<void> {
    const run = this.snapshots.run();
    this.latestSnapshot = run;
    return run;
  }

  /**
   * After a kill: writes the files of the sessions the journal replayed (a
   * checkpoint a kill cut short left some behind, and temp files, which its
   * writes remove), then removes the spares the kill left, in the
   * background: the files are a view written behind, the journal holds every
   * change until a snapshot, whose own checkpoint comes after this one.
   */
  repairAfterKill(leftSpares: readonly string[], progress: ProgressReport): void {
    const rewriting = this.dirty.size;
    if (rewriting === 0) this.repairing = false;
    if (rewriting === 0 && leftSpares.length === 0) return;
    const { fileSystem, layout, background } = this.settings;
    this.viewRepair = runInBackground(background, 'checkpoint', async () => {
      if (rewriting > 0) {
        const started = performance.now();
        await this.checkpoint();
        this.repairing = false;
        progress('session files of the replayed journal written', {
          sessions: rewriting,
          seconds: Math.round(performance.now() - started) / 1000,
        });
      }
      await removeSpareFiles(fileSystem, layout.spareDir, layout.quarantineDir, leftSpares);
    });
  }

  /**
   * After the machine went down since files were last written: writes every
   * session's file again in the background, after the repair above (which
   * would end the rebuild's `repairing`), then calls `done`.
   */
  rebuildAfterPowerCut(progress: ProgressReport, done: () => Promise<void>): void {
    this.viewRebuild = this.viewRepair.then(() =>
      runInBackground(this.settings.background, 'checkpoint', () =>
        this.rebuildView(progress, done),
      ),
    );
  }

  /**
   * Resolves once the files a start after a kill or a machine restart writes
   * again are all written and the spares a kill left are removed, or that
   * work ended early (a stop, a failure: the next start does it again).
   */
  async rebuilt(): Promise<void> {
    await Promise.allSettled([this.viewRepair, this.viewRebuild]);
  }

  /** What keeps the write-behind from keeping up, in words for an operator. */
  problems(now: number): string[] {
    const problems: string[] = [];
    const { checkpointBehindMs, snapshotJournalBytes } = this.settings;
    if (this.dirty.size > 0 && now - this.checkpointed >= checkpointBehindMs) {
      problems.push(
        `no checkpoint has finished for ${Math.round((now - this.checkpointed) / 1000)} s: ` +
          `${this.dirty.size} changed sessions wait for their files to be written ` +
          '(durable in the journal; the next boot replays them)',
      );
    }
    const journalBytes = this.sources.journal.bytes();
    if (journalBytes >= 2 * snapshotJournalBytes && now - this.snapshotted >= checkpointBehindMs) {
      problems.push(
        `no snapshot has finished for ${Math.round((now - this.snapshotted) / 1000)} s: ` +
          `the journal holds ${(journalBytes / (1024 * 1024)).toFixed(1)} MiB ` +
          '(durable; the next boot replays it all)',
      );
    }
    return problems;
  }

  /**
   * A clean stop: a snapshot or a rebuild under way finishes first (how it
   * went was reported; the journal keeps what a snapshot did not cover, the
   * marker asks the next start to rebuild), then a last checkpoint leaves
   * every file current (a stop writes no snapshot, so it takes seconds
   * whatever came before). Then removeSpares.
   */
  async finish(): Promise<void> {
    this.stopping = true;
    await Promise.allSettled([this.latestSnapshot, this.viewRebuild, this.viewRepair]);
    this.queueTouchedFiles();
    await this.checkpoint();
  }

  /** Once nothing else writes (a clean stop): what a failure leaves, the next start removes. */
  async removeSpares(): Promise<void> {
    const { fileSystem, layout } = this.settings;
    await removeSpareFiles(fileSystem, layout.spareDir, layout.quarantineDir).catch(
      () => undefined,
    );
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
        // Held, not served: an expired session keeps its file until the sweep's
        // delete commits (a file gone with no delete in the journal is a
        // foreign delete to the next start, and a missing file to verify).
        const resident = this.sources.table.held.get(id);
        const content =
          resident === undefined
            ? null
            : formatSessionFile({ session: sessionOf(resident), seq: resident.seq });
        const target = join(this.settings.layout.sessionsDir, sessionFileName(id));
        const staleTemp = this.repairing || this.tempsMaybeLeft.has(target);
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
    const { files, spares, layout } = this.settings;
    try {
      const setAside = await files.writeUnsynced(batch, spares, layout.quarantineDir);
      // A symlink, FIFO or folder found at a session file's name: moved aside, never written through.
      for (const entry of setAside) {
        await this.sources.log('session_quarantined', {
          file: relative(layout.root, entry.path),
          problem: entry.problem,
          saved_as: relative(layout.root, entry.savedAs),
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

  private async writeSnapshot(): Promise<void> {
    const { journal, events, table } = this.sources;
    const { fileSystem, files, layout } = this.settings;
    this.snapshotRunning = true;
    try {
      // After the rotation memory holds every change of the older segments.
      const journalFrom = await journal.rotate(events.size());
      const mark = events.mark();
      await events.sync(); // the events up to the mark, durable before the segments go
      // The files of every session changed so far, written before the
      // segments go (unsynced: a kill keeps them; a machine that goes down
      // may not, and the next start writes them all again, see rebuildView).
      this.queueTouchedFiles();
      await this.checkpoint();
      await writeSnapshot(
        fileSystem,
        layout.snapshotFile,
        { journal_from: journalFrom, events: mark },
        table.residentBatches(),
        () => files.syncDirectory(layout.root),
      );
      this.snapshotMark = mark.offset;
      await journal.dropBefore(journalFrom);
      this.snapshotted = performance.now();
    } finally {
      this.snapshotRunning = false;
    }
  }

  /**
   * Writes every session's file again, a batch at a time through the
   * checkpoints (which never overlap), then calls `done`; a stop cuts it
   * short (the next start does it again).
   */
  private async rebuildView(progress: ProgressReport, done: () => Promise<void>): Promise<void> {
    const { table } = this.sources;
    const { sessionsDir } = this.settings.layout;
    progress('the machine restarted since session files were written: writing them all again', {
      sessions: table.size,
    });
    // A power cut may also have brought back files of sessions deleted since
    // (an unlink is not synced either), or left temp files of their writes:
    // the checkpoint removes the file and temp file of every session that is
    // not live, as for a delete.
    for (const name of await readdirIfPresent(sessionsDir)) {
      const file = name.endsWith(TEMP_SUFFIX) ? name.slice(0, -TEMP_SUFFIX.length) : name;
      const id = isSessionFileName(file) ? file.slice(0, -'.json'.length) : null;
      if (id !== null && isSessionId(id) && !table.has(id)) this.dirty.add(id);
    }
    let written = 0;
    this.repairing = true;
    for await (const batch of table.residentBatches()) {
      if (this.stopping) return;
      for (const resident of batch) this.dirty.add(resident.id);
      await this.checkpoint();
      written += batch.length;
      if (written % 100_000 < batch.length) progress('writing session files', { written });
    }
    this.repairing = false;
    await done();
    progress('session files written again', { written });
  }
}

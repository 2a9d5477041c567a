/**
 * The file store: the data directory as the original laid it out, made
 * durable. Opening it takes the directory's lock, then recovers what a crash
 * can leave behind (stray temp files, a torn event-log tail, unreadable
 * files, journal segments to roll forward) and loads sessions and the recent
 * events into memory. From then on reads come from memory and every write is
 * on disk before it resolves:
 *
 *   create, update, delete   the change's journal line (appended and
 *                            fdatasynced with the others of its batch), then
 *                            its event line, appended to events.jsonl without
 *                            a sync of its own (the journal line holds the
 *                            event until a checkpoint syncs the log);
 *                            serialised per session
 *
 * Session files are written behind from memory by checkpoints (every five
 * seconds and at close), after which the journal segments they cover are
 * deleted; see journal.ts. An event in the log therefore always describes a
 * committed change, and a committed change whose event a kill cut off gets it
 * at the next boot. Counters that change with every request (total_requests)
 * or every create (total_sessions) reach stats.json lazily, within a second;
 * total_sessions is recounted from the durable `session_created` events at boot.
 *
 * Every session is held in memory, so their total footprint (see
 * domain/footprint.ts) is kept under a budget: a create or an update that
 * would grow it past the budget is refused before anything is written.
 */

import { mkdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { EMPTY_STATS, type InstanceMarker, judgeStart, type Stats } from '../../domain/counters.js';
import { InvalidInputError, StorageBudgetError } from '../../domain/errors.js';
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
  SEARCH_SCAN_LIMIT,
} from '../../domain/page.js';
import { isSessionId, type Session, sessionNotFound } from '../../domain/session.js';
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
import { forEachConcurrently } from './concurrently.js';
import { CreationIndex } from './creation-index.js';
import { DurableFiles } from './durable-file.js';
import { EventLog } from './event-log.js';
import { nodeFileSystem, type WritableFileSystem } from './file-system.js';
import { GroupCommit } from './group-commit.js';
import { acquireInstanceLock, type InstanceLock } from './instance-lock.js';
import { formatMarker, readMarker } from './instance-marker.js';
import { Journal, type JournalRecord } from './journal.js';
import { type DataLayout, dataLayout, sessionFileName } from './layout.js';
import { type RecoveryReport, recoverDataDirectory } from './recovery.js';
import {
  type CreationKey,
  formatSessionFile,
  quarantineFile,
  type StoredSession,
} from './session-files.js';
import { formatStats, readStats } from './stats-file.js';

/** How far behind `total_requests` and `total_sessions` on disk may fall. */
const LAZY_FLUSH_INTERVAL_MS = 1000;
/**
 * How far behind the journal session files may fall (checkpoints write them).
 * Longer coalesces more updates of a session into one file write; the
 * journal to replay after a kill grows with it.
 */
const CHECKPOINT_INTERVAL_MS = 5000;
/** A journal segment this large is checkpointed at once rather than at the next tick. */
const CHECKPOINT_SEGMENT_BYTES = 16 * 1024 * 1024;
/** Session files a checkpoint writes at the same time. */
const CHECKPOINT_CONCURRENCY = 4;

/** A session's place in the creation order: immutable, and small (it shares the strings). */
function creationKey(entry: StoredSession): CreationKey {
  return {
    seq: entry.seq,
    session: { id: entry.session.id, created_at: entry.session.created_at },
  };
}

/** A cursor's position: [seq], or [created_at, id] for a session the original wrote. */
function cursorOf(key: CreationKey): (string | number)[] {
  return key.seq === undefined ? [key.session.created_at, key.session.id] : [key.seq];
}

function cursorKey(position: (string | number)[]): CreationKey {
  const [first, second] = position;
  if (typeof first === 'number' && second === undefined) {
    return { seq: first, session: { id: '', created_at: '' } };
  }
  if (typeof first === 'string' && typeof second === 'string') {
    return { seq: undefined, session: { created_at: first, id: second } };
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
}

export interface OpenedFileStore {
  store: FileStore;
  recovery: BootRecoveryReport;
}

export class FileStore implements Store {
  private readonly sessions = new Map<string, StoredSession>();
  /** The sessions' creation order, seekable, for pages. */
  private readonly order = new CreationIndex();
  /** Bumped by every change of a session (see sessionsVersion). */
  private version = 0;
  private readonly sessionLocks = new Map<string, Promise<unknown>>();
  private readonly statsCommit: GroupCommit;
  /** The counters as stats.json last received them. */
  private flushed: Stats;
  private readonly requestFlushTimer: NodeJS.Timeout;
  /** Sessions changed since the last checkpoint took its snapshot. */
  private dirty = new Set<string>();
  /** Writes waiting for a checkpoint to take the backlog over (see commit). */
  private readonly backlogWaiters: (() => void)[] = [];
  private backlogCheckpoint: Promise<void> | null = null;
  private readonly checkpointCommit: GroupCommit;
  /** When the last checkpoint started, and when the last one finished. */
  private lastCheckpoint = performance.now();
  private checkpointed = performance.now();
  private nextSeq: number;
  private marker: InstanceMarker | null;
  /** The sessions' footprints added up, reservations for writes in flight included. */
  private storedBytes = 0;

  private constructor(
    readonly instanceId: string,
    private readonly layout: DataLayout,
    private readonly lock: InstanceLock,
    private readonly files: DurableFiles,
    private readonly events: EventLog,
    private readonly journal: Journal,
    private readonly counters: Stats,
    stored: StoredSession[],
    marker: InstanceMarker | null,
    private readonly budgetBytes: number,
    private readonly background: BackgroundReporter,
    private readonly checkpointBehindMs: number,
    private readonly maxBacklog: number,
  ) {
    let maxSeq = 0;
    for (const entry of stored) {
      this.sessions.set(entry.session.id, entry);
      this.order.add(creationKey(entry));
      // What was stored is loaded whatever the budget says now: it only stops growth.
      this.storedBytes += sessionFootprint(entry.session);
      if (entry.seq !== undefined && entry.seq > maxSeq) maxSeq = entry.seq;
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
    this.requestFlushTimer = setInterval(() => {
      const { total_requests, total_sessions } = this.counters;
      if (
        total_requests !== this.flushed.total_requests ||
        total_sessions !== this.flushed.total_sessions
      ) {
        // Retried on the next tick.
        runInBackground(this.background, 'stats_flush', () => this.statsCommit.run());
      }
      if (
        this.journal.hasChanges() &&
        performance.now() - this.lastCheckpoint >= CHECKPOINT_INTERVAL_MS
      ) {
        runInBackground(this.background, 'checkpoint', () => this.checkpoint());
      }
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
    await mkdir(layout.root, { recursive: true });
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
    const { recovery, sessions, eventLog: scan } = await recoverDataDirectory(layout);
    let statsRecovered: string | null = null;

    const statsRead = await readStats(layout.statsFile);
    let stats: Stats = { ...EMPTY_STATS };
    if (statsRead.kind === 'ok') stats = statsRead.stats;
    if (statsRead.kind === 'corrupt') {
      const savedAs = await quarantineFile(layout.statsFile, layout.quarantineDir, 'stats.json');
      statsRecovered = `stats.json was unreadable (${statsRead.problem}); moved to ${relative(layout.root, savedAs)}`;
    }
    // stats.json gets total_sessions lazily; every create's event is durable
    // before it is acknowledged, so the log recounts what a crash cut short.
    // Never report fewer sessions created than exist, either.
    stats.total_sessions = Math.max(stats.total_sessions, scan.createdEvents, sessions.length);

    const markerRead = await readMarker(layout.markerFile);
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

    const events = await EventLog.open(fileSystem, layout.eventsFile, scan);
    let journal: Journal;
    try {
      journal = await Journal.start(fileSystem, files, layout.journalDir, events.size());
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
      sessions,
      marker,
      options.budgetBytes ?? Number.POSITIVE_INFINITY,
      options.background ?? UNREPORTED,
      options.checkpointBehindMs ?? 60_000,
      options.checkpointBacklog ?? Number.POSITIVE_INFINITY,
    );
    const report: BootRecoveryReport = { ...recovery, statsRecovered };
    await store.logRecovery(report);
    return { store, recovery: report };
  }

  private async logRecovery(recovery: BootRecoveryReport): Promise<void> {
    if (recovery.eventLogRepair !== null) {
      await this.log('log_repaired', {
        bytes_removed: recovery.eventLogRepair.bytesRemoved,
        saved_as: recovery.eventLogRepair.savedAs,
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
      });
    }
  }

  // Sessions

  async insertSession(session: Session, event: ServiceEvent): Promise<void> {
    const stored: StoredSession = { session, seq: this.nextSeq++ };
    const { id } = session;
    await this.withBudget(sessionFootprint(session), () =>
      this.commit({ op: 'put', session, seq: stored.seq }, event, {
        op: 'delete',
        id,
        revert: true,
      }),
    );
    // Its durable event is what counts the session: boot recounts total_sessions
    // from the log, so stats.json may catch up lazily without losing an increment.
    this.counters.total_sessions++;
    this.sessions.set(id, stored);
    this.order.add(creationKey(stored));
    this.version++;
  }

  getSession(id: string): Session | undefined {
    if (!isSessionId(id)) return undefined;
    return this.sessions.get(id)?.session;
  }

  /** Every session, in creation order. */
  listSessions(): readonly Session[] {
    return Array.from(this.sessions.values(), (entry) => entry.session);
  }

  async *sessionBatches(batchSize: number): AsyncIterable<readonly Session[]> {
    // The references are copied at once (8 bytes a session): the listing is
    // the store as of the request, whatever changes while it is sent.
    const snapshot = this.listSessions();
    for (let start = 0; start < snapshot.length; start += batchSize) {
      yield snapshot.slice(start, start + batchSize);
    }
  }

  sessionPage(query: PageQuery): Page<Session> {
    const after = query.after === null ? null : cursorKey(decodeCursor(query.after));
    const sessionOf = (key: CreationKey) =>
      (this.sessions.get(key.session.id) as StoredSession).session;
    const { search } = query;
    // A search looks at no more than SEARCH_SCAN_LIMIT sessions a page.
    const { keys, last, more } = this.order.scan(
      after,
      query.limit,
      query.newestFirst,
      search === null ? Number.POSITIVE_INFINITY : SEARCH_SCAN_LIMIT,
      (key) => search === null || matchesSearch(sessionOf(key), search),
    );
    return {
      items: keys.map(sessionOf),
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
    change: (current: Session) => Session,
    event: ServiceEvent,
  ): Promise<Session> {
    return this.withSessionLock(id, async () => {
      const current = this.requireSession(id);
      const next: StoredSession = { session: change(current.session), seq: current.seq };
      const growth = footprintGrowth(current.session, next.session);
      await this.withBudget(growth, () =>
        this.commit({ op: 'put', session: next.session, seq: next.seq }, event, {
          op: 'put',
          session: current.session,
          seq: current.seq,
          revert: true,
        }),
      );
      this.sessions.set(id, next);
      this.version++;
      return next.session;
    });
  }

  removeSession(id: string, event: ServiceEvent): Promise<void> {
    return this.withSessionLock(id, async () => {
      const current = this.requireSession(id);
      await this.commit({ op: 'delete', id }, event, {
        op: 'put',
        session: current.session,
        seq: current.seq,
        revert: true,
      });
      this.sessions.delete(id);
      this.order.remove(creationKey(current));
      this.version++;
      this.storedBytes -= sessionFootprint(current.session);
    });
  }

  /**
   * Runs `write` with `growth` bytes of the budget reserved, refusing it
   * first if they do not fit; a failed write gives them back. Shrinking is
   * always allowed, so a full store can still be mended.
   */
  private async withBudget(growth: number, write: () => Promise<void>): Promise<void> {
    if (growth > 0 && this.storedBytes + growth > this.budgetBytes) {
      const mib = (bytes: number) => (bytes / (1024 * 1024)).toFixed(1);
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
    const behind = performance.now() - this.checkpointed;
    if (!this.journal.hasChanges() || behind < this.checkpointBehindMs) return [];
    const mib = (this.journal.bytes() / (1024 * 1024)).toFixed(1);
    return [
      `no checkpoint has finished for ${Math.round(behind / 1000)} s: ${mib} MiB of changes ` +
        'wait in the journal (durable; the next boot replays them)',
    ];
  }

  /** Sessions changed since the last checkpoint took its snapshot (see checkpointBacklog). */
  checkpointBacklog(): number {
    return this.dirty.size;
  }

  storageUsage(): StorageUsage {
    return { bytes: this.storedBytes, budgetBytes: this.budgetBytes };
  }

  /**
   * Makes a change durable: its journal line (the commit), then its event.
   * If the event cannot be written, a revert line undoes the change (and
   * cancels the event) and the error is thrown; memory is changed by the
   * caller only after this resolves, so reads never see a change in flight.
   */
  private async commit(
    change: JournalRecord,
    event: ServiceEvent,
    revert: JournalRecord,
  ): Promise<void> {
    // Writes never run further ahead of the checkpoints than the backlog
    // allows: past it a write waits until a checkpoint has taken the backlog
    // over (it then writes those files while new writes go on), or fails with
    // it. Before the segment is begun: a checkpoint waits for writes in flight.
    while (this.dirty.size >= this.maxBacklog) {
      const takenOver = new Promise<void>((resolve) => this.backlogWaiters.push(resolve));
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
      await Promise.race([takenOver, this.backlogCheckpoint]);
    }
    const segment = this.journal.segment();
    segment.begin();
    try {
      await segment.append({ ...change, event });
      try {
        await this.events.append(event, false); // durable in the journal until the checkpoint
      } catch (error) {
        // If even the revert fails, the next boot appends the event instead.
        await cleanUpAfter(error, () => segment.append(revert));
        throw error;
      }
      this.dirty.add(revert.op === 'put' ? revert.session.id : revert.id);
    } finally {
      segment.end();
    }
    if (segment.size() > CHECKPOINT_SEGMENT_BYTES) {
      runInBackground(this.background, 'checkpoint', () => this.checkpoint());
    }
  }

  /**
   * Writes every session changed since the last checkpoint to its file,
   * durably, from memory, then deletes the journal segments that held the
   * changes. Concurrent callers share a checkpoint.
   */
  checkpoint(): Promise<void> {
    return this.checkpointCommit.run();
  }

  private async writeCheckpoint(): Promise<void> {
    this.lastCheckpoint = performance.now();
    await this.journal.rotate(this.events.size());
    await this.events.sync(); // the retiring segments' events, durable before the segments go
    const ids = this.dirty;
    this.dirty = new Set();
    for (const resolve of this.backlogWaiters.splice(0)) resolve();
    try {
      // Each file is fsynced; the renames and unlinks in sessions/ are made
      // durable together, by one fsync of the directory, before the journal
      // segments that held the changes go.
      const unsynced = { syncDirectory: false };
      await forEachConcurrently(ids, CHECKPOINT_CONCURRENCY, async (id) => {
        const stored = this.sessions.get(id);
        const file = this.sessionPath(id);
        if (stored === undefined) await this.files.removeIfPresent(file, unsynced);
        else await this.files.write(file, formatSessionFile(stored), unsynced);
      });
      await this.files.syncDirectory(this.layout.sessionsDir);
      await this.journal.dropRetired();
      this.checkpointed = performance.now();
    } catch (error) {
      for (const id of ids) this.dirty.add(id);
      throw error;
    }
  }

  private requireSession(id: string): StoredSession {
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
    await this.files.write(this.layout.markerFile, formatMarker(marker));
    this.marker = marker;
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

  async close(): Promise<void> {
    clearInterval(this.requestFlushTimer);
    try {
      await this.checkpoint();
      await this.statsCommit.run();
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

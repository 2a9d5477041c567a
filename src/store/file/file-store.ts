/**
 * The file store: the data directory as the original laid it out, made
 * durable. Opening it takes the directory's lock, then recovers what a crash
 * can leave behind (stray temp files, a torn event-log tail, unreadable
 * files) and loads sessions and the recent events into memory. From then on
 * reads come from memory and every write is on disk before it resolves:
 *
 *   create  session file (temp, fsync, rename, dir fsync), then the
 *           `session_created` event line (appended and fsynced)
 *   update  the session file, then `session_updated`; serialised per session
 *   delete  unlink and dir fsync, then `session_deleted`; serialised per session
 *
 * An event in the log therefore always describes a change that is on disk.
 * Counters that change with every request (total_requests) or every create
 * (total_sessions) reach stats.json lazily, within a second; total_sessions
 * is recounted from the durable `session_created` events at boot.
 */
import { mkdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { EMPTY_STATS, type InstanceMarker, type Stats } from '../../domain/counters.js';
import {
  type EventExtra,
  type EventKind,
  makeEvent,
  type ServiceEvent,
} from '../../domain/event.js';
import {
  applyUpdate,
  createSession,
  isSessionId,
  type Session,
  type SessionInput,
  sessionNotFound,
} from '../../domain/session.js';
import type { Store } from '../store.js';
import { DurableFiles } from './durable-file.js';
import { EventLog } from './event-log.js';
import { nodeFileSystem, type WritableFileSystem } from './file-system.js';
import { GroupCommit } from './group-commit.js';
import { acquireInstanceLock, type InstanceLock } from './instance-lock.js';
import { formatMarker, readMarker } from './instance-marker.js';
import { type DataLayout, dataLayout, sessionFileName } from './layout.js';
import { type RecoveryReport, recoverDataDirectory } from './recovery.js';
import { formatSessionFile, quarantineFile, type StoredSession } from './session-files.js';
import { formatStats, readStats } from './stats-file.js';

/** How far behind `total_requests` and `total_sessions` on disk may fall. */
const LAZY_FLUSH_INTERVAL_MS = 1000;

/** What opening the directory found and mended; each entry is also logged as an event. */
export interface BootRecoveryReport extends RecoveryReport {
  statsRecovered: string | null;
}

export interface OpenedFileStore {
  store: FileStore;
  recovery: BootRecoveryReport;
}

export class FileStore implements Store {
  private readonly sessions = new Map<string, StoredSession>();
  private version = 0;
  private readonly sessionLocks = new Map<string, Promise<unknown>>();
  private readonly statsCommit: GroupCommit;
  /** The counters as stats.json last received them. */
  private flushed: Stats;
  private readonly requestFlushTimer: NodeJS.Timeout;
  private nextSeq: number;
  private marker: InstanceMarker | null;

  private constructor(
    readonly instanceId: string,
    private readonly layout: DataLayout,
    private readonly lock: InstanceLock,
    private readonly files: DurableFiles,
    private readonly events: EventLog,
    private readonly counters: Stats,
    stored: StoredSession[],
    marker: InstanceMarker | null,
  ) {
    let maxSeq = 0;
    for (const entry of stored) {
      this.sessions.set(entry.session.id, entry);
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
    this.requestFlushTimer = setInterval(() => {
      const { total_requests, total_sessions } = this.counters;
      if (
        total_requests !== this.flushed.total_requests ||
        total_sessions !== this.flushed.total_sessions
      ) {
        this.statsCommit.run().catch(() => undefined); // retried on the next tick
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

    const events = await EventLog.open(
      fileSystem,
      layout.eventsFile,
      scan.validEnd,
      scan.count,
      scan.tail,
    );
    const store = new FileStore(instanceId, layout, lock, files, events, stats, sessions, marker);
    const report: BootRecoveryReport = { ...recovery, statsRecovered };
    await store.logRecovery(report);
    return { store, recovery: report };
  }

  private async logRecovery(recovery: BootRecoveryReport): Promise<void> {
    if (recovery.eventLogRepair !== null) {
      await this.recordEvent('log_repaired', {
        bytes_removed: recovery.eventLogRepair.bytesRemoved,
        saved_as: recovery.eventLogRepair.savedAs,
      });
    }
    for (const entry of recovery.quarantined) {
      await this.recordEvent('session_quarantined', {
        file: entry.file,
        problem: entry.problem,
        saved_as: entry.savedAs,
      });
    }
    if (recovery.statsRecovered !== null) {
      await this.recordEvent('stats_recovered', { detail: recovery.statsRecovered });
    }
  }

  // Sessions

  async createSession(input: SessionInput): Promise<Session> {
    const stored: StoredSession = { session: createSession(input), seq: this.nextSeq++ };
    const { id, name } = stored.session;
    const file = this.sessionPath(id);
    await this.files.write(file, formatSessionFile(stored));
    try {
      await this.events.append(this.event('session_created', { session_id: id, name }));
    } catch (error) {
      await this.files.remove(file).catch(() => undefined); // the session never existed
      throw error;
    }
    // Its durable event is what counts the session: boot recounts total_sessions
    // from the log, so stats.json may catch up lazily without losing an increment.
    this.counters.total_sessions++;
    this.sessions.set(id, stored);
    this.version++;
    return stored.session;
  }

  getSession(id: string): Session | undefined {
    if (!isSessionId(id)) return undefined;
    return this.sessions.get(id)?.session;
  }

  listSessions(): readonly Session[] {
    return Array.from(this.sessions.values(), (entry) => entry.session);
  }

  sessionsVersion(): number {
    return this.version;
  }

  sessionCount(): number {
    return this.sessions.size;
  }

  updateSession(id: string, input: SessionInput): Promise<Session> {
    return this.withSessionLock(id, async () => {
      const current = this.requireSession(id);
      const next: StoredSession = {
        session: applyUpdate(current.session, input),
        seq: current.seq,
      };
      const file = this.sessionPath(id);
      await this.files.write(file, formatSessionFile(next));
      try {
        await this.events.append(this.event('session_updated', { session_id: id }));
      } catch (error) {
        await this.files.write(file, formatSessionFile(current)).catch(() => undefined);
        throw error;
      }
      this.sessions.set(id, next);
      this.version++;
      return next.session;
    });
  }

  deleteSession(id: string): Promise<void> {
    return this.withSessionLock(id, async () => {
      const current = this.requireSession(id);
      const file = this.sessionPath(id);
      await this.files.remove(file);
      try {
        await this.events.append(this.event('session_deleted', { session_id: id }));
      } catch (error) {
        await this.files.write(file, formatSessionFile(current)).catch(() => undefined);
        throw error;
      }
      this.sessions.delete(id);
      this.version++;
    });
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

  private event(kind: EventKind, extra: EventExtra = {}): ServiceEvent {
    return makeEvent(kind, this.instanceId, extra);
  }

  recordEvent(kind: EventKind, extra: EventExtra = {}): Promise<void> {
    return this.events.append(this.event(kind, extra));
  }

  recentEvents(limit: number): ServiceEvent[] {
    return this.events.tail(limit);
  }

  eventCount(): number {
    return this.events.count();
  }

  // Counters

  stats(): Stats {
    return { ...this.counters };
  }

  async updateStats(change: (current: Stats) => Partial<Stats>): Promise<Stats> {
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

  async writeMarker(marker: InstanceMarker): Promise<void> {
    await this.files.write(this.layout.markerFile, formatMarker(marker));
    this.marker = marker;
  }

  async close(): Promise<void> {
    clearInterval(this.requestFlushTimer);
    try {
      await this.statsCommit.run();
      await this.events.close();
    } finally {
      this.lock.release();
    }
  }
}

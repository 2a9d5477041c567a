/**
 * The file store: the data directory as the original laid it out, made
 * durable. This is its face to the service (the Store port); the work is
 * done by its parts, each one job:
 *
 *   opening.ts             take the lock, recover, load, adopt others'
 *                          changes (foreign-adoption.ts): how a start goes
 *   session-table.ts       the sessions in memory: map, creation order,
 *                          pages, the storage budget, a lock a session
 *   commits.ts             a change (or a session's batch of them) made
 *                          durable: journal lines, events, memory, in
 *                          that order
 *   expiry-sweep.ts        removes expired sessions (due-sessions.ts
 *                          knows which), each as a delete
 *   write-behind.ts        what is written behind the journal: session
 *                          files (checkpoints), snapshot.jsonl
 *   instance-accounting.ts stats.json and instance.json: starts, crashes,
 *                          stops, the seal a clean stop leaves
 *
 * Reads come from memory; every write is on disk before it resolves (its
 * journal line fdatasynced with the others of its batch). Session files are
 * a view written behind, within five seconds; a snapshot, once the journal
 * has grown past a threshold, makes every session durable in snapshot.jsonl
 * and deletes the segments it covers. A boot reads the snapshot and replays
 * the journal after it (snapshot-boot.ts); it reads every session file only when
 * no snapshot can be used. docs/architecture.md follows a write through these
 * parts.
 */
import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ServiceEvent } from '../../domain/event.js';
import { footprintGrowth } from '../../domain/footprint.js';
import type { Page, PageQuery } from '../../domain/page.js';
import {
  countsOnly,
  type Session,
  type SessionChange,
  type SessionJson,
  sessionNotFound,
} from '../../domain/session.js';
import { cleanUpAfter } from '../cleanup.js';
import {
  type EventListener,
  type EventTail,
  type InProcessFacts,
  type InstanceStart,
  runInBackground,
  type Store,
  type StoreOverview,
} from '../store.js';
import type { Change } from './commits.js';
import type { EventLog } from './event-log.js';
import { ExpirySweep } from './expiry-sweep.js';
import { nodeFileSystem, type WritableFileSystem } from './file-system.js';
import type { InstanceAccounting } from './instance-accounting.js';
import { LogRetention } from './log-compaction.js';
import { type BootRecoveryReport, openDirectory } from './opening.js';
import { closeParts, type FileStoreOptions, type FileStoreParts } from './parts.js';
import { type SessionTable, sessionOf } from './session-table.js';
import type { ResidentSession } from './snapshot.js';
import type { WriteBehind } from './write-behind.js';

export type { BootRecoveryReport } from './opening.js';
export type { FileStoreOptions } from './parts.js';

/** A change of a session waiting for its lock (see changeSession). */
interface QueuedChange {
  id: string;
  change: (current: Session) => SessionChange | null;
  event: ServiceEvent;
  resolve(session: Session): void;
  reject(error: unknown): void;
}

/** How far behind `total_requests` and `total_sessions` on disk may fall; how often write-behind looks what is due. */
const TICK_MS = 1000;
/** How often the files a start moved to quarantine/ are looked at again, at most. */
const QUARANTINE_LOOK_MS = 1000;

export interface OpenedFileStore {
  store: FileStore;
  recovery: BootRecoveryReport;
}

export class FileStore implements Store {
  readonly instanceId: string;
  /** The sessions in memory (tests and tools read them here). */
  readonly table: SessionTable;
  /** Checkpoints and snapshots (tests run them here). */
  readonly writeBehind: WriteBehind;
  /** The counters and the instance marker. */
  readonly instance: InstanceAccounting;
  /** events.jsonl. */
  readonly events: EventLog;
  readonly inProcess: InProcessFacts;
  private readonly parts: FileStoreParts;
  private readonly ticker: NodeJS.Timeout;
  /** Removes the sessions that have expired (see expiry-sweep.ts). */
  private readonly sweep: ExpirySweep;
  /** Drops the event log's head as the retention policy asks (see log-compaction.ts). */
  readonly retention: LogRetention;
  /** Files this start moved to quarantine/, and when it last looked whether they are still there. */
  private quarantinedAtStart: string[];
  private quarantineLookedAt = 0;

  private constructor(parts: FileStoreParts, quarantined: string[]) {
    this.parts = parts;
    this.instanceId = parts.instanceId;
    this.table = parts.table;
    this.writeBehind = parts.view;
    this.instance = parts.instance;
    this.events = parts.events;
    this.quarantinedAtStart = quarantined;
    this.inProcess = {
      sessionsVersion: () => this.table.version,
      storageUsage: () => this.table.usage(),
      problems: () => this.problems(),
    };
    this.ticker = setInterval(() => {
      const flushing = this.instance.flushIfBehind();
      // Retried on the next tick.
      if (flushing !== null) runInBackground(parts.background, 'stats_flush', () => flushing);
      this.writeBehind.tick();
      this.retention.tick();
    }, TICK_MS);
    this.ticker.unref();
    this.sweep = new ExpirySweep({
      table: this.table,
      instanceId: this.instanceId,
      background: parts.background,
      clock: this.table.clock,
      remove: (resident, event) => this.remove(resident, event, true),
    });
    this.retention = new LogRetention({
      log: parts.events,
      layout: parts.layout,
      fileSystem: parts.fileSystem,
      files: parts.files,
      ...parts.retention,
      clock: this.table.clock,
      instanceId: this.instanceId,
      background: parts.background,
      // A boot replays the journal's segments and reads the log after its snapshot's point.
      keepFrom: () =>
        Math.min(parts.journal.eventsFrom(), parts.view.snapshotMark ?? Number.POSITIVE_INFINITY),
    });
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
    const opened = await openDirectory(dataDir, instanceId, fileSystem, options);
    return { store: new FileStore(opened.parts, opened.quarantined), recovery: opened.recovery };
  }

  // Sessions

  async insertSession(session: Session, event: ServiceEvent): Promise<void> {
    const resident = this.table.newResident(session);
    const { id } = session;
    await this.table.withBudget(resident.footprint, () =>
      this.parts.commits.commit({
        record: { op: 'put', session, seq: resident.seq },
        event,
        revert: { op: 'delete', id, revert: true },
        apply: () => {
          // Its durable event is what counts the session: boot recounts total_sessions
          // from the log, so stats.json may catch up lazily without losing an increment.
          this.instance.sessionCreated();
          this.table.add(resident);
        },
        leaves: 'created',
      }),
    );
  }

  changeSession(
    id: string,
    change: (current: Session) => SessionChange | null,
    event: ServiceEvent,
  ): Promise<Session> {
    return new Promise((resolve, reject) => {
      this.table.locks.join(id, { id, change, event, resolve, reject }, this.changeBatch);
    });
  }

  /**
   * Makes the changes of one session queued together (see session-locks.ts),
   * under its lock: each from the version the last one made, each refused
   * on its own (the budget, a patch too large), the others committed
   * together (see Commits.commitAll) and memory given the last version. One
   * that changes nothing is answered with the version it saw, once those
   * before it are durable (or, if they failed, with the version before them).
   */
  private readonly changeBatch = async (queued: QueuedChange[]): Promise<void> => {
    const [{ id }] = queued as [QueuedChange];
    const resident = this.table.get(id);
    if (resident === undefined) {
      for (const entry of queued) entry.reject(sessionNotFound(id));
      return;
    }
    const before = sessionOf(resident);
    const { made, unchanged, latest, growth } = this.chainChanges(resident, before, queued);
    const last = made.at(-1);
    if (last !== undefined) {
      last.change.apply = () => this.table.rewrite(resident, latest, growth);
      try {
        await this.parts.commits.commitAll(made.map(({ change }) => change));
      } catch (error) {
        this.table.release(growth);
        for (const { entry } of made) entry.reject(error);
        // What they found nothing to change in never was: they answer what is
        // (a read's touch due on `before` waits for the next read).
        for (const { entry } of unchanged) entry.resolve(before);
        return;
      }
    }
    for (const { entry, version } of [...made, ...unchanged]) entry.resolve(version);
  };

  /** The changes of a batch made in memory, each on the last, their growth reserved. */
  private chainChanges(resident: ResidentSession, before: Session, queued: QueuedChange[]) {
    let current = before;
    let growth = 0;
    const made: { entry: QueuedChange; version: Session; change: Change }[] = [];
    const unchanged: { entry: QueuedChange; version: Session }[] = [];
    for (const entry of queued) {
      try {
        const change = entry.change(current);
        if (change === null) {
          unchanged.push({ entry, version: current });
          continue;
        }
        const { session: next, patch } = change;
        const grows = footprintGrowth(current, next);
        this.table.reserve(grows);
        growth += grows;
        made.push({
          entry,
          version: next,
          change: {
            // What the write changed when that says it (see journal.ts), so a
            // write costs its own size in the journal, not the session's.
            record:
              patch === null
                ? { op: 'put', session: next, seq: resident.seq }
                : { op: 'patch', id: resident.id, patch },
            event: entry.event,
            revert: { op: 'put', session: current, seq: resident.seq, revert: true },
            apply: () => undefined, // memory takes the batch's last version (changeBatch)
            // A file that lacks only a count (and the expiry a write moves) is written
            // less often (see write-behind.ts); the journal and snapshots hold it whole.
            leaves: patch !== null && countsOnly(patch) ? 'counted' : 'changed',
          },
        });
        current = next;
      } catch (error) {
        entry.reject(error);
      }
    }
    return { made, unchanged, latest: current, growth };
  }

  removeSession(id: string, event: ServiceEvent): Promise<void> {
    return this.table.locks.run(id, () => this.remove(this.table.require(id), event));
  }

  /**
   * Removes a held session durably, logging `event`: a delete, or the
   * sweep's expiry (`expired`), which counts it in expired_sessions.
   */
  private remove(resident: ResidentSession, event: ServiceEvent, expired = false): Promise<void> {
    return this.parts.commits.commit({
      record: { op: 'delete', id: resident.id },
      event,
      revert: { op: 'put', session: sessionOf(resident), seq: resident.seq, revert: true },
      apply: () => {
        this.table.remove(resident);
        if (expired) this.instance.sessionExpired();
      },
      leaves: 'changed',
    });
  }

  getSession(id: string): Session | undefined {
    const resident = this.table.get(id);
    return resident === undefined ? undefined : sessionOf(resident);
  }

  getSessionJson(id: string): SessionJson | undefined {
    return this.table.get(id)?.json;
  }

  async *sessionBatches(batchSize: number): AsyncIterable<readonly SessionJson[]> {
    yield* this.table.jsonBatches(batchSize);
  }

  sessionPage(query: PageQuery): Page<SessionJson> {
    return this.table.page(query);
  }

  sessionCount(): number {
    return this.table.liveCount();
  }

  /** Write-behind that has fallen behind, files this start set aside: in words for an operator. */
  private problems(): string[] {
    const now = performance.now();
    return [...this.quarantineProblems(now), ...this.writeBehind.problems(now)];
  }

  /** The files this start moved to quarantine/, until a person has moved them out. */
  private quarantineProblems(now: number): string[] {
    if (this.quarantinedAtStart.length === 0) return [];
    // Looked at again once a second at most, off the request (what it finds
    // shows from the next answer on).
    if (now - this.quarantineLookedAt >= QUARANTINE_LOOK_MS) {
      this.quarantineLookedAt = now;
      void stillThere(this.parts.layout.root, this.quarantinedAtStart).then((files) => {
        this.quarantinedAtStart = files;
      });
    }
    const files = this.quarantinedAtStart;
    if (files.length === 0) return [];
    return [
      `this start moved ${files.length} files it cannot use to quarantine/ (${files.slice(0, 3).join(', ')}${files.length > 3 ? ', …' : ''}): ` +
        'look at them, then delete them (the events say where each came from)',
    ];
  }

  // Events

  onEvent(listener: EventListener): () => void {
    return this.events.onEvent(listener);
  }

  eventTail(limit: number): EventTail {
    const { events } = this;
    return { events: events.tail(limit), count: events.count(), oldest: events.oldest() };
  }

  async eventRange(from: number, to: number): Promise<EventTail> {
    const { events } = this;
    const count = events.count();
    const oldest = events.oldest();
    return {
      events: await events.range(Math.max(oldest, from), Math.min(to, count)),
      count,
      oldest,
    };
  }

  eventCount(): number {
    return this.events.count();
  }

  // Counters and instances

  countRequest(): void {
    this.instance.countRequest();
  }

  overview(): StoreOverview {
    return { stats: this.instance.stats(), liveSessions: this.table.liveCount(), liveInstances: 1 };
  }

  async startInstance(): Promise<InstanceStart> {
    const started = await this.instance.start();
    this.sweep.begin();
    return started;
  }

  recordCrash(): Promise<number> {
    return this.instance.recordCrash();
  }

  async stopInstance(event: ServiceEvent): Promise<void> {
    // No sweep after the shutdown event: the stop is the instance's last word.
    await this.sweep.stop();
    await this.retention.stop();
    await this.instance.stop(event);
  }

  async close(): Promise<void> {
    clearInterval(this.ticker);
    try {
      await this.sweep.stop();
      await this.retention.stop();
      // The files current; the journal keeps what no snapshot covers yet.
      await this.writeBehind.finish();
      await this.instance.flush();
      await this.writeBehind.removeSpares();
      // A clean stop seals what it leaves: the next start sees in O(1)
      // whether another program changed the directory since (directory-seal.ts).
      // Only files that hold every change may be sealed: from here on no
      // write commits (one still in flight after the shutdown timeout is
      // refused), and one that did since the checkpoint leaves no seal.
      await this.parts.commits.refuseMore();
      if (this.writeBehind.filesCurrent()) await this.instance.sealStopped();
    } catch (error) {
      // What the checkpoint could not cover stays in the journal for the next boot.
      await cleanUpAfter(error, () => closeParts(this.parts));
      throw error;
    }
    await closeParts(this.parts);
  }
}

/** Of `files` (relative to `root`), those still there. */
async function stillThere(root: string, files: readonly string[]): Promise<string[]> {
  const there = await Promise.all(
    files.map((file) =>
      lstat(join(root, file)).then(
        () => true,
        () => false,
      ),
    ),
  );
  return files.filter((_, i) => there[i]);
}

/**
 * The Store: the port between the service's use cases (service/) and what
 * keeps the data (the file store, the PostgreSQL store). The use cases decide
 * what a change is and what it logs; a store makes each change durable with
 * its own atomicity. Every method that returns a promise
 * resolves only once its change is on stable storage; reads are answered from
 * what is already durable, never from a write still in flight. Reads are
 * `Awaitable`: the file store answers from memory at once, a store shared by
 * several replicas has to ask its database. Callers always await them.
 */
import type { DeadInstance, Stats } from '../domain/counters.js';
import type { ServiceEvent } from '../domain/event.js';
import type { Page, PageQuery } from '../domain/page.js';
import type { Session, SessionChange, SessionJson } from '../domain/session.js';

export type EventListener = (event: ServiceEvent, position: number) => void;

export interface StoreOverview {
  stats: Stats;
  liveSessions: number;
  liveInstances: number;
}

export interface EventTail {
  events: ServiceEvent[];
  /** The position of the last event: every event ever logged, the dropped ones too. */
  count: number;
  /** The position of the oldest event kept: 1 until retention dropped some. */
  oldest: number;
}

/** The sessions' footprint (see domain/footprint.ts) against the storage budget, in bytes. */
export interface StorageUsage {
  bytes: number;
  budgetBytes: number;
}

/** What counting a start found. */
export interface InstanceStart {
  startupCount: number;
  crashCount: number;
  /** Instances that died unseen and were counted now. */
  detected: DeadInstance[];
}

/**
 * Work a store does on its own, between requests, by the name the store
 * gives it (the file store's `checkpoint`, `snapshot`, `stats_flush`,
 * `expiry_sweep`, `log_compaction`; PostgreSQL's `stats_flush`,
 * `lease_renewal`, `event_feed`, `expiry_sweep`, `event_retention`,
 * `idle_connection`): a new store names its own without changing the port.
 */
export type BackgroundTask = string;

/**
 * Told how each run of background work went: every failure with its cause,
 * so that none goes unseen (the service logs it, counts it in /metrics, and
 * says it is degraded while one persists), and every success, which ends it.
 * A `passing` failure is not of work that is retried and succeeds later (a
 * pooled connection lost while idle: the next query reconnects, or fails
 * loudly): it is logged and counted, but never makes the service degraded.
 */
export interface BackgroundReporter {
  failed(task: BackgroundTask, error: unknown, passing?: boolean): void;
  succeeded(task: BackgroundTask): void;
}

/** A reporter that hears nothing (a store opened by a test or a tool). */
export const UNREPORTED: BackgroundReporter = {
  failed() {},
  succeeded() {},
};

/** Runs `work` in the background and reports how it went. */
export function runInBackground(
  reporter: BackgroundReporter,
  task: BackgroundTask,
  work: () => Promise<unknown>,
): Promise<void> {
  return work().then(
    () => reporter.succeeded(task),
    (error: unknown) => reporter.failed(task, error),
  );
}

/** What a store that holds its data in this process can tell of it (see Store.inProcess). */
export interface InProcessFacts {
  /**
   * Changes whenever any session is created, updated or deleted, so a
   * listing can be cached (another replica's writes would not change it).
   */
  sessionsVersion(): number;
  /** Where the sessions stand against the storage budget. */
  storageUsage(): StorageUsage;
  /**
   * What keeps the store from working as it should, in words for an
   * operator (e.g. write-behind that has fallen far behind); none when all is well.
   */
  problems(): string[];
}

/** A value now, or a promise of it. */
export type Awaitable<T> = T | Promise<T>;

export interface Store {
  /** The instance that owns the store for this process's lifetime. */
  readonly instanceId: string;

  // Sessions. Each write commits the change, its event and its counters as
  // one (one journal line, one SQL statement): never one without the other.

  /** Stores a new session, counts it in `total_sessions` and logs `event`. */
  insertSession(session: Session, event: ServiceEvent): Promise<void>;
  /**
   * Replaces a session by `change(current).session` and logs `event`;
   * changes of one session are serialised, so `change` always sees the
   * latest committed version and no change is lost. A store may record the
   * change's `patch` instead of the whole session. Resolves with the new
   * session; when `change` gives null (the latest version needs no change:
   * a read's touch another one made already), writes and logs nothing and
   * resolves with the latest version. Throws NotFoundError.
   */
  changeSession(
    id: string,
    change: (current: Session) => SessionChange | null,
    event: ServiceEvent,
  ): Promise<Session>;
  /** Removes a session and logs `event`. Throws NotFoundError. */
  removeSession(id: string, event: ServiceEvent): Promise<void>;
  getSession(id: string): Awaitable<Session | undefined>;
  /** The session's JSON, as a listing gives it (the wire's bytes), or undefined. */
  getSessionJson(id: string): Awaitable<SessionJson | undefined>;
  /**
   * Every session, in creation order, as JSON, `batchSize` at a time, so a
   * listing of any size never sits in memory whole. A session changed while
   * the batches are read may appear as it was before or after the change.
   */
  sessionBatches(batchSize: number): AsyncIterable<readonly SessionJson[]>;
  /**
   * A page of sessions (as JSON) after `query.after`, in creation order or
   * newest first, and the cursor of the next (see domain/page.ts). Seeking to
   * the cursor costs O(log n) at most, never a walk from the start.
   * Throws InvalidInputError for a cursor this store did not give out.
   */
  sessionPage(query: PageQuery): Awaitable<Page<SessionJson>>;
  sessionCount(): Awaitable<number>;
  /**
   * What only a store that holds its data in this process (the file store)
   * can tell of it; absent on a store shared by replicas.
   */
  readonly inProcess?: InProcessFacts;

  // Events

  /**
   * Calls `listener` with every event from now on, once it is in the log, in
   * log order, with its line number in the log (the position: 1, 2, …);
   * returns the unsubscribe. An event this instance logs is told before the
   * write that logged it resolves. A store shared by replicas tells every
   * replica's events too, each once, in the one order.
   */
  onEvent(listener: EventListener): () => void;
  /**
   * The last `limit` events and the count of all events, read together: the
   * last of them is at position `count`, even while others are writing.
   */
  eventTail(limit: number): Awaitable<EventTail>;
  /**
   * The events at positions `from` to `to` (inclusive, clamped to the log),
   * oldest first, and the count of all events: how history is paged back
   * through. Costs no more than the page, however long the log.
   */
  eventRange(from: number, to: number): Awaitable<EventTail>;
  eventCount(): Awaitable<number>;

  // Counters and instances

  /** Counts a served request; persisted lazily (about once a second) and at close. */
  countRequest(): void;
  /** The counters, the session count and the live instances, read together. */
  overview(): Awaitable<StoreOverview>;
  /**
   * Counts this instance's start, and every death of an earlier instance that
   * nobody saw (each once, logged by `crashDetectedEvent`), then logs
   * `startupEvent` (see domain/event.ts).
   */
  startInstance(): Promise<InstanceStart>;
  /** `/crash`: counts the crash durably and logs `crashTriggeredEvent`; resolves with crash_count. */
  recordCrash(): Promise<number>;
  /** A clean stop: logs `event` (the shutdown) and marks the instance stopped. Then close(). */
  stopInstance(event: ServiceEvent): Promise<void>;

  /** Flushes what is pending and releases the data (or the database). */
  close(): Promise<void>;
}

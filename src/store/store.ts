/**
 * The Store: everything the service keeps, behind one interface so a backend
 * can be swapped (the file store, the PostgreSQL store). Every method that returns a promise
 * resolves only once its change is on stable storage; reads are answered from
 * what is already durable, never from a write still in flight. Reads are
 * `Awaitable`: the file store answers from memory at once, a store shared by
 * several replicas has to ask its database. Callers always await them.
 */
import type { Stats } from '../domain/counters.js';
import type { EventExtra, EventKind, ServiceEvent } from '../domain/event.js';
import type { Session, SessionInput } from '../domain/session.js';

export type EventListener = (event: ServiceEvent, position: number) => void;

export interface StoreOverview {
  stats: Stats;
  liveSessions: number;
  liveInstances: number;
}

export interface EventTail {
  events: ServiceEvent[];
  count: number;
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
  detected: { container: string; pid: number; started_at: string }[];
}

/** Work a store does on its own, between requests; it retries what fails. */
export type BackgroundTask = 'checkpoint' | 'stats_flush' | 'lease_renewal' | 'event_feed';

/**
 * Told of every failure of background work, with its cause, so that none
 * goes unseen (the service logs it and counts it in /metrics).
 */
export type BackgroundFailureListener = (task: BackgroundTask, error: unknown) => void;

/** A value now, or a promise of it. */
export type Awaitable<T> = T | Promise<T>;

export interface Store {
  /** The instance that owns the store for this process's lifetime. */
  readonly instanceId: string;

  /** Creates a session, counts it in `total_sessions` and logs `session_created`. */
  createSession(input: SessionInput): Promise<Session>;
  getSession(id: string): Awaitable<Session | undefined>;
  /** Every session, in creation order. */
  listSessions(): Awaitable<readonly Session[]>;
  /**
   * Every session, in creation order, `batchSize` at a time, so a listing of
   * any size never sits in memory whole. A session changed while the batches
   * are read may appear as it was before or after the change.
   */
  sessionBatches(batchSize: number): AsyncIterable<readonly Session[]>;
  /**
   * Changes whenever any session is created, updated or deleted, so a listing
   * can be cached; null when this store cannot know (other replicas write too).
   */
  sessionsVersion(): number | null;
  sessionCount(): Awaitable<number>;
  /** Applies a PUT; concurrent updates of one session are serialised. Throws NotFoundError. */
  updateSession(id: string, input: SessionInput): Promise<Session>;
  /** Throws NotFoundError. */
  deleteSession(id: string): Promise<void>;

  recordEvent(kind: EventKind, extra?: EventExtra): Promise<void>;
  /**
   * Calls `listener` with every event from now on, once it is in the log, in
   * log order, with its line number in the log (the position: 1, 2, …);
   * returns the unsubscribe. An event this instance logs is told before the
   * write that logged it resolves. A store shared by replicas tells every
   * replica's events too, each once, in the one order.
   */
  onEvent(listener: EventListener): () => void;
  /** The last `limit` events, oldest first. */
  recentEvents(limit: number): Awaitable<ServiceEvent[]>;
  /**
   * The last `limit` events and the count of all events, read together: the
   * last of them is at position `count`, even while others are writing.
   */
  eventTail(limit: number): Awaitable<EventTail>;
  eventCount(): Awaitable<number>;

  /** The counters as of now (total_requests includes requests not yet flushed). */
  stats(): Awaitable<Stats>;
  /** Changes counters durably. */
  updateStats(change: (current: Stats) => Partial<Stats>): Promise<Stats>;
  /** Counts a served request; persisted lazily (about once a second) and on flush. */
  countRequest(): void;
  flushStats(): Promise<void>;

  /**
   * Counts this instance's start, and every death of an earlier instance that
   * nobody saw (each once, logged as `crash_detected`), then logs `startup`.
   */
  startInstance(): Promise<InstanceStart>;
  /** `/crash`: counts the crash durably and logs `crash_triggered`; resolves with crash_count. */
  recordCrash(): Promise<number>;
  /** A clean stop: logs `shutdown` with `extra` and marks the instance stopped. Then close(). */
  stopInstance(extra: EventExtra): Promise<void>;
  /** Instances serving this data now (1 for the file store: it has one owner). */
  liveInstances(): Awaitable<number>;
  /** Where the sessions stand against the storage budget; null when this store has none. */
  storageUsage(): StorageUsage | null;
  /** stats(), sessionCount() and liveInstances() read together, for GET /state. */
  overview(): Awaitable<StoreOverview>;

  /** Flushes what is pending and releases the data directory. */
  close(): Promise<void>;
}

/**
 * The PostgreSQL store (STORE=postgres): the Store port on a database that
 * several replicas share. Its parts:
 *
 *   database.ts        the pool, transactions, the event-append statement
 *   session-writes.ts  creates, updates and deletes, batched: one statement
 *                      and one WAL flush for each batch of a kind
 *   event-feed.ts      every replica's events for onEvent (LISTEN/NOTIFY)
 *   replicas.ts        leases: starts, clean stops, crashes, unseen deaths
 *   expiry-sweep.ts    expired sessions removed, once, by whichever replica
 *   event-log.ts       the events table read, and kept within the retention policy
 *
 * Reads go to the database, so every replica sees every replica's writes.
 * Event positions are taken from counters.event_count under that row's lock,
 * held only for the statement and its commit: dense, one total order,
 * committed in that order across replicas. total_requests is counted in
 * memory and added to the row about once a second, as the file store does.
 * A session is expired from its expires_at on by the store's clock: every
 * read hides it and every write finds it gone, before the sweep removes it.
 */
import { InvalidInputError, StorageUnavailableError } from '../../domain/errors.js';
import type { ServiceEvent } from '../../domain/event.js';
import {
  decodeCursor,
  encodeCursor,
  type Page,
  type PageQuery,
  pageIsFull,
  SEARCH_SCAN_LIMIT,
} from '../../domain/page.js';
import { KEEP_EVERYTHING, type RetentionPolicy } from '../../domain/retention.js';
import {
  isSessionId,
  type Session,
  type SessionChange,
  type SessionJson,
  sessionNotFound,
} from '../../domain/session.js';
import { type Clock, utcTimestamp } from '../../domain/time.js';
import {
  type BackgroundReporter,
  type EventListener,
  type EventTail,
  type InstanceStart,
  runInBackground,
  type Store,
  type StoreOverview,
  UNREPORTED,
} from '../store.js';
import { Database, unavailable } from './database.js';
import { EventFeed } from './event-feed.js';
import { PostgresEventLog } from './event-log.js';
import { ExpirySweep } from './expiry-sweep.js';
import { migrate } from './migrations.js';
import { LIVE_REPLICAS, Replicas } from './replicas.js';
import {
  type CounterRow,
  SESSION_COLUMNS,
  type SessionRow,
  toSession,
  toSessionJson,
  toStats,
} from './rows.js';
import { liveSessionCount, unexpired } from './session-codec.js';
import { commitWrites, SessionWrites } from './session-writes.js';

const REQUEST_FLUSH_INTERVAL_MS = 1000;
/** Optimistic tries of an update before it takes the session's row lock. */
const OPTIMISTIC_ATTEMPTS = 3;
/** A replica whose heartbeat is older than this is dead; it beats five times a lease. */
const DEFAULT_LEASE_MS = 5000;

export interface PostgresStoreOptions {
  leaseMs: number;
  /** Another replica counted this one as crashed (its lease had run out): it must not serve on. */
  onLeaseLost: () => void;
  /** Told how each stats flush, lease renewal and event-feed read went (a failed one is retried). */
  background: BackgroundReporter;
  /** Now, in epoch milliseconds (Date.now; a test moves its own): when sessions expire. */
  clock: Clock;
  /** What the events table keeps (EVENTS_RETAIN_COUNT, _DAYS; everything by default). */
  retention: RetentionPolicy;
}

export class PostgresStore implements Store {
  private unflushedRequests = 0;
  private readonly requestTimer: NodeJS.Timeout;
  private readonly writes: SessionWrites;
  private readonly replicas: Replicas;
  private readonly sweeper: ExpirySweep;
  private readonly eventLog: PostgresEventLog;
  private readonly clock: Clock;

  private constructor(
    readonly instanceId: string,
    private readonly database: Database,
    private readonly feed: EventFeed,
    options: PostgresStoreOptions,
  ) {
    this.clock = options.clock;
    this.writes = new SessionWrites(database, options.clock);
    this.replicas = new Replicas(instanceId, database, feed, options);
    this.sweeper = new ExpirySweep(instanceId, database, feed, options.clock, options.background);
    const { retention, clock, background } = options;
    this.eventLog = new PostgresEventLog(database, retention, clock, background);
    this.requestTimer = setInterval(() => {
      // Retried on the next tick.
      runInBackground(options.background, 'stats_flush', () => this.flushRequests());
    }, REQUEST_FLUSH_INTERVAL_MS);
    this.requestTimer.unref();
  }

  /** Connects, brings the schema up to date, and returns the store. */
  static async open(
    databaseUrl: string,
    instanceId: string,
    options: Partial<PostgresStoreOptions> = {},
  ): Promise<PostgresStore> {
    const background = options.background ?? UNREPORTED;
    const database = Database.connect(databaseUrl, background);
    const feed = new EventFeed(database, databaseUrl, background);
    try {
      await migrate(database.pool);
      await feed.listen();
    } catch (error) {
      await feed.close();
      await database.end();
      throw unavailable(error, 'connecting');
    }
    return new PostgresStore(instanceId, database, feed, {
      leaseMs: options.leaseMs ?? DEFAULT_LEASE_MS,
      onLeaseLost: options.onLeaseLost ?? (() => undefined),
      background,
      clock: options.clock ?? Date.now,
      retention: options.retention ?? KEEP_EVERYTHING,
    });
  }

  /** Now by the store's clock, as expires_at is written (see unexpired). */
  private now(): string {
    return utcTimestamp(new Date(this.clock()));
  }

  // Sessions

  async insertSession(session: Session, event: ServiceEvent): Promise<void> {
    const position = await this.writes.submit('create', { id: session.id, session, event });
    if (position === undefined) {
      throw new StorageUnavailableError('The database did not store the session. Retry later.');
    }
    await this.feed.announce(event, position);
  }

  async getSession(id: string): Promise<Session | undefined> {
    const row = await this.sessionRow(id);
    return row === undefined ? undefined : toSession(row);
  }

  async getSessionJson(id: string): Promise<SessionJson | undefined> {
    const row = await this.sessionRow(id);
    return row === undefined ? undefined : toSessionJson(row);
  }

  private async sessionRow(id: string): Promise<SessionRow | undefined> {
    if (!isSessionId(id)) return undefined;
    const { rows } = await this.database.query<SessionRow>(
      'reading a session',
      `SELECT ${SESSION_COLUMNS} FROM sessions WHERE id = $1 AND ${unexpired('$2')}`,
      [id, this.now()],
    );
    return rows[0];
  }

  async *sessionBatches(batchSize: number): AsyncIterable<readonly SessionJson[]> {
    let after = 0;
    for (;;) {
      const { rows } = await this.database.query<SessionRow & { seq: string }>(
        'listing sessions',
        `SELECT ${SESSION_COLUMNS}, seq FROM sessions
         WHERE seq > $1 AND ${unexpired('$3')} ORDER BY seq LIMIT $2`,
        [after, batchSize, this.now()],
      );
      if (rows.length > 0) yield rows.map(toSessionJson);
      if (rows.length < batchSize) return;
      after = Number(rows[rows.length - 1]?.seq);
    }
  }

  /**
   * By seq (unique, indexed): a page is one index range scan, whatever the
   * table's size. A search looks at no more than SEARCH_SCAN_LIMIT sessions
   * from the cursor, as the file store does, and goes on from the last one
   * it looked at.
   */
  async sessionPage(query: PageQuery): Promise<Page<SessionJson>> {
    let after: number | null = null;
    if (query.after !== null) {
      const [seq, extra] = decodeCursor(query.after);
      if (typeof seq !== 'number' || extra !== undefined) {
        throw new InvalidInputError('"after" is not a cursor this service gave out ("next").');
      }
      after = seq;
    }
    const [order, range] = query.newestFirst
      ? ['DESC', 'WHERE seq < coalesce($3::bigint, 9223372036854775807)']
      : ['ASC', 'WHERE seq > coalesce($3::bigint, 0)'];
    const search = query.search !== null;
    // Matches are fetched while those before the one before them add up to
    // no more than maxBytes in characters of name and data (never more than
    // their JSON): every match the page can take comes, and the one after it,
    // which says there is more. $1 the page + 1 (to know whether there is
    // more), $2 the scan, $3 the cursor, $4 maxBytes, $5 now (what has expired
    // is not looked at), $6 the search.
    const { rows } = await this.database.query<
      SessionRow & { seq: string; position: string; last_seq: string | null; scanned: string }
    >(
      'reading a page of sessions',
      `WITH scanned AS (
         SELECT ${SESSION_COLUMNS}, seq, row_number() OVER (ORDER BY seq ${order}) AS position
           FROM sessions ${range} AND ${unexpired('$5')} ORDER BY seq ${order} LIMIT $2
       ),
       bounds AS (
         SELECT count(*) AS scanned,
           ${query.newestFirst ? 'min' : 'max'}(seq) AS last_seq FROM scanned
       )
       SELECT scanned.*, bounds.scanned, bounds.last_seq FROM bounds
         LEFT JOIN LATERAL (
           SELECT * FROM (
             SELECT *, coalesce(sum(length(name) + length(data)) OVER (
               ORDER BY seq ${order} ROWS BETWEEN UNBOUNDED PRECEDING AND 2 PRECEDING
             ), 0) AS chars_before_previous
             FROM scanned
             ${search ? 'WHERE left(id::text, length($6)) = $6 OR strpos(lower(name), $6) > 0' : ''}
           ) matches
           WHERE chars_before_previous <= $4
           ORDER BY seq ${order} LIMIT $1
         ) scanned ON true`,
      [
        query.limit + 1,
        search ? SEARCH_SCAN_LIMIT : query.limit + 1,
        after,
        query.maxBytes,
        this.now(),
        ...(search ? [query.search] : []),
      ],
    );
    const items: SessionJson[] = [];
    let bytes = 0;
    let next: number | null = null;
    for (const row of rows) {
      if (row.id === null) break; // no match at all
      const json = items.length < query.limit ? toSessionJson(row) : null;
      if (json === null || pageIsFull(items.length, bytes, json.length, query.maxBytes)) {
        next = Number(rows[items.length - 1]?.seq); // the page is full, and more matches follow
        break;
      }
      items.push(json);
      bytes += json.length;
    }
    const bounds = rows[0];
    // A full page was looked at up to its last session; any other, the whole scan.
    const scanned = Number(next === null ? bounds?.scanned : rows[items.length - 1]?.position);
    if (next === null && search && scanned === SEARCH_SCAN_LIMIT) {
      next = Number(bounds?.last_seq); // the scan stopped; go on from where it did
    }
    return {
      items,
      next: next === null ? null : encodeCursor([next]),
      ...(search ? { scanned } : {}),
    };
  }

  async sessionCount(): Promise<number> {
    const { rows } = await this.database.query<{ count: string }>(
      'counting sessions',
      `SELECT ${liveSessionCount('$1')} AS count`,
      [this.now()],
    );
    return Number(rows[0]?.count ?? 0);
  }

  /**
   * Optimistic first: read the session, then write it back (batched with
   * other updates) only if no other write changed it meanwhile (its
   * access_count, bumped by every update, is the version). A session many
   * write at once falls back to holding its row lock from the read to the
   * commit. Either way no update is lost, and the counters lock is held only
   * for the last statement. A session that expires before the write commits
   * is not written (commitWrites): the write finds it gone.
   */
  async changeSession(
    id: string,
    change: (current: Session) => SessionChange | null,
    event: ServiceEvent,
  ): Promise<Session> {
    if (!isSessionId(id)) throw sessionNotFound(id);
    for (let attempt = 0; attempt < OPTIMISTIC_ATTEMPTS; attempt++) {
      const current = await this.getSession(id);
      if (current === undefined) throw sessionNotFound(id);
      const made = change(current);
      if (made === null) return current;
      const position = await this.writes.submit('update', updateOf(id, current, made, event));
      if (position !== undefined) {
        await this.feed.announce(event, position);
        return made.session;
      }
    }
    const locked = await this.database.transaction('updating a session', async (client) => {
      const { rows } = await client.query<SessionRow>(
        `SELECT ${SESSION_COLUMNS} FROM sessions WHERE id = $1 AND ${unexpired('$2')} FOR UPDATE`,
        [id, this.now()],
      );
      if (rows[0] === undefined) throw sessionNotFound(id);
      const current = toSession(rows[0]);
      const made = change(current);
      if (made === null) return { next: current, position: undefined };
      const write = updateOf(id, current, made, event);
      const [position] = await commitWrites(client, 'update', [write], this.now());
      // The lock keeps other writes and the sweep away, not time: it expired meanwhile.
      if (position === undefined) throw sessionNotFound(id);
      return { next: made.session, position };
    });
    if (locked.position !== undefined) await this.feed.announce(event, locked.position);
    return locked.next;
  }

  async removeSession(id: string, event: ServiceEvent): Promise<void> {
    if (!isSessionId(id)) throw sessionNotFound(id);
    const position = await this.writes.submit('delete', { id, event });
    if (position === undefined) throw sessionNotFound(id);
    await this.feed.announce(event, position);
  }

  // Events

  async appendEvent(event: ServiceEvent): Promise<void> {
    const position = await this.database.commitEvent(`logging ${event.event}`, event);
    await this.feed.announce(event, position);
  }

  onEvent(listener: EventListener): () => void {
    return this.feed.onEvent(listener);
  }

  eventTail(limit: number): Promise<EventTail> {
    return this.eventLog.tail(limit);
  }

  eventRange(from: number, to: number): Promise<EventTail> {
    return this.eventLog.range(from, to);
  }

  eventCount(): Promise<number> {
    return this.eventLog.count();
  }

  /** Deletes the events the retention policy no longer keeps (done every second anyway); how many. */
  dropOldEvents(): Promise<number> {
    return this.eventLog.dropOld();
  }

  // Counters

  countRequest(): void {
    this.unflushedRequests++;
  }

  /** Adds the requests counted since the last flush to the row (about once a second, and at close). */
  async flushRequests(): Promise<void> {
    const count = this.unflushedRequests;
    if (count === 0) return;
    this.unflushedRequests -= count;
    try {
      await this.database.pool.query('UPDATE counters SET total_requests = total_requests + $1', [
        count,
      ]);
    } catch (error) {
      this.unflushedRequests += count; // counted again on the next flush
      throw unavailable(error, 'counting requests');
    }
  }

  async overview(): Promise<StoreOverview> {
    const { rows } = await this.database.query<
      CounterRow & { live_sessions: string; live_replicas: string }
    >(
      'reading the state',
      `SELECT counters.*, ${liveSessionCount('$2')} AS live_sessions,
         ${LIVE_REPLICAS} AS live_replicas
       FROM counters`,
      [this.replicas.leaseSeconds, this.now()],
    );
    const row = rows[0] as CounterRow & { live_sessions: string; live_replicas: string };
    const stats = toStats(row);
    return {
      stats: { ...stats, total_requests: stats.total_requests + this.unflushedRequests },
      liveSessions: Number(row.live_sessions),
      liveInstances: Number(row.live_replicas),
    };
  }

  // Replicas: starts, crashes and leases (replicas.ts)

  async startInstance(): Promise<InstanceStart> {
    const started = await this.replicas.start();
    this.sweeper.begin();
    this.eventLog.begin();
    return started;
  }

  recordCrash(): Promise<number> {
    return this.replicas.crash();
  }

  async stopInstance(event: ServiceEvent): Promise<void> {
    // No sweep after the shutdown event, nor once the lease is given back.
    await this.sweeper.close();
    await this.eventLog.close();
    await this.replicas.stop(event);
  }

  /** Removes the sessions expired by now (the sweep runs every second anyway); how many. */
  sweepExpired(): Promise<number> {
    return this.sweeper.sweep();
  }

  async close(): Promise<void> {
    clearInterval(this.requestTimer);
    this.replicas.close();
    await this.sweeper.close();
    await this.eventLog.close();
    await this.feed.close();
    try {
      await this.flushRequests();
    } finally {
      await this.database.end();
    }
  }
}

/** The update that writes `made` over `current`, checked against its version (commitWrites). */
function updateOf(id: string, current: Session, made: SessionChange, event: ServiceEvent) {
  return {
    id,
    session: made.session,
    event,
    version: current.access_count,
    dataKept: made.patch !== null && made.patch.data === undefined,
  };
}

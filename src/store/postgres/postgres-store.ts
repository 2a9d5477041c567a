/**
 * The PostgreSQL store (STORE=postgres): the same Store contract as the file
 * store, on a database that several replicas share.
 *
 *   create, update, delete   concurrent writes of a kind are committed
 *                            together (group commit, batcher.ts): one
 *                            statement holds the session rows, one event
 *                            each and the counters, so a batch costs one WAL
 *                            flush; a 2xx answer means its batch committed.
 *                            An update first reads the session, then writes
 *                            it back only if its access_count is unchanged
 *                            (else reads again, and at last holds the row
 *                            lock), so no access_count increment is lost
 *   events                   positions are taken from counters.event_count
 *                            under that row's lock, held only for the
 *                            statement and its commit: dense, one total
 *                            order, committed in that order across replicas
 *   onEvent                  every replica's events: each commit NOTIFYs its
 *                            position, and a replica reads what it has not
 *                            seen, in order (LISTEN on a connection of its own)
 *   total_requests           counted in memory and added to the row about
 *                            once a second, as the file store does
 *
 * Reads go to the database, so every replica sees every replica's writes.
 *
 *   replicas                 each has a row and a lease it renews five times
 *                            a lease (5 s); a replica that finds another's
 *                            lease run out counts it as one crash
 *                            (crash_detected), exactly once however many
 *                            look; `/crash` counts itself
 */
import pg from 'pg';
import type { Stats } from '../../domain/counters.js';
import { StorageUnavailableError } from '../../domain/errors.js';
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
import { utcTimestamp } from '../../domain/time.js';
import type {
  BackgroundFailureListener,
  EventListener,
  EventTail,
  InstanceStart,
  Store,
  StoreOverview,
} from '../store.js';
import { Batcher } from './batcher.js';
import { migrate } from './migrations.js';
import { type CounterRow, SESSION_COLUMNS, type SessionRow, toSession, toStats } from './rows.js';

const REQUEST_FLUSH_INTERVAL_MS = 1000;
/** A session write waiting for its batch: the new session (none for a delete) and its event. */
interface SessionWrite {
  id: string;
  session?: Session;
  event: ServiceEvent;
  /** An update's condition: the access_count the new session was computed from. */
  version?: number;
}

/** Each kind of batched write: the statement that applies it, and its counters. */
const BATCH_WRITES = {
  create: {
    sql: `INSERT INTO sessions (id, name, data, created_at, last_active, access_count)
          SELECT id, name, data, created_at, last_active, access_count FROM input ORDER BY n
          RETURNING id`,
    counters: ', total_sessions = total_sessions + (SELECT count(*) FROM done)',
  },
  update: {
    sql: `UPDATE sessions SET name = input.name, data = input.data,
            last_active = input.last_active, access_count = input.access_count
          FROM input WHERE sessions.id = input.id AND sessions.access_count = input.version
          RETURNING sessions.id`,
    counters: '',
  },
  delete: {
    sql: 'DELETE FROM sessions USING input WHERE sessions.id = input.id RETURNING sessions.id',
    counters: '',
  },
} as const;

/** Optimistic tries of an update before it takes the session's row lock. */
const OPTIMISTIC_ATTEMPTS = 3;
/** Replicas whose lease is current ($1: the lease in seconds). */
const LIVE_REPLICAS = `(SELECT count(*) FROM replicas
  WHERE state = 'running' AND heartbeat_at >= now() - make_interval(secs => $1))`;
/** How long to wait before listening again after the LISTEN connection is lost. */
const RELISTEN_MS = 1000;
/** NOTIFY channel: the position of each committed event, for every replica. */
const EVENT_CHANNEL = 'stateful_events';
/** A replica whose heartbeat is older than this is dead; it beats five times a lease. */
const DEFAULT_LEASE_MS = 5000;

export interface PostgresStoreOptions {
  leaseMs: number;
  /** Another replica counted this one as crashed (its lease had run out): it must not serve on. */
  onLeaseLost: () => void;
  /** Told when a stats flush, a lease renewal or the event feed fails (each is retried). */
  onBackgroundFailure: BackgroundFailureListener;
}

/** A database error the client can be told about without leaking its text. */
function unavailable(error: unknown, doing: string): Error {
  if (error instanceof Error && 'statusCode' in error) return error; // ours already
  const code = (error as { code?: unknown }).code;
  return new StorageUnavailableError(
    `The database failed while ${doing} (${typeof code === 'string' ? code : 'no answer'}); nothing was changed. Retry later.`,
  );
}

export class PostgresStore implements Store {
  private readonly listeners = new Set<EventListener>();
  private unflushedRequests = 0;
  private readonly requestTimer: NodeJS.Timeout;
  private heartbeat: NodeJS.Timeout | undefined;
  /** Set once this replica stops or crashes on purpose: its lease may lapse. */
  private stopping = false;
  private closed = false;
  /** The position up to which listeners have been told (or, with none, passed). */
  private delivered = 0;
  private deliveries: Promise<void> = Promise.resolve();
  /** The connection that LISTENs for other replicas' events. */
  private listening: pg.Client | undefined;
  /** Concurrent session writes of each kind share a statement and a commit. */
  private readonly creates = new Batcher<SessionWrite, number | undefined>(
    (writes) => this.commitWrites('create', writes),
    (write) => write.id,
  );
  private readonly updates = new Batcher<SessionWrite, number | undefined>(
    (writes) => this.commitWrites('update', writes),
    (write) => write.id,
  );
  private readonly deletes = new Batcher<SessionWrite, number | undefined>(
    (writes) => this.commitWrites('delete', writes),
    (write) => write.id,
  );

  private constructor(
    readonly instanceId: string,
    private readonly pool: pg.Pool,
    private readonly databaseUrl: string,
    private readonly options: PostgresStoreOptions,
  ) {
    this.requestTimer = setInterval(() => {
      // Retried on the next tick.
      this.flushStats().catch((error) => this.options.onBackgroundFailure('stats_flush', error));
    }, REQUEST_FLUSH_INTERVAL_MS);
    this.requestTimer.unref();
  }

  /** Connects, brings the schema up to date, and returns the store. */
  static async open(
    databaseUrl: string,
    instanceId: string,
    options: Partial<PostgresStoreOptions> = {},
  ): Promise<PostgresStore> {
    // Short statements only: JIT compiling one (the planner guesses high costs
    // for the tiny counters table) took longer than running it a hundred times.
    const pool = new pg.Pool({ connectionString: databaseUrl, max: 10, options: '-c jit=off' });
    pool.on('error', () => undefined); // an idle client's error; the next query reports it
    try {
      await migrate(pool);
    } catch (error) {
      await pool.end().catch(() => undefined);
      throw error;
    }
    const store = new PostgresStore(instanceId, pool, databaseUrl, {
      leaseMs: options.leaseMs ?? DEFAULT_LEASE_MS,
      onLeaseLost: options.onLeaseLost ?? (() => undefined),
      onBackgroundFailure: options.onBackgroundFailure ?? (() => undefined),
    });
    try {
      await store.listen();
    } catch (error) {
      await store.close().catch(() => undefined);
      throw unavailable(error, 'listening for events');
    }
    return store;
  }

  /** Runs `work` in a transaction; rolls back on any error. */
  private async transaction<T>(doing: string, work: (client: pg.PoolClient) => Promise<T>) {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw unavailable(error, doing);
    }
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw unavailable(error, doing);
    } finally {
      client.release();
    }
  }

  private async query<R extends pg.QueryResultRow>(
    doing: string,
    text: string,
    values?: unknown[],
  ) {
    try {
      return await this.pool.query<R>(text, values);
    } catch (error) {
      throw unavailable(error, doing);
    }
  }

  /**
   * Appends `event` in one statement: numbers it under the counters row's
   * lock (with `counterChange` to that row), inserts it, and notifies every
   * replica at commit. Only when `when` (a CTE named `done`) returned a row,
   * if given. Runs as the last statement of a transaction, or alone (then it
   * is its own transaction), so the lock is held only for it and the commit.
   * Returns the event's position, or undefined when `when` matched nothing.
   */
  private async appendEvent(
    client: pg.Pool | pg.PoolClient,
    event: ServiceEvent,
    options: { counterChange?: string; when?: string; values?: unknown[] } = {},
  ): Promise<number | undefined> {
    const values = options.values ?? [];
    const line = `$${values.length + 1}`;
    const { rows } = await client.query<{ event_count: string }>(
      `WITH ${options.when === undefined ? '' : `done AS (${options.when}),`}
         counted AS (
           UPDATE counters SET event_count = event_count + 1${options.counterChange ?? ''}
           ${options.when === undefined ? '' : 'WHERE EXISTS (SELECT 1 FROM done)'}
           RETURNING event_count
         ),
         logged AS (INSERT INTO events (position, line) SELECT event_count, ${line} FROM counted)
       SELECT event_count, pg_notify('${EVENT_CHANNEL}', event_count::text) FROM counted`,
      [...values, JSON.stringify(event)],
    );
    return rows[0] === undefined ? undefined : Number(rows[0].event_count);
  }

  /** appendEvent on its own, as one statement: its own transaction. */
  private async commitEvent(
    doing: string,
    event: ServiceEvent,
    options: Parameters<PostgresStore['appendEvent']>[2] = {},
  ): Promise<number | undefined> {
    try {
      return await this.appendEvent(this.pool, event, options);
    } catch (error) {
      throw unavailable(error, doing);
    }
  }

  /**
   * Commits a batch of session writes of one kind in one statement: the
   * session rows, one event each (numbered in the batch's order, after the
   * log's end, under the counters row's lock), the counters, and one NOTIFY.
   * An update applies only if the session's access_count is still `version`;
   * a delete only if the session exists. Returns each write's event position,
   * or undefined for a write that did not apply.
   */
  private async commitWrites(
    kind: keyof typeof BATCH_WRITES,
    writes: SessionWrite[],
  ): Promise<(number | undefined)[]> {
    const column = <T>(pick: (write: SessionWrite) => T) => writes.map(pick);
    const { rows } = await this.pool.query<{ id: string; position: string }>(
      `WITH input AS (
         SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[],
                              $6::bigint[], $7::bigint[], $8::text[])
           WITH ORDINALITY
           AS input(id, name, data, created_at, last_active, access_count, version, line, n)
       ),
       done AS (${BATCH_WRITES[kind].sql}),
       counted AS (
         UPDATE counters SET event_count = event_count + (SELECT count(*) FROM done)
           ${BATCH_WRITES[kind].counters}
         RETURNING event_count
       ),
       numbered AS (
         SELECT input.id, input.line,
           counted.event_count - (SELECT count(*) FROM done)
             + row_number() OVER (ORDER BY input.n) AS position
         FROM input JOIN done ON done.id = input.id CROSS JOIN counted
       ),
       logged AS (INSERT INTO events (position, line) SELECT position, line FROM numbered)
       SELECT numbered.id, numbered.position,
         pg_notify('${EVENT_CHANNEL}', counted.event_count::text)
       FROM numbered CROSS JOIN counted`,
      [
        column((write) => write.id),
        column((write) => write.session?.name ?? null),
        column((write) =>
          write.session === undefined ? null : JSON.stringify(write.session.data),
        ),
        column((write) => write.session?.created_at ?? null),
        column((write) => write.session?.last_active ?? null),
        column((write) => write.session?.access_count ?? null),
        column((write) => write.version ?? null),
        column((write) => JSON.stringify(write.event)),
      ],
    );
    const positions = new Map(rows.map((row) => [row.id, Number(row.position)]));
    return writes.map((write) => positions.get(write.id));
  }

  private async submit(
    batcher: Batcher<SessionWrite, number | undefined>,
    write: SessionWrite,
    doing: string,
  ): Promise<number | undefined> {
    try {
      return await batcher.submit(write);
    } catch (error) {
      throw unavailable(error, doing);
    }
  }

  /**
   * An event this replica committed: listeners hear of it in log order, and
   * before the write that logged it resolves (as with the file store).
   */
  private announce(event: ServiceEvent, position: number): Promise<void> {
    return this.reach(position, event);
  }

  /**
   * Brings the listeners up to `position`, every replica's events in log
   * order, each once. Events commit in position order (the counters lock), so
   * once `position` is visible every earlier one is too: what this replica
   * has not seen is read from the table. With no listener it only moves on.
   * Resolves once they have heard (or the read failed: the next event retries).
   */
  private reach(position: number, event?: ServiceEvent): Promise<void> {
    if (this.listeners.size === 0) {
      this.delivered = Math.max(this.delivered, position);
      return Promise.resolve();
    }
    this.deliveries = this.deliveries
      .then(async () => {
        if (position <= this.delivered) return;
        if (event !== undefined && position === this.delivered + 1) {
          this.tell(event, position);
        } else {
          const { rows } = await this.pool.query<{ position: string; line: string }>(
            'SELECT position, line FROM events WHERE position > $1 AND position <= $2 ORDER BY position',
            [this.delivered, position],
          );
          for (const row of rows)
            this.tell(JSON.parse(row.line) as ServiceEvent, Number(row.position));
        }
        this.delivered = position;
      })
      // The database is away: the next event reads the gap.
      .catch((error) => this.options.onBackgroundFailure('event_feed', error));
    return this.deliveries;
  }

  private tell(event: ServiceEvent, position: number): void {
    for (const listener of this.listeners) {
      try {
        listener(event, position);
      } catch {
        // A listener's failure is its own.
      }
    }
  }

  /**
   * LISTENs on its own connection for every replica's commits (NOTIFY carries
   * the position), and catches up on what committed while it was not
   * listening. Reconnects after a second when the connection is lost.
   */
  private async listen(): Promise<void> {
    const client = new pg.Client({ connectionString: this.databaseUrl });
    const lost = () => {
      if (this.listening !== client) return;
      this.listening = undefined;
      client.end().catch(() => undefined);
      this.listenLater();
    };
    client.on('error', lost);
    client.on('end', lost);
    client.on('notification', (message) => {
      if (message.channel === EVENT_CHANNEL) void this.reach(Number(message.payload));
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${EVENT_CHANNEL}`);
    } catch (error) {
      client.end().catch(() => undefined);
      throw error;
    }
    if (this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.listening = client;
    // What committed while nobody listened; if this read fails, the next event reads the gap.
    await this.eventCount().then(
      (count) => void this.reach(count),
      () => undefined,
    );
  }

  private listenLater(): void {
    if (this.closed) return;
    setTimeout(() => {
      this.listen().catch((error) => {
        this.options.onBackgroundFailure('event_feed', error);
        this.listenLater();
      });
    }, RELISTEN_MS).unref();
  }

  // Sessions

  async createSession(input: SessionInput): Promise<Session> {
    const session = createSession(input);
    const event = makeEvent('session_created', this.instanceId, {
      session_id: session.id,
      name: session.name,
    });
    const position = await this.submit(
      this.creates,
      { id: session.id, session, event },
      'creating a session',
    );
    if (position === undefined) {
      throw new StorageUnavailableError('The database did not store the session. Retry later.');
    }
    await this.announce(event, position);
    return session;
  }

  async getSession(id: string): Promise<Session | undefined> {
    if (!isSessionId(id)) return undefined;
    const { rows } = await this.query<SessionRow>(
      'reading a session',
      `SELECT ${SESSION_COLUMNS} FROM sessions WHERE id = $1`,
      [id],
    );
    return rows[0] === undefined ? undefined : toSession(rows[0]);
  }

  async listSessions(): Promise<readonly Session[]> {
    const { rows } = await this.query<SessionRow>(
      'listing sessions',
      `SELECT ${SESSION_COLUMNS} FROM sessions ORDER BY seq`,
    );
    return rows.map(toSession);
  }

  async *sessionBatches(batchSize: number): AsyncIterable<readonly Session[]> {
    let after = 0;
    for (;;) {
      const { rows } = await this.query<SessionRow & { seq: string }>(
        'listing sessions',
        `SELECT ${SESSION_COLUMNS}, seq FROM sessions WHERE seq > $1 ORDER BY seq LIMIT $2`,
        [after, batchSize],
      );
      if (rows.length > 0) yield rows.map(toSession);
      if (rows.length < batchSize) return;
      after = Number(rows[rows.length - 1]?.seq);
    }
  }

  storageUsage(): null {
    return null; // no session is held in memory: the database's disk is the bound
  }

  sessionsVersion(): null {
    return null; // other replicas write too: never cache a listing
  }

  async sessionCount(): Promise<number> {
    const { rows } = await this.query<{ count: string }>(
      'counting sessions',
      'SELECT count(*) AS count FROM sessions',
    );
    return Number(rows[0]?.count ?? 0);
  }

  /**
   * Optimistic first: read the session, then write it back in one statement
   * only if no other write changed it meanwhile (its access_count, bumped by
   * every update, is the version). A session many write at once falls back
   * to holding its row lock from the read to the commit. Either way no
   * update is lost, and the counters lock is held only for the last statement.
   */
  async updateSession(id: string, input: SessionInput): Promise<Session> {
    if (!isSessionId(id)) throw sessionNotFound(id);
    const event = makeEvent('session_updated', this.instanceId, { session_id: id });
    const write = (client: pg.PoolClient, next: Session, version: number) =>
      this.appendEvent(client, event, {
        when: `UPDATE sessions SET name = $2, data = $3, last_active = $4, access_count = $5
               WHERE id = $1 AND access_count = $6 RETURNING id`,
        values: [
          id,
          next.name,
          JSON.stringify(next.data),
          next.last_active,
          next.access_count,
          version,
        ],
      });
    for (let attempt = 0; attempt < OPTIMISTIC_ATTEMPTS; attempt++) {
      const current = await this.getSession(id);
      if (current === undefined) throw sessionNotFound(id);
      const next = applyUpdate(current, input);
      const position = await this.submit(
        this.updates,
        { id, session: next, event, version: current.access_count },
        'updating a session',
      );
      if (position !== undefined) {
        await this.announce(event, position);
        return next;
      }
    }
    const { session, position } = await this.transaction('updating a session', async (client) => {
      const { rows } = await client.query<SessionRow>(
        `SELECT ${SESSION_COLUMNS} FROM sessions WHERE id = $1 FOR UPDATE`,
        [id],
      );
      if (rows[0] === undefined) throw sessionNotFound(id);
      const current = toSession(rows[0]);
      const next = applyUpdate(current, input);
      return {
        session: next,
        position: (await write(client, next, current.access_count)) as number,
      };
    });
    await this.announce(event, position);
    return session;
  }

  async deleteSession(id: string): Promise<void> {
    if (!isSessionId(id)) throw sessionNotFound(id);
    const event = makeEvent('session_deleted', this.instanceId, { session_id: id });
    const position = await this.submit(this.deletes, { id, event }, 'deleting a session');
    if (position === undefined) throw sessionNotFound(id);
    await this.announce(event, position);
  }

  // Events

  async recordEvent(kind: EventKind, extra: EventExtra = {}): Promise<void> {
    const event = makeEvent(kind, this.instanceId, extra);
    const position = await this.commitEvent(`logging ${kind}`, event);
    await this.announce(event, position as number);
  }

  onEvent(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async recentEvents(limit: number): Promise<ServiceEvent[]> {
    return (await this.eventTail(limit)).events;
  }

  async eventTail(limit: number): Promise<EventTail> {
    // One statement, one snapshot: the count and the lines agree.
    const { rows } = await this.query<{ event_count: string; line: string | null }>(
      'reading events',
      `SELECT counters.event_count, tail.line FROM counters
       LEFT JOIN LATERAL (SELECT position, line FROM events ORDER BY position DESC LIMIT $1) tail
         ON true
       ORDER BY tail.position`,
      [limit],
    );
    return {
      count: Number(rows[0]?.event_count ?? 0),
      events: rows.flatMap((row) =>
        row.line === null ? [] : [JSON.parse(row.line) as ServiceEvent],
      ),
    };
  }

  async eventCount(): Promise<number> {
    const { rows } = await this.query<{ event_count: string }>(
      'counting events',
      'SELECT event_count FROM counters',
    );
    return Number(rows[0]?.event_count ?? 0);
  }

  // Counters

  async stats(): Promise<Stats> {
    const { rows } = await this.query<CounterRow>('reading counters', 'SELECT * FROM counters');
    const stats = toStats(rows[0] as CounterRow);
    return { ...stats, total_requests: stats.total_requests + this.unflushedRequests };
  }

  async updateStats(change: (current: Stats) => Partial<Stats>): Promise<Stats> {
    return this.transaction('updating counters', async (client) => {
      const { rows } = await client.query<CounterRow>('SELECT * FROM counters FOR UPDATE');
      const next = { ...toStats(rows[0] as CounterRow), ...change(toStats(rows[0] as CounterRow)) };
      await client.query(
        `UPDATE counters SET startup_count = $1, crash_count = $2, total_sessions = $3,
           total_requests = $4`,
        [next.startup_count, next.crash_count, next.total_sessions, next.total_requests],
      );
      return { ...next, total_requests: next.total_requests + this.unflushedRequests };
    });
  }

  countRequest(): void {
    this.unflushedRequests++;
  }

  async flushStats(): Promise<void> {
    const count = this.unflushedRequests;
    if (count === 0) return;
    this.unflushedRequests -= count;
    try {
      await this.pool.query('UPDATE counters SET total_requests = total_requests + $1', [count]);
    } catch (error) {
      this.unflushedRequests += count; // counted again on the next flush
      throw unavailable(error, 'counting requests');
    }
  }

  // Replicas: starts, crashes and leases

  /**
   * Counts this replica's start after counting the replicas whose lease ran
   * out, then heartbeats its own lease and keeps looking for dead ones.
   */
  async startInstance(): Promise<InstanceStart> {
    const detected = await this.reapDeadReplicas();
    const started = await this.transaction('counting a start', async (client) => {
      const { rows } = await client.query<CounterRow>(
        'UPDATE counters SET startup_count = startup_count + 1 RETURNING *',
      );
      const stats = toStats(rows[0] as CounterRow);
      await client.query(
        `INSERT INTO replicas (container_id, pid, started_at, state, startup_count, crash_count)
         VALUES ($1, $2, $3, 'running', $4, $5)`,
        [this.instanceId, process.pid, utcTimestamp(), stats.startup_count, stats.crash_count],
      );
      const event = makeEvent('startup', this.instanceId, {
        startup_count: stats.startup_count,
        crash_count: stats.crash_count,
      });
      return { stats, event, position: (await this.appendEvent(client, event)) as number };
    });
    await this.announce(started.event, started.position);
    this.heartbeat ??= setInterval(() => void this.beat(), this.options.leaseMs / 5);
    this.heartbeat.unref();
    return {
      startupCount: started.stats.startup_count,
      crashCount: started.stats.crash_count,
      detected,
    };
  }

  /** Renews this replica's lease, then looks for replicas whose lease ran out. */
  private async beat(): Promise<void> {
    try {
      const { rowCount } = await this.pool.query(
        `UPDATE replicas SET heartbeat_at = now() WHERE container_id = $1 AND state = 'running'`,
        [this.instanceId],
      );
      if (rowCount === 0 && !this.stopping) {
        // Another replica found this lease expired and counted this replica as
        // crashed: serving on would make that count a lie.
        clearInterval(this.heartbeat);
        this.options.onLeaseLost();
        return;
      }
      await this.reapDeadReplicas();
    } catch (error) {
      // The database is away; the next beat tries again.
      this.options.onBackgroundFailure('lease_renewal', error);
    }
  }

  /**
   * Counts each replica whose lease ran out while it said `running` as one
   * crash, logged as crash_detected. The UPDATE takes each row's lock and
   * re-checks its state, so when several replicas look at once, each death is
   * counted by exactly one of them.
   */
  private async reapDeadReplicas(): Promise<InstanceStart['detected']> {
    const found = await this.transaction('looking for dead replicas', async (client) => {
      const { rows } = await client.query<{
        container_id: string;
        pid: number;
        started_at: string;
      }>(
        `UPDATE replicas SET state = 'dead'
         WHERE state = 'running' AND container_id <> $1
           AND heartbeat_at < now() - make_interval(secs => $2)
         RETURNING container_id, pid, started_at`,
        [this.instanceId, this.options.leaseMs / 1000],
      );
      const events: { event: ServiceEvent; position: number }[] = [];
      for (const dead of rows) {
        const { rows: counted } = await client.query<{ crash_count: string }>(
          'UPDATE counters SET crash_count = crash_count + 1 RETURNING crash_count',
        );
        const event = makeEvent('crash_detected', this.instanceId, {
          dead_container: dead.container_id,
          dead_pid: dead.pid,
          dead_started_at: dead.started_at,
          crash_count: Number(counted[0]?.crash_count),
        });
        events.push({ event, position: (await this.appendEvent(client, event)) as number });
      }
      return { rows, events };
    });
    for (const { event, position } of found.events) await this.announce(event, position);
    return found.rows.map((row) => ({
      container: row.container_id,
      pid: row.pid,
      started_at: row.started_at,
    }));
  }

  async recordCrash(): Promise<number> {
    const crashed = await this.transaction('counting a crash', async (client) => {
      // Counted here, so no other replica counts this death again.
      await client.query(`UPDATE replicas SET state = 'crashed' WHERE container_id = $1`, [
        this.instanceId,
      ]);
      const { rows } = await client.query<{ crash_count: string }>(
        'UPDATE counters SET crash_count = crash_count + 1 RETURNING crash_count',
      );
      const crashCount = Number(rows[0]?.crash_count);
      const event = makeEvent('crash_triggered', this.instanceId, { crash_count: crashCount });
      return { crashCount, event, position: (await this.appendEvent(client, event)) as number };
    });
    this.stopping = true;
    await this.announce(crashed.event, crashed.position);
    return crashed.crashCount;
  }

  async stopInstance(extra: EventExtra): Promise<void> {
    this.stopping = true;
    clearInterval(this.heartbeat);
    const event = makeEvent('shutdown', this.instanceId, extra);
    const position = await this.transaction('stopping', async (client) => {
      await client.query(`UPDATE replicas SET state = 'stopped' WHERE container_id = $1`, [
        this.instanceId,
      ]);
      return (await this.appendEvent(client, event)) as number;
    });
    await this.announce(event, position);
  }

  async liveInstances(): Promise<number> {
    const { rows } = await this.query<{ count: string }>(
      'counting replicas',
      `SELECT ${LIVE_REPLICAS} AS count`,
      [this.options.leaseMs / 1000],
    );
    return Number(rows[0]?.count ?? 0);
  }

  async overview(): Promise<StoreOverview> {
    const { rows } = await this.query<
      CounterRow & { live_sessions: string; live_replicas: string }
    >(
      'reading the state',
      `SELECT counters.*, (SELECT count(*) FROM sessions) AS live_sessions,
         ${LIVE_REPLICAS} AS live_replicas
       FROM counters`,
      [this.options.leaseMs / 1000],
    );
    const row = rows[0] as CounterRow & { live_sessions: string; live_replicas: string };
    const stats = toStats(row);
    return {
      stats: { ...stats, total_requests: stats.total_requests + this.unflushedRequests },
      liveSessions: Number(row.live_sessions),
      liveInstances: Number(row.live_replicas),
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.requestTimer);
    clearInterval(this.heartbeat);
    const listening = this.listening;
    this.listening = undefined;
    await listening?.end().catch(() => undefined);
    await this.deliveries;
    try {
      await this.flushStats();
    } finally {
      await this.pool.end();
    }
  }
}

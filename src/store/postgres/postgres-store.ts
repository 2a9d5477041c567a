/**
 * The PostgreSQL store (STORE=postgres): the same Store contract as the file
 * store, on a database that several replicas share.
 *
 *   create, update, delete   one transaction: the session row (locked with
 *                            FOR UPDATE for an update or delete, so concurrent
 *                            updates never lose an access_count increment),
 *                            the event, and the counters row; a 2xx answer
 *                            means it committed
 *   events                   positions are taken from counters.event_count
 *                            under that row's lock: dense, one total order,
 *                            committed in that order across every replica
 *   total_requests           counted in memory and added to the row about
 *                            once a second, as the file store does
 *
 * Reads go to the database, so every replica sees every replica's writes.
 * Not yet here (issue 7): crash accounting by replica leases, events of
 * other replicas on onEvent (LISTEN/NOTIFY).
 */
import pg from 'pg';
import type { InstanceMarker, Stats } from '../../domain/counters.js';
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
  type JsonObject,
  type Session,
  type SessionInput,
  sessionNotFound,
} from '../../domain/session.js';
import type { EventListener, Store } from '../store.js';
import { migrate } from './migrations.js';

const REQUEST_FLUSH_INTERVAL_MS = 1000;

interface SessionRow {
  id: string;
  name: string;
  data: string;
  created_at: string;
  last_active: string;
  access_count: string;
}

interface CounterRow {
  startup_count: string;
  crash_count: string;
  total_sessions: string;
  total_requests: string;
  event_count: string;
}

function toSession(row: SessionRow): Session {
  return {
    id: row.id,
    name: row.name,
    data: JSON.parse(row.data) as JsonObject,
    created_at: row.created_at,
    last_active: row.last_active,
    access_count: Number(row.access_count),
  };
}

function toStats(row: CounterRow): Stats {
  return {
    startup_count: Number(row.startup_count),
    crash_count: Number(row.crash_count),
    total_sessions: Number(row.total_sessions),
    total_requests: Number(row.total_requests),
  };
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
  private marker: InstanceMarker | null = null;

  private constructor(
    readonly instanceId: string,
    private readonly pool: pg.Pool,
  ) {
    this.requestTimer = setInterval(() => {
      this.flushStats().catch(() => undefined); // retried on the next tick
    }, REQUEST_FLUSH_INTERVAL_MS);
    this.requestTimer.unref();
  }

  /** Connects, brings the schema up to date, and returns the store. */
  static async open(databaseUrl: string, instanceId: string): Promise<PostgresStore> {
    const pool = new pg.Pool({ connectionString: databaseUrl, max: 10 });
    pool.on('error', () => undefined); // an idle client's error; the next query reports it
    try {
      await migrate(pool);
    } catch (error) {
      await pool.end().catch(() => undefined);
      throw error;
    }
    return new PostgresStore(instanceId, pool);
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

  /** Appends an event inside `client`'s transaction; returns its position. */
  private async appendEvent(
    client: pg.PoolClient,
    event: ServiceEvent,
    counterChange = '',
  ): Promise<number> {
    const { rows } = await client.query<{ event_count: string }>(
      `UPDATE counters SET event_count = event_count + 1${counterChange} RETURNING event_count`,
    );
    const position = Number(rows[0]?.event_count);
    await client.query('INSERT INTO events (position, line) VALUES ($1, $2)', [
      position,
      JSON.stringify(event),
    ]);
    return position;
  }

  private announce(event: ServiceEvent, position: number): void {
    for (const listener of this.listeners) {
      try {
        listener(event, position);
      } catch {
        // A listener's failure is its own.
      }
    }
  }

  // Sessions

  async createSession(input: SessionInput): Promise<Session> {
    const session = createSession(input);
    const event = makeEvent('session_created', this.instanceId, {
      session_id: session.id,
      name: session.name,
    });
    const position = await this.transaction('creating a session', async (client) => {
      const at = await this.appendEvent(client, event, ', total_sessions = total_sessions + 1');
      await client.query(
        `INSERT INTO sessions (id, name, data, created_at, last_active, access_count)
         VALUES ($1, $2, $3, $4, $5, $6)`,
        [
          session.id,
          session.name,
          JSON.stringify(session.data),
          session.created_at,
          session.last_active,
          session.access_count,
        ],
      );
      return at;
    });
    this.announce(event, position);
    return session;
  }

  async getSession(id: string): Promise<Session | undefined> {
    if (!isSessionId(id)) return undefined;
    const { rows } = await this.query<SessionRow>(
      'reading a session',
      'SELECT id, name, data, created_at, last_active, access_count FROM sessions WHERE id = $1',
      [id],
    );
    return rows[0] === undefined ? undefined : toSession(rows[0]);
  }

  async listSessions(): Promise<readonly Session[]> {
    const { rows } = await this.query<SessionRow>(
      'listing sessions',
      'SELECT id, name, data, created_at, last_active, access_count FROM sessions ORDER BY seq',
    );
    return rows.map(toSession);
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

  async updateSession(id: string, input: SessionInput): Promise<Session> {
    if (!isSessionId(id)) throw sessionNotFound(id);
    const event = makeEvent('session_updated', this.instanceId, { session_id: id });
    const { session, position } = await this.transaction('updating a session', async (client) => {
      const { rows } = await client.query<SessionRow>(
        `SELECT id, name, data, created_at, last_active, access_count
         FROM sessions WHERE id = $1 FOR UPDATE`,
        [id],
      );
      if (rows[0] === undefined) throw sessionNotFound(id);
      const next = applyUpdate(toSession(rows[0]), input);
      await client.query(
        `UPDATE sessions SET name = $2, data = $3, last_active = $4, access_count = $5
         WHERE id = $1`,
        [id, next.name, JSON.stringify(next.data), next.last_active, next.access_count],
      );
      return { session: next, position: await this.appendEvent(client, event) };
    });
    this.announce(event, position);
    return session;
  }

  async deleteSession(id: string): Promise<void> {
    if (!isSessionId(id)) throw sessionNotFound(id);
    const event = makeEvent('session_deleted', this.instanceId, { session_id: id });
    const position = await this.transaction('deleting a session', async (client) => {
      const { rowCount } = await client.query('DELETE FROM sessions WHERE id = $1', [id]);
      if (rowCount === 0) throw sessionNotFound(id);
      return this.appendEvent(client, event);
    });
    this.announce(event, position);
  }

  // Events

  async recordEvent(kind: EventKind, extra: EventExtra = {}): Promise<void> {
    const event = makeEvent(kind, this.instanceId, extra);
    const position = await this.transaction(`logging ${kind}`, (client) =>
      this.appendEvent(client, event),
    );
    this.announce(event, position);
  }

  onEvent(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async recentEvents(limit: number): Promise<ServiceEvent[]> {
    const { rows } = await this.query<{ line: string }>(
      'reading events',
      'SELECT line FROM events ORDER BY position DESC LIMIT $1',
      [limit],
    );
    return rows.reverse().map((row) => JSON.parse(row.line) as ServiceEvent);
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

  // This replica's row

  readMarker(): InstanceMarker | null {
    return this.marker;
  }

  async writeMarker(marker: InstanceMarker): Promise<void> {
    await this.query(
      'recording this replica',
      `INSERT INTO replicas (container_id, pid, started_at, state, startup_count, crash_count)
       VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (container_id) DO UPDATE SET state = $4, startup_count = $5,
         crash_count = $6, heartbeat_at = now()`,
      [
        marker.container,
        marker.pid,
        marker.started_at,
        marker.state,
        marker.startup_count,
        marker.crash_count,
      ],
    );
    this.marker = marker;
  }

  async close(): Promise<void> {
    clearInterval(this.requestTimer);
    try {
      await this.flushStats();
    } finally {
      await this.pool.end();
    }
  }
}

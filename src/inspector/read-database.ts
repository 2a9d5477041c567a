/**
 * `stateful inspect --database-url URL`: the same report as for a data
 * directory, read from a PostgreSQL store's database in one read-only
 * snapshot, with no replica involved (they may all be down), plus the
 * replicas' rows: who started when, and how each one ended.
 */
import pg from 'pg';
import type { ServiceEvent } from '../domain/event.js';
import { utcTimestamp } from '../domain/time.js';
import {
  type CounterRow,
  SESSION_COLUMNS,
  type SessionRow,
  toSession,
  toStats,
} from '../store/postgres/rows.js';
import {
  type ExpiredSessions,
  expiredSession,
  MAX_LISTED_EXPIRED,
  type StoreReport,
} from './read-data-dir.js';

export interface ReplicaRow {
  container_id: string;
  pid: number;
  started_at: string;
  state: string;
  heartbeat_at: string;
}

export interface DatabaseReport extends StoreReport {
  /** The database's URL, without its password. */
  database: string;
  replicas: ReplicaRow[];
}

/** The URL without its password, for printing. */
function shown(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'the database';
  }
}

export class NotAStoreDatabaseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotAStoreDatabaseError';
  }
}

/**
 * The sessions expired at `now` that no replica's sweep has removed yet
 * (replicas hide them from that second on): how many, and the first few.
 */
async function readExpired(client: pg.Client, now: Date): Promise<ExpiredSessions> {
  // As the store's sweep asks (its partial index on expires_at): one format, text order is time order.
  const at = utcTimestamp(now);
  const count = await client.query<{ count: string }>(
    `SELECT count(*) AS count FROM sessions WHERE expires_at <= $1`,
    [at],
  );
  const rows = await client.query<SessionRow>(
    `SELECT ${SESSION_COLUMNS} FROM sessions WHERE expires_at <= $1 ORDER BY seq LIMIT $2`,
    [at, MAX_LISTED_EXPIRED],
  );
  return {
    count: Number(count.rows[0]?.count),
    sessions: rows.rows.map(toSession).map(expiredSession),
  };
}

/**
 * `sessionLimit`: read only the first and the last that many sessions (null:
 * every one), so a report of a million sessions reads a page, not a table.
 */
export async function readDatabase(
  url: string,
  eventLimit: number,
  sessionLimit: number | null = null,
): Promise<DatabaseReport> {
  const client = new pg.Client(url);
  try {
    await client.connect();
  } catch (error) {
    throw new NotAStoreDatabaseError(
      `Cannot connect to ${shown(url)}: ${(error as Error).message}`,
    );
  }
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const tables = await client.query("SELECT to_regclass('counters') IS NOT NULL AS ours");
    if (tables.rows[0]?.ours !== true) {
      throw new NotAStoreDatabaseError(
        `${shown(url)} has no counters table: no PostgreSQL store has run on it.`,
      );
    }
    const counters = (await client.query<CounterRow>('SELECT * FROM counters'))
      .rows[0] as CounterRow;
    const sessionCount = Number(
      (await client.query<{ count: string }>('SELECT count(*) AS count FROM sessions')).rows[0]
        ?.count,
    );
    const sessions = await client.query<SessionRow>(
      sessionLimit === null || sessionCount <= 2 * sessionLimit
        ? `SELECT ${SESSION_COLUMNS} FROM sessions ORDER BY seq`
        : `SELECT * FROM (
             (SELECT ${SESSION_COLUMNS}, seq FROM sessions ORDER BY seq LIMIT $1)
             UNION ALL
             (SELECT ${SESSION_COLUMNS}, seq FROM sessions ORDER BY seq DESC LIMIT $1)
           ) ends ORDER BY seq`,
      sessionLimit === null || sessionCount <= 2 * sessionLimit ? [] : [sessionLimit],
    );
    const events = await client.query<{ line: string }>(
      'SELECT line FROM events ORDER BY position DESC LIMIT $1',
      [eventLimit],
    );
    const expired = await readExpired(client, new Date());
    const { rows: oldest } = await client.query<{ oldest: string | null }>(
      'SELECT min(position) AS oldest FROM events',
    );
    const replicas = await client.query<ReplicaRow>(
      `SELECT container_id, pid, started_at, state, heartbeat_at::text AS heartbeat_at
       FROM replicas ORDER BY started_at, container_id`,
    );
    await client.query('COMMIT');
    return {
      database: shown(url),
      stats: toStats(counters),
      problems: [],
      sessionCount,
      sessions: () => sessions.rows.map(toSession),
      unreadableSessions: [],
      events: events.rows.reverse().map((row) => JSON.parse(row.line) as ServiceEvent),
      eventCount: Number(counters.event_count),
      eventsDropped:
        oldest[0]?.oldest == null ? Number(counters.event_count) : Number(oldest[0].oldest) - 1,
      lastInstance: null,
      journalChanges: 0,
      expired,
      replicas: replicas.rows,
    };
  } finally {
    await client.end();
  }
}

/**
 * The PostgreSQL store's connection pool and the statements every part of it
 * shares: a query or a transaction whose failures the client may be told
 * about without leaking their text, and the one statement that appends an
 * event (numbered under the counters row's lock, NOTIFYing every replica).
 */
import pg from 'pg';
import { StorageUnavailableError } from '../../domain/errors.js';
import { type ServiceEvent, serializeEvent } from '../../domain/event.js';
import { cleanUpAfter } from '../cleanup.js';
import type { BackgroundReporter } from '../store.js';

/** NOTIFY channel: the position of each committed event, for every replica. */
export const EVENT_CHANNEL = 'stateful_events';

/** A database error the client can be told about without leaking its text. */
export function unavailable(error: unknown, doing: string): Error {
  if (error instanceof Error && 'statusCode' in error) return error; // ours already
  const code = (error as { code?: unknown }).code;
  return new StorageUnavailableError(
    `The database failed while ${doing} (${typeof code === 'string' ? code : 'no answer'}); nothing was changed. Retry later.`,
  );
}

export type Client = pg.Pool | pg.PoolClient;

/**
 * Runs `work` in a transaction on `client` and releases it; rolls back on any
 * error (which it rethrows as it is). A connection that cannot even roll back
 * is closed rather than given back to the pool.
 */
export async function inTransaction<T>(
  client: pg.PoolClient,
  work: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  // The pool listens for errors only on idle clients: a connection lost while
  // this one is checked out (the server died) would be an uncaught exception
  // and end the process. The statement in flight fails with it anyway.
  const lost = () => undefined;
  client.on('error', lost);
  let result: T;
  try {
    await client.query('BEGIN');
    result = await work(client);
    await client.query('COMMIT');
  } catch (error) {
    let rolledBack = true;
    await cleanUpAfter(error, async () => {
      rolledBack = false;
      await client.query('ROLLBACK');
      rolledBack = true;
    });
    client.removeListener('error', lost);
    client.release(!rolledBack);
    throw error;
  }
  client.removeListener('error', lost);
  client.release();
  return result;
}

export class Database {
  private constructor(readonly pool: pg.Pool) {}

  static connect(databaseUrl: string, background: BackgroundReporter): Database {
    // Short statements only: JIT compiling one (the planner guesses high costs
    // for the tiny counters table) took longer than running it a hundred times.
    const pool = new pg.Pool({ connectionString: databaseUrl, max: 10, options: '-c jit=off' });
    // An idle client's error (the server restarted, the network dropped it):
    // reported; the pool replaces the client, the next query reconnects.
    pool.on('error', (error) => background.failed('idle_connection', error, true));
    return new Database(pool);
  }

  async query<R extends pg.QueryResultRow>(doing: string, text: string, values?: unknown[]) {
    try {
      return await this.pool.query<R>(text, values);
    } catch (error) {
      throw unavailable(error, doing);
    }
  }

  /** Runs `work` in a transaction; rolls back on any error. */
  async transaction<T>(doing: string, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw unavailable(error, doing);
    }
    try {
      return await inTransaction(client, work);
    } catch (error) {
      throw unavailable(error, doing);
    }
  }

  /**
   * Appends `event` in one statement: numbers it under the counters row's
   * lock, inserts it, and notifies every replica at commit. Runs as the last
   * statement of a transaction, or alone (then it is its own transaction), so
   * the lock is held only for it and the commit. Returns its position.
   */
  async appendEvent(client: Client, event: ServiceEvent): Promise<number> {
    const { rows } = await client.query<{ event_count: string }>(
      `WITH counted AS (
         UPDATE counters SET event_count = event_count + 1 RETURNING event_count
       ),
       logged AS (INSERT INTO events (position, line) SELECT event_count, $1 FROM counted)
       SELECT event_count, pg_notify('${EVENT_CHANNEL}', event_count::text) FROM counted`,
      [serializeEvent(event)],
    );
    return Number(rows[0]?.event_count);
  }

  /** appendEvent on its own, as one statement (its own transaction); its position. */
  async commitEvent(doing: string, event: ServiceEvent): Promise<number> {
    try {
      return await this.appendEvent(this.pool, event);
    } catch (error) {
      throw unavailable(error, doing);
    }
  }

  end(): Promise<void> {
    return this.pool.end();
  }
}

/**
 * The PostgreSQL schema, created and migrated by the service itself. Each
 * migration runs once, in order, recorded in `schema_migrations`; the whole
 * run holds a transaction-scoped advisory lock, so replicas starting at the
 * same moment migrate one after the other and the later ones find nothing
 * to do.
 *
 * Session `data` and event lines are kept as JSON text, not jsonb: jsonb
 * reorders keys, and the wire format keeps them as the client sent them.
 */
import type { Pool } from 'pg';
import { inTransaction } from './database.js';

/** Any fixed number, the same in every replica. */
const MIGRATION_LOCK = 74_332_011;

export const MIGRATIONS: readonly { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: 'sessions, events, counters',
    sql: `
      CREATE TABLE counters (
        singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
        startup_count bigint NOT NULL DEFAULT 0,
        crash_count bigint NOT NULL DEFAULT 0,
        total_sessions bigint NOT NULL DEFAULT 0,
        total_requests bigint NOT NULL DEFAULT 0,
        -- Events so far: the next event's position, taken under this row's lock,
        -- so positions are dense and commit in their order.
        event_count bigint NOT NULL DEFAULT 0
      );
      INSERT INTO counters DEFAULT VALUES;
      CREATE TABLE sessions (
        id uuid PRIMARY KEY,
        seq bigserial NOT NULL UNIQUE,
        name text NOT NULL,
        data text NOT NULL,
        created_at text NOT NULL,
        last_active text NOT NULL,
        access_count bigint NOT NULL
      );
      CREATE TABLE events (
        position bigint PRIMARY KEY,
        line text NOT NULL
      );
      CREATE TABLE replicas (
        container_id text PRIMARY KEY,
        pid integer NOT NULL,
        started_at text NOT NULL,
        state text NOT NULL,
        startup_count bigint NOT NULL,
        crash_count bigint NOT NULL,
        heartbeat_at timestamptz NOT NULL DEFAULT now()
      );
    `,
  },
  {
    version: 2,
    name: 'session expiry',
    // NULL in all three: a session that never expires (every session before).
    // The partial index holds only the sessions that expire, for the sweep.
    sql: `
      ALTER TABLE sessions
        ADD COLUMN expires_at text,
        ADD COLUMN ends_at text,
        ADD COLUMN idle_seconds bigint;
      CREATE INDEX sessions_expiring ON sessions (expires_at) WHERE expires_at IS NOT NULL;
    `,
  },
  {
    version: 3,
    name: 'expired_sessions',
    sql: 'ALTER TABLE counters ADD COLUMN expired_sessions bigint NOT NULL DEFAULT 0;',
  },
];

/** Brings the schema up to date; returns the versions it applied. */
export async function migrate(pool: Pool): Promise<number[]> {
  return inTransaction(await pool.connect(), async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await client.query(
      `CREATE TABLE IF NOT EXISTS schema_migrations (
         version integer PRIMARY KEY,
         name text NOT NULL,
         applied_at timestamptz NOT NULL DEFAULT now()
       )`,
    );
    const done = new Set(
      (await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map(
        (row) => row.version,
      ),
    );
    const applied: number[] = [];
    for (const migration of MIGRATIONS) {
      if (done.has(migration.version)) continue;
      await client.query(migration.sql);
      await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [
        migration.version,
        migration.name,
      ]);
      applied.push(migration.version);
    }
    return applied;
  });
}

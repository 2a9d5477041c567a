/**
 * The PostgreSQL store's rows as the domain sees them: one mapping for the
 * store, the inspector and `stateful migrate`. Counts are bigint, which the
 * pg client hands over as strings.
 */
import type { Stats } from '../../domain/counters.js';
import type { JsonObject, Session, SessionJson } from '../../domain/session.js';

/** The session columns, in the order toSession reads them. */
export const SESSION_COLUMNS = 'id, name, data, created_at, last_active, access_count';

export interface SessionRow {
  id: string;
  name: string;
  data: string;
  created_at: string;
  last_active: string;
  access_count: string;
}

export interface CounterRow {
  startup_count: string;
  crash_count: string;
  total_sessions: string;
  total_requests: string;
  event_count: string;
}

export function toSession(row: SessionRow): Session {
  return {
    id: row.id,
    name: row.name,
    data: JSON.parse(row.data) as JsonObject,
    created_at: row.created_at,
    last_active: row.last_active,
    access_count: Number(row.access_count),
  };
}

/** A row as the listings and pages send it. */
export function toSessionJson(row: SessionRow): SessionJson {
  return JSON.stringify(toSession(row));
}

export function toStats(row: CounterRow): Stats {
  return {
    startup_count: Number(row.startup_count),
    crash_count: Number(row.crash_count),
    total_sessions: Number(row.total_sessions),
    total_requests: Number(row.total_requests),
  };
}

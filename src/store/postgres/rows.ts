/**
 * The PostgreSQL store's rows as the domain sees them: one mapping for the
 * store, the inspector and `stateful migrate` (a session's, session-codec.ts).
 * Counts are bigint, which the pg client hands over as strings.
 */
import type { Stats } from '../../domain/counters.js';

// A session's columns are mapped in one place, the codec.
export { SESSION_COLUMNS, type SessionRow, toSession, toSessionJson } from './session-codec.js';

export interface CounterRow {
  startup_count: string;
  crash_count: string;
  total_sessions: string;
  total_requests: string;
  expired_sessions: string;
  event_count: string;
}

export function toStats(row: CounterRow): Stats {
  return {
    startup_count: Number(row.startup_count),
    crash_count: Number(row.crash_count),
    total_sessions: Number(row.total_sessions),
    total_requests: Number(row.total_requests),
    expired_sessions: Number(row.expired_sessions),
  };
}

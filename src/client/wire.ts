/**
 * The answers' shapes as the client sees them, written out as plain types so
 * the client package needs nothing of the server (no TypeBox, no schemas) to
 * be type-checked. They are the schemas' in http/schemas.ts and
 * domain/schemas.ts, key for key: test/client/wire-types.test.ts checks each
 * against its schema when the tests compile, so neither can change alone.
 */

/** Any JSON object: a session's `data`. */
export type JsonObject = { [key: string]: unknown };

/** A session, in the original's key order. */
export interface Session {
  /** A lower-case UUID. */
  id: string;
  name: string;
  data: JsonObject;
  /** UTC, `YYYY-MM-DDTHH:MM:SSZ`. */
  created_at: string;
  /** UTC, `YYYY-MM-DDTHH:MM:SSZ`. */
  last_active: string;
  access_count: number;
  /** When it is gone (UTC, `YYYY-MM-DDTHH:MM:SSZ`): only on a session that expires. */
  expires_at?: string;
  /** The end of its lifetime, never moved; null: none. Only on a session that expires. */
  ends_at?: string | null;
  /** Its idle timeout in seconds; null: none. Only on a session that expires. */
  idle_seconds?: number | null;
}

/** The body of a create or an update: each field optional, others ignored. */
export interface SessionInput {
  /** At most 200 characters. */
  name?: string;
  data?: JsonObject;
  /** A lifetime from now, in seconds (1 to about 100 years); null: none; absent: kept (SESSION_TTL on a create). */
  ttl_seconds?: number | null;
  /** An idle timeout in seconds; null: none; absent: kept (SESSION_IDLE_TIMEOUT on a create). */
  idle_seconds?: number | null;
}

/** GET /sessions?limit=…: a page of sessions. */
export interface SessionPage {
  sessions: Session[];
  /** Sessions on this page. */
  count: number;
  /** The cursor of the next page (pass it as `after`), null on the last page. */
  next: string | null;
  /** With a search: how many sessions this page looked at to find its matches. */
  scanned?: number;
}

/** GET /sessions with no parameters: every live session (the original's listing). */
export interface SessionListing {
  sessions: Session[];
  /** Every live session. */
  count: number;
}

/** One line of the event log: the original's four keys, then the kind's own. */
export interface LoggedEvent {
  /** Epoch seconds. */
  ts: number;
  /** UTC, `YYYY-MM-DDTHH:MM:SSZ`. */
  time: string;
  /** The kind: `startup`, `session_created`, … */
  event: string;
  /** The instance that logged it. */
  container: string;
  /** The kind's own keys (`session_id`, `crash_count`, …). */
  [key: string]: unknown;
}

/**
 * GET /events as the service sends it. `next` comes only with `before=`;
 * the client's EventPage (event-pages.ts) always has it, and the positions.
 */
export interface EventPageAnswer {
  /** Oldest first. */
  events: LoggedEvent[];
  /** Every event ever logged: the position of the last. */
  count: number;
  /** Once the retention policy dropped events: the position of the oldest kept. */
  oldest?: number;
  /** With `before=`: the `before` of the older page, null at the oldest event kept. */
  next?: number | null;
}

/** `ok`, or `degraded` with the reasons in `problems`. */
export type HealthStatus = 'ok' | 'degraded';

/** GET /health: the original's keys (status, container, uptime), then ours. */
export interface Health {
  status: HealthStatus;
  container: string;
  uptime: number;
  container_id: string;
  uptime_seconds: number;
  /** Why the service is degraded, in words; empty when it is not. */
  problems: string[];
}

/** GET /state: this instance and the counters kept across instances. */
export interface State {
  container_id: string;
  uptime_seconds: number;
  requests_this_instance: number;
  startup_count: number;
  crash_count: number;
  total_sessions: number;
  total_requests: number;
  live_sessions: number;
  /** Replicas serving this data now. */
  live_replicas: number;
  /** Sessions the sweep removed once they expired (durable). */
  expired_sessions: number;
  status: HealthStatus;
  problems: string[];
}

/** DELETE /sessions/{id}. */
export interface Deleted {
  status: 'deleted';
  id: string;
}

/** POST /crash: the crash_count that counts this crash. */
export interface CrashAnswer {
  status: 'crashing';
  crash_count: number;
}

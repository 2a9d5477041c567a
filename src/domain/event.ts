/**
 * Events of the append-only log, in the original's line format:
 * `{"ts","time","event","container", …extra}`. The kinds the original wrote
 * keep their extras; the kinds added here describe what the original could
 * not see (deaths detected at boot, repairs, quarantined files, clean stops).
 */
import type { DeadInstance } from './counters.js';
import { InvalidInputError } from './errors.js';
import { epochSeconds, utcTimestamp } from './time.js';

export type EventKind =
  | 'startup'
  | 'shutdown'
  | 'session_created'
  | 'session_updated'
  | 'session_deleted'
  | 'session_expired'
  | 'session_touched'
  | 'session_adopted'
  | 'crash_triggered'
  | 'crash_detected'
  | 'log_repaired'
  | 'session_quarantined'
  | 'stats_recovered'
  | 'journal_replayed'
  | 'log_compacted';

export type EventExtra = Record<string, string | number | boolean | null>;

export interface ServiceEvent extends Record<string, unknown> {
  ts: number;
  time: string;
  event: string;
  container: string;
}

export function makeEvent(
  kind: EventKind,
  container: string,
  extra: EventExtra = {},
  now: Date = new Date(),
): ServiceEvent {
  return { ts: epochSeconds(now), time: utcTimestamp(now), event: kind, container, ...extra };
}

/**
 * Each event's line, made once: an event is a value, never changed once
 * made, and the one logged is answered again and again (GET /events, the
 * event stream) while the log keeps it in memory.
 */
const lines = new WeakMap<ServiceEvent, string>();

/**
 * An event as its line in the log: JSON with `ts` always a float, as Python's
 * `json.dumps(time.time())` writes it (`1796193355.0`, not `1796193355`, in
 * the one millisecond of a thousand that is a whole second), so readers that
 * check its type, as the original's may, see what they always saw.
 */
export function serializeEvent(event: ServiceEvent): string {
  let line = lines.get(event);
  if (line === undefined) {
    line = JSON.stringify(event);
    if (Number.isInteger(event.ts)) line = line.replace(`"ts":${event.ts}`, `"ts":${event.ts}.0`);
    lines.set(event, line);
  }
  return line;
}

// What each change and each turn of an instance's life logs, for every store.

export function sessionCreatedEvent(
  container: string,
  session: { id: string; name: string },
): ServiceEvent {
  return makeEvent('session_created', container, { session_id: session.id, name: session.name });
}

export function sessionUpdatedEvent(container: string, id: string): ServiceEvent {
  return makeEvent('session_updated', container, { session_id: id });
}

export function sessionDeletedEvent(container: string, id: string): ServiceEvent {
  return makeEvent('session_deleted', container, { session_id: id });
}

/**
 * Logged by the sweep that removed an expired session at `now` (the store's
 * clock): who (its id and name), when it expired (its `expires_at`) and why
 * (its lifetime ended, or it sat idle).
 */
export function sessionExpiredEvent(
  container: string,
  session: { id: string; name: string; expires_at: string },
  reason: 'lifetime' | 'idle',
  now: Date,
): ServiceEvent {
  return makeEvent(
    'session_expired',
    container,
    { session_id: session.id, name: session.name, reason, expired_at: session.expires_at },
    now,
  );
}

/**
 * Logged when a read moved a session's idle expiry (SESSION_TOUCH=reads):
 * the session and its new expires_at. Throttled: at most about ten an idle
 * period a session (see domain/expiry.ts `touched`).
 */
export function sessionTouchedEvent(
  container: string,
  session: { id: string; expires_at: string },
): ServiceEvent {
  return makeEvent('session_touched', container, {
    session_id: session.id,
    expires_at: session.expires_at,
  });
}

/**
 * The first line of events.jsonl once retention dropped its head (see
 * store/file/log-head.ts): how many events came before it and, of them, how
 * many created or expired a session, and the byte offset the line stands at
 * in the log's whole history.
 */
export function logCompactedEvent(
  container: string,
  head: { dropped: number; offset: number; created: number; expired: number },
  now: Date,
): ServiceEvent {
  return makeEvent(
    'log_compacted',
    container,
    {
      dropped: head.dropped,
      offset: head.offset,
      created: head.created,
      expired: head.expired,
    },
    now,
  );
}

export function startupEvent(
  container: string,
  counts: { startupCount: number; crashCount: number },
): ServiceEvent {
  return makeEvent('startup', container, {
    startup_count: counts.startupCount,
    crash_count: counts.crashCount,
  });
}

/** Logged by the instance that found `dead`, with the crash_count that includes it. */
export function crashDetectedEvent(
  container: string,
  dead: DeadInstance,
  crashCount: number,
): ServiceEvent {
  return makeEvent('crash_detected', container, {
    dead_container: dead.container,
    dead_pid: dead.pid,
    dead_started_at: dead.started_at,
    crash_count: crashCount,
  });
}

export function crashTriggeredEvent(container: string, crashCount: number): ServiceEvent {
  return makeEvent('crash_triggered', container, { crash_count: crashCount });
}

export function shutdownEvent(
  container: string,
  stop: { reason: string; uptimeSeconds: number },
): ServiceEvent {
  return makeEvent('shutdown', container, {
    reason: stop.reason,
    uptime_seconds: stop.uptimeSeconds,
  });
}

export function isServiceEvent(value: unknown): value is ServiceEvent {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const record = value as Record<string, unknown>;
  return typeof record.event === 'string';
}

export const DEFAULT_EVENT_LIMIT = 50;
export const MAX_EVENT_LIMIT = 10_000;

/** The largest position a query or header may name: 15 digits, exact as a double. */
export const MAX_POSITION = 999_999_999_999_999;

/** An event's position (its line number in the log, its SSE id) from a query or header. */
export function parsePosition(raw: unknown, what: string): number | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || !/^\d{1,15}$/.test(raw)) {
    throw new InvalidInputError(`${what} must be a non-negative integer (an event's id).`);
  }
  return Number(raw);
}

/** `?limit=N`: an integer from 1 to MAX_EVENT_LIMIT, DEFAULT_EVENT_LIMIT when absent. */
export function parseEventLimit(raw: unknown): number {
  if (raw === undefined) return DEFAULT_EVENT_LIMIT;
  if (typeof raw !== 'string' || !/^\d{1,6}$/.test(raw)) {
    throw new InvalidInputError(`"limit" must be an integer from 1 to ${MAX_EVENT_LIMIT}.`);
  }
  const limit = Number(raw);
  if (limit < 1 || limit > MAX_EVENT_LIMIT) {
    throw new InvalidInputError(`"limit" must be an integer from 1 to ${MAX_EVENT_LIMIT}.`);
  }
  return limit;
}

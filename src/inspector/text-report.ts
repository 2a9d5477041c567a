/**
 * The inspector's reports: the text laid out as the original's (three ruled
 * sections, persistent stats, sessions, recent events, then anything wrong)
 * and the JSON for scripts. Both are written a line (a session) at a time,
 * so a report of any size never sits in memory whole.
 */
import type { ServiceEvent } from '../domain/event.js';
import { printable } from '../domain/printable.js';
import type { Session } from '../domain/session.js';
import type { StoreReport } from './read-data-dir.js';
import type { ReplicaRow } from './read-database.js';

const RULE = '─'.repeat(62);
const EVENT_BASE_KEYS = new Set(['ts', 'time', 'event', 'container']);

function section(title: string): string[] {
  return [RULE, `  ${title}`, RULE];
}

/**
 * Extras as the original printed them (a Python dict's repr), so old eyes and
 * scripts still match; control characters escaped as Python's repr does.
 */
function pythonRepr(value: unknown): string {
  if (value === null) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (typeof value === 'string') {
    return `'${printable(value.replace(/\\/g, '\\\\').replace(/'/g, "\\'"), 'python')}'`;
  }
  if (typeof value === 'number') return String(value);
  if (Array.isArray(value)) return `[${value.map(pythonRepr).join(', ')}]`;
  if (typeof value === 'object') {
    const fields = Object.entries(value as Record<string, unknown>).map(
      ([key, inner]) => `${pythonRepr(key)}: ${pythonRepr(inner)}`,
    );
    return `{${fields.join(', ')}}`;
  }
  return String(value);
}

function eventLine(event: ServiceEvent): string {
  const extras = Object.fromEntries(
    Object.entries(event).filter(([key]) => !EVENT_BASE_KEYS.has(key)),
  );
  return `  ${String(event.time ?? '')}  [${String(event.container ?? '')}]  ${event.event}  ${pythonRepr(extras)}`;
}

/**
 * The report's sessions, each as `render` makes it, or with `limit` the first
 * and the last `limit` of them and, between, how many were skipped: read one
 * at a time, the last ones kept rendered in a ring (a text row, not the
 * session and its data), so memory stays bounded whatever the count.
 */
function* shownSessions<T>(
  report: StoreReport,
  limit: number | null,
  render: (session: Session) => T,
): Generator<{ shown: T } | { skipped: number }> {
  let shown = 0;
  const ring: T[] = [];
  let after = 0;
  for (const session of report.sessions()) {
    if (limit === null || shown < limit) {
      shown++;
      yield { shown: render(session) };
    } else {
      ring[after % limit] = render(session);
      after++;
    }
  }
  const start = limit === null ? 0 : after % limit;
  const last = after > ring.length ? [...ring.slice(start), ...ring.slice(0, start)] : ring;
  const skipped = report.sessionCount - shown - last.length;
  if (skipped > 0) yield { skipped };
  for (const rendered of last) yield { shown: rendered };
}

/**
 * The text report, line by line. `sessionLimit`: show the first and the last
 * that many sessions (null: every one), so a report of a million sessions
 * stays a page long. Whatever the files hold, no line holds a character a
 * terminal would act on (see printable).
 */
export function* textReportLines(
  report: StoreReport,
  eventLimit: number,
  sessionLimit: number | null,
): Generator<string> {
  for (const line of reportLines(report, eventLimit, sessionLimit)) yield printable(line);
}

function* reportLines(
  report: StoreReport,
  eventLimit: number,
  sessionLimit: number | null,
): Generator<string> {
  yield* section('PERSISTENT STATS');
  if (report.stats === null) yield '  (stats.json missing or unreadable)';
  else
    for (const [key, value] of Object.entries(report.stats)) yield `  ${key.padEnd(28)} ${value}`;
  yield '';

  yield* section('SESSIONS');
  yield `  ${'ID'.padEnd(38)}${'NAME'.padEnd(22)}${'ACCESSES'.padStart(8)}  CREATED`;
  yield `  ${'·'.repeat(78)}`;
  const row = (session: Session) => {
    const name = [...printable(session.name)].slice(0, 20).join('');
    return `  ${session.id.padEnd(38)}${name.padEnd(22)}${String(session.access_count).padStart(8)}  ${session.created_at}`;
  };
  for (const item of shownSessions(report, sessionLimit, row)) {
    yield 'skipped' in item
      ? `  … ${item.skipped} more (--sessions all shows every one, --sessions N the first and last N)`
      : item.shown;
  }
  yield '';
  yield `  Total: ${report.sessionCount}`;
  if (report.journalChanges > 0) {
    yield `  (${report.journalChanges} of the latest changes are in journal/ and shown applied; ` +
      'the service writes them to sessions/ within five seconds, or at its next start)';
  }
  yield '';

  yield* section(`RECENT EVENTS  (last ${eventLimit})`);
  for (const event of report.events) yield eventLine(event);
  yield '';
  yield `  Total events: ${report.eventCount}`;
  if (report.eventsDropped > 0) {
    yield `  (the retention policy dropped the oldest ${report.eventsDropped}; the oldest kept is number ${report.eventsDropped + 1})`;
  }

  const replicas = (report as { replicas?: ReplicaRow[] }).replicas;
  if (replicas !== undefined) {
    yield '';
    yield* section('REPLICAS');
    for (const replica of replicas) {
      yield `  ${replica.container_id}  pid ${String(replica.pid).padEnd(8)}started ${replica.started_at}  ${replica.state.padEnd(8)}  last heartbeat ${replica.heartbeat_at}`;
    }
  }

  yield* expiredLines(report);

  if (report.lastInstance !== null) {
    const last = report.lastInstance;
    yield '';
    yield `  Last instance: ${last.container} (pid ${last.pid}, started ${last.started_at}), ${last.state}`;
  }
  if (report.problems.length > 0) {
    yield '';
    yield* section('PROBLEMS');
    for (const problem of report.problems) yield `  ! ${problem}`;
  }
}

/** The sessions expired and not yet swept, if any: a section of their own, as they are not damage. */
function* expiredLines(report: StoreReport): Generator<string> {
  const { count, sessions } = report.expired;
  if (count === 0) return;
  yield '';
  yield* section(`EXPIRED, NOT YET SWEPT  (${count})`);
  yield `  Listed above but served by no request; the service's sweep removes each, with a session_expired event.`;
  for (const session of sessions) {
    const name = [...printable(session.name)].slice(0, 20).join('');
    yield `  ${session.id.padEnd(38)}${name.padEnd(22)}expired ${session.expires_at} (${session.reason})`;
  }
  if (count > sessions.length) yield `  … ${count - sessions.length} more`;
}

/**
 * The JSON report, a piece at a time: the report's fields as
 * `JSON.stringify(report, null, 2)` would write them, then `sessions`, the
 * array of every session, last.
 */
export function* jsonReportPieces(
  report: StoreReport,
  sessionLimit: number | null,
): Generator<string> {
  const { sessions: _all, ...rest } = report;
  const omitted =
    sessionLimit === null
      ? {}
      : { sessionsOmitted: Math.max(0, report.sessionCount - 2 * sessionLimit) };
  const fields = JSON.stringify({ ...rest, ...omitted }, null, 2);
  yield `${fields.slice(0, fields.lastIndexOf('\n}'))},\n  "sessions": [`;
  let first = true;
  const text = (session: Session) => JSON.stringify(session, null, 2).replace(/\n/g, '\n    ');
  for (const item of shownSessions(report, sessionLimit, text)) {
    if (!('shown' in item)) continue;
    yield `${first ? '' : ','}\n    ${item.shown}`;
    first = false;
  }
  yield `${first ? '' : '\n  '}]\n}\n`;
}

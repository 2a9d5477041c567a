/**
 * Session writes on PostgreSQL. Concurrent writes of a kind are committed
 * together (group commit, batcher.ts): one statement holds the session rows,
 * one event each and the counters, so a batch costs one WAL flush; a write's
 * promise resolves once its batch committed. An update applies only if the
 * session's access_count (bumped by every update: its version) is still the
 * one it was computed from; the caller reads again, or holds the row lock.
 * An update or a delete applies only to a session not yet expired when its
 * batch commits, so a write racing the expiry lands before it or finds
 * nothing: it never brings an expired session back.
 */
import { type ServiceEvent, serializeEvent } from '../../domain/event.js';
import type { Session } from '../../domain/session.js';
import { type Clock, utcTimestamp } from '../../domain/time.js';
import { Batcher } from './batcher.js';
import { type Client, type Database, EVENT_CHANNEL, unavailable } from './database.js';
import {
  assertMapped,
  SESSION_ASSIGNMENTS,
  SESSION_COLUMNS,
  type SessionValues,
  sessionArrayParameters,
  sessionParameters,
  unexpired,
} from './session-codec.js';

/** A session write: the new session (none for a delete) and its event. */
export interface SessionWrite {
  id: string;
  session?: Session;
  event: ServiceEvent;
  /** An update's condition: the access_count the new session was computed from. */
  version?: number;
  /**
   * An update that leaves `data` as it was (SessionChange.patch without
   * data): the column is not written again, so a large value keeps its
   * TOAST and the row written (and its WAL) is a few bytes.
   */
  dataKept?: boolean;
}

/** Where a statement takes the time its batch commits at (see commitWrites). */
const NOW = '$now';

/**
 * Each kind of write: the statement that applies it, and its counters.
 * `expire` is the sweep's: it deletes only what has expired, and runs in
 * the sweep's transaction, after it locked the rows.
 */
const STATEMENTS = {
  create: {
    sql: `INSERT INTO sessions (${SESSION_COLUMNS})
          SELECT ${SESSION_COLUMNS} FROM input ORDER BY n
          RETURNING id`,
    counters: ', total_sessions = total_sessions + (SELECT count(*) FROM done)',
    doing: 'creating a session',
  },
  update: {
    sql: `UPDATE sessions SET ${SESSION_ASSIGNMENTS}
          FROM input WHERE sessions.id = input.id AND sessions.access_count = input.version
            AND ${unexpired(NOW, 'sessions')}
          RETURNING sessions.id`,
    counters: '',
    doing: 'updating a session',
  },
  delete: {
    sql: `DELETE FROM sessions USING input
          WHERE sessions.id = input.id AND ${unexpired(NOW, 'sessions')}
          RETURNING sessions.id`,
    counters: '',
    doing: 'deleting a session',
  },
  expire: {
    sql: `DELETE FROM sessions USING input
          WHERE sessions.id = input.id AND sessions.expires_at <= ${NOW}
          RETURNING sessions.id`,
    counters: ', expired_sessions = expired_sessions + (SELECT count(*) FROM done)',
    doing: 'removing expired sessions',
  },
} as const;

export type WriteKind = keyof typeof STATEMENTS;

/**
 * Commits writes of one kind in one statement: the session rows, one event
 * each (numbered in the writes' order, after the log's end, under the
 * counters row's lock), the counters, and one NOTIFY. An update applies only
 * if the session's access_count is still `version`, and it and a delete only
 * if the session exists and has not expired at `now` (utcTimestamp of the
 * store's clock); an expire only if it has. Returns each write's event
 * position, or undefined for a write that did not apply.
 */
export async function commitWrites(
  client: Client,
  kind: WriteKind,
  writes: readonly SessionWrite[],
  now: string,
): Promise<(number | undefined)[]> {
  const column = <T>(pick: (write: SessionWrite) => T) => writes.map(pick);
  // A delete names only its id; an update that keeps `data` sends none (null: kept).
  const sessions = writes.map((write): SessionValues => {
    if (write.session === undefined) return { id: write.id };
    return write.dataKept === true ? { ...write.session, data: undefined } : write.session;
  });
  const sessionColumns = sessionParameters(sessions);
  const n = sessionColumns.length;
  // A create does not look at the time: PostgreSQL refuses a parameter no statement uses.
  const statement = STATEMENTS[kind].sql.replaceAll(NOW, () => `$${n + 3}::text`);
  const timed = statement !== STATEMENTS[kind].sql;
  const { rows } = await client.query<{ id: string; position: string }>(
    `WITH input AS (
       SELECT * FROM unnest(${sessionArrayParameters(1)}, $${n + 1}::bigint[], $${n + 2}::text[])
         WITH ORDINALITY
         AS input(${SESSION_COLUMNS}, version, line, n)
     ),
     done AS (${statement}),
     counted AS (
       UPDATE counters SET event_count = event_count + (SELECT count(*) FROM done)
         ${STATEMENTS[kind].counters}
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
      ...sessionColumns,
      column((write) => write.version ?? null),
      column((write) => serializeEvent(write.event)),
      ...(timed ? [now] : []),
    ],
  );
  const positions = new Map(rows.map((row) => [row.id, Number(row.position)]));
  return writes.map((write) => positions.get(write.id));
}

/**
 * A value the database refused (SQLSTATE class 22, data exception: U+0000
 * in text, say; 23, a constraint): one row's fault, so its batch is tried
 * again a row at a time and only that write fails.
 */
function refusedValue(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('22') || code.startsWith('23'));
}

/** The kinds of write a caller submits (the sweep commits its own). */
type SubmittedKind = Exclude<WriteKind, 'expire'>;

/**
 * The batched writes: one Batcher a kind, each committing through the pool,
 * at the time of `clock` when the batch commits (the latest any of its
 * writes could land at).
 */
export class SessionWrites {
  private readonly batchers: Record<SubmittedKind, Batcher<SessionWrite, number | undefined>>;

  constructor(database: Database, clock: Clock) {
    const batcher = (kind: SubmittedKind) =>
      new Batcher<SessionWrite, number | undefined>(
        (writes) => commitWrites(database.pool, kind, writes, utcTimestamp(new Date(clock()))),
        (write) => write.id,
        { failsAlone: refusedValue },
      );
    this.batchers = {
      create: batcher('create'),
      update: batcher('update'),
      delete: batcher('delete'),
    };
  }

  /** Commits `write` with the others of its kind; its event's position, undefined if it did not apply. */
  async submit(kind: SubmittedKind, write: SessionWrite): Promise<number | undefined> {
    // Before it joins a batch: a session PostgreSQL cannot hold whole fails alone.
    if (write.session !== undefined) assertMapped(write.session);
    try {
      return await this.batchers[kind].submit(write);
    } catch (error) {
      throw unavailable(error, STATEMENTS[kind].doing);
    }
  }
}

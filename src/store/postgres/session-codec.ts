/**
 * A session's columns in PostgreSQL: each field of SessionSchema, its column
 * type and how its value goes in and comes out. The store's reads and
 * writes, the inspector and `stateful migrate` all take the column list,
 * the parameters and the rows from here, so a field cannot be written in
 * one place and forgotten in another: a field the schema has and this table
 * lacks is a type error (and an error when the module loads), and a session
 * carrying a key the table does not map is refused, never silently dropped.
 * The columns themselves are created by migrations.ts (a test compares the
 * table with this one).
 */
import {
  assertSessionKeys,
  type JsonObject,
  SESSION_KEYS,
  type Session,
} from '../../domain/schemas.js';
import type { SessionJson } from '../../domain/session.js';

/** One field's column. The pg client hands each of these types over as text. */
interface Column<T> {
  /** The column's SQL type: the table's, and the array a batch's values are sent in. */
  type: 'uuid' | 'text' | 'bigint';
  encode(value: NonNullable<T>): string | number;
  decode(text: string): NonNullable<T>;
  /**
   * A field a session may lack or hold null (its expiry): the column is NULL
   * then, and an update writes it whatever it is, so it can be cleared.
   */
  optional?: true;
}

const text: Column<string> = { type: 'text', encode: (value) => value, decode: (value) => value };
const optionalText: Column<string> = { ...text, optional: true };

/** Every field of a session, its column. */
export const SESSION_CODEC: { readonly [K in keyof Session]-?: Column<Session[K]> } = {
  id: { type: 'uuid', encode: (value) => value, decode: (value) => value },
  name: text,
  // JSON text, not jsonb: jsonb reorders keys, and `data` keeps the client's.
  data: {
    type: 'text',
    encode: (value) => JSON.stringify(value),
    decode: (value) => JSON.parse(value) as JsonObject,
  },
  created_at: text,
  last_active: text,
  // bigint comes back as text; the domain keeps counts within 2^53.
  access_count: { type: 'bigint', encode: (value) => value, decode: Number },
  // NULL when the session never expires; the three go together (see toSession).
  expires_at: optionalText,
  ends_at: optionalText,
  idle_seconds: { type: 'bigint', encode: (value) => value, decode: Number, optional: true },
};
assertSessionKeys('session-codec.ts SESSION_CODEC', Object.keys(SESSION_CODEC));

/** The session's columns in SESSION_KEYS order (no `seq`, the table's own). */
export const SESSION_COLUMNS = SESSION_KEYS.join(', ');

/**
 * The condition a session row meets while it has not expired at `now` (a
 * parameter holding the store's clock as utcTimestamp writes it: one
 * fixed-width format, so the text order is the time order). The store's
 * clock, never the database's now(): tests move it, and every replica then
 * agrees with the service on the second. `table` qualifies the column.
 */
export function unexpired(now: string, table?: string): string {
  const column = table === undefined ? 'expires_at' : `${table}.expires_at`;
  return `(${column} IS NULL OR ${column} > ${now})`;
}

/**
 * The sessions not expired at `now` (a parameter), counted as all of them
 * less those expired and not yet swept: the first count's plan is the one
 * it always had, the second reads the few due ones on the partial index.
 */
export function liveSessionCount(now: string): string {
  return `(SELECT count(*) FROM sessions) - (SELECT count(*) FROM sessions WHERE expires_at <= ${now})`;
}

/** A session row as the pg client returns it: each column as text, an optional one NULL when none. */
export type SessionRow = {
  [K in keyof Session]-?: string | (undefined extends Session[K] ? null : never);
};

const columns = SESSION_KEYS.map((key) => [key, SESSION_CODEC[key] as Column<unknown>] as const);

export function toSession(row: SessionRow): Session {
  const session: Record<string, unknown> = {};
  for (const [key, column] of columns) {
    const value = row[key];
    session[key] = value === null ? null : column.decode(value);
  }
  // A session that never expires has none of the expiry keys (NULL in all three).
  if (session.expires_at === null) {
    for (const [key, column] of columns) if (column.optional === true) delete session[key];
  }
  return session as Session;
}

/** A row as the listings and pages send it. */
export function toSessionJson(row: SessionRow): SessionJson {
  return JSON.stringify(toSession(row));
}

/**
 * `$first::uuid[], $(first+1)::text[], …`: the arrays of sessionParameters,
 * in SESSION_COLUMNS order, for `unnest`.
 */
export function sessionArrayParameters(first = 1): string {
  return columns.map(([, column], i) => `$${first + i}::${column.type}[]`).join(', ');
}

/**
 * `SET` assignments from a row of sessionArrayParameters named `input`:
 * every column but the id, a null keeping what the row holds (see
 * sessionParameters), so an update writes only what it changes (an
 * unchanged `data` is not written again, nor its TOAST). A field that may
 * be null in a session could therefore never be cleared by an update: such
 * a field's column is `optional`, and an update writes it as it is.
 */
export const SESSION_ASSIGNMENTS = columns
  .filter(([key]) => key !== 'id')
  .map(([key, column]) =>
    column.optional === true
      ? `${key} = input.${key}`
      : `${key} = COALESCE(input.${key}, sessions.${key})`,
  )
  .join(', ');

/** A session, part of one (a delete's id; an update that keeps a field leaves it undefined). */
export type SessionValues = { readonly [K in keyof Session]?: Session[K] | undefined };

/**
 * One array a column, in SESSION_COLUMNS order, holding each session's
 * value (null where it has none): the parameters of sessionArrayParameters.
 * Throws if a session holds a key no column maps: PostgreSQL would lose it.
 */
export function sessionParameters(sessions: readonly SessionValues[]): unknown[][] {
  for (const session of sessions) assertMapped(session);
  return columns.map(([key, column]) =>
    sessions.map((session) => {
      const value = session[key];
      return value === undefined || value === null ? null : column.encode(value);
    }),
  );
}

/** Throws if `session` holds a key no column maps (see sessionParameters). */
export function assertMapped(session: SessionValues): void {
  const keys = Object.keys(session);
  if (keys.every((key) => Object.hasOwn(SESSION_CODEC, key))) return;
  const unmapped = keys.filter((key) => !Object.hasOwn(SESSION_CODEC, key));
  throw new Error(
    `a session holds ${unmapped.map((key) => `"${key}"`).join(', ')}, which no PostgreSQL column ` +
      'maps (SessionSchema and session-codec.ts): refused rather than dropped',
  );
}

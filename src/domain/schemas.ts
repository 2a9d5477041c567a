/**
 * The session's shapes, each described once (TypeBox, i.e. JSON Schema): the
 * schema gives the TypeScript type (`Static`), the validation of what a
 * client sends (compiled by Ajv, see session.ts), and the serialisation of
 * what the service answers (Fastify's response schemas). The OpenAPI
 * document can be built from the same schemas.
 */
import { type Static, Type } from '@sinclair/typebox';
import { MAX_EXPIRY_SECONDS } from './expiry.js';

export const MAX_NAME_LENGTH = 200;
/**
 * The largest request body, in bytes; also the most a session's name and
 * data may take as JSON after a PATCH, so one PUT can always send any
 * session back whole (and what a request makes the service parse and write
 * stays bounded).
 */
export const MAX_BODY_BYTES = 1024 * 1024;

/** `YYYY-MM-DDTHH:MM:SSZ`, UTC, one-second resolution: the original's timestamps. */
const TIMESTAMP_PATTERN_TEXT = '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}Z$';
export const TimestampSchema = Type.String({
  pattern: TIMESTAMP_PATTERN_TEXT,
  description: 'UTC, YYYY-MM-DDTHH:MM:SSZ',
});
/** TimestampSchema's pattern, for the checks made without a schema. */
export const TIMESTAMP_PATTERN = new RegExp(TimestampSchema.pattern as string);

export type JsonObject = { [key: string]: unknown };

/** A lifetime or an idle timeout in whole seconds: 1 s to about 100 years. */
function ExpirySecondsSchema(description: string) {
  return Type.Integer({ minimum: 1, maximum: MAX_EXPIRY_SECONDS, description });
}

/** Any JSON object (the session's `data`: the client's, kept as sent). */
export const JsonObjectSchema = Type.Unsafe<JsonObject>({
  type: 'object',
  additionalProperties: true,
});

/**
 * A session exactly as the original's wire and disk formats carry it, in its
 * key order. The one place a session's fields are written out: the domain
 * (session.ts), the footprint, the PostgreSQL codec, `stateful migrate` and
 * the dashboard's types all take them from here, and each mapping of them
 * is checked against SESSION_KEYS (a field added here and missing there is a
 * type error, or an error when the module loads).
 */
export const SessionSchema = Type.Object({
  id: Type.String({ description: 'a lower-case UUID' }),
  name: Type.String(),
  data: JsonObjectSchema,
  created_at: TimestampSchema,
  last_active: TimestampSchema,
  access_count: Type.Integer({ minimum: 0 }),
  // A session that expires carries these three (see domain/expiry.ts); one
  // that never does has none of them, byte for byte the original's.
  expires_at: Type.Optional(
    Type.String({
      pattern: TIMESTAMP_PATTERN_TEXT,
      description:
        'when the session is gone: the earlier of ends_at and its idle timeout after the last touch',
    }),
  ),
  ends_at: Type.Optional(
    Type.Union([TimestampSchema, Type.Null()], {
      description: 'the end of its lifetime (ttl_seconds), never moved; null: none',
    }),
  ),
  idle_seconds: Type.Optional(
    Type.Union([ExpirySecondsSchema('its idle timeout'), Type.Null()], {
      description:
        'its idle timeout: a touch moves expires_at to this many seconds later; null: none',
    }),
  ),
});
export type Session = Static<typeof SessionSchema>;

/** A session's keys in the canonical order: the order its JSON is written in, on disk and on the wire. */
export const SESSION_KEYS = Object.freeze(
  Object.keys(SessionSchema.properties),
) as readonly (keyof Session)[];

/**
 * Throws unless `keys` are exactly the session's keys (in any order): for the
 * tables that map each field (the footprint, the PostgreSQL columns), so one
 * that misses a field, or maps one the schema lacks, fails when it loads.
 */
export function assertSessionKeys(what: string, keys: readonly string[]): void {
  const missing = SESSION_KEYS.filter((key) => !keys.includes(key));
  const extra = keys.filter((key) => !(SESSION_KEYS as readonly string[]).includes(key));
  if (missing.length > 0 || extra.length > 0 || keys.length !== SESSION_KEYS.length) {
    throw new Error(
      `${what} must map each of SessionSchema's keys once: ` +
        `missing ${JSON.stringify(missing)}, not in the schema ${JSON.stringify(extra)}`,
    );
  }
}

/** The body of a create or an update: each field is optional; others are ignored. */
export const SessionInputSchema = Type.Object({
  name: Type.Optional(Type.String({ maxLength: MAX_NAME_LENGTH })),
  data: Type.Optional(JsonObjectSchema),
  ttl_seconds: Type.Optional(
    Type.Union([ExpirySecondsSchema('its lifetime, from now'), Type.Null()], {
      description:
        'a lifetime from now: the session is gone this many seconds later, whatever happens (null: none; absent: kept, or SESSION_TTL on a create)',
    }),
  ),
  idle_seconds: Type.Optional(
    Type.Union([ExpirySecondsSchema('its idle timeout'), Type.Null()], {
      description:
        'an idle timeout: the session is gone this many seconds after the last touch (null: none; absent: kept, or SESSION_IDLE_TIMEOUT on a create)',
    }),
  ),
});
export type SessionInput = Static<typeof SessionInputSchema>;

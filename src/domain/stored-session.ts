/**
 * Sessions and patches read back from storage (ours or the original's):
 * checked against SessionSchema, completed where files written before a
 * field existed lack it, and put in the canonical key order. What a store
 * reads it trusts only through here.
 */
import { Ajv, type ErrorObject } from 'ajv';
import { expiryOf, type SessionExpiry } from './expiry.js';
import { isJsonObject } from './merge-patch.js';
import {
  type JsonObject,
  SESSION_KEYS,
  type Session,
  SessionSchema,
  TIMESTAMP_PATTERN,
} from './schemas.js';
import {
  EXPIRY_KEYS,
  INPUT_KEYS,
  inCanonicalOrder,
  isSessionId,
  type SessionPatch,
  setExpiry,
} from './session.js';

const storedAjv = new Ajv({ allErrors: false });
/** SessionSchema, compiled once: what a stored session must be. */
const checkStored = storedAjv.compile<Session>(SessionSchema);

/**
 * What a stored session takes for a field it lacks or holds malformed, for
 * the fields that files written before may lack: the original's may have no
 * `last_active`. A field added to SessionSchema needs an entry here, as no
 * file written before it holds it (a test reads the original's files).
 */
const STORED_FALLBACKS: readonly [keyof Session, (stored: JsonObject) => unknown][] = [
  ['last_active', (stored) => stored.created_at],
];
const fallbacks = STORED_FALLBACKS.map(
  ([key, fallback]) => [key, storedAjv.compile(SessionSchema.properties[key]), fallback] as const,
);
/** The session's integer fields: JSON Schema's integers, which must also be exact in a double. */
const INTEGER_KEYS = SESSION_KEYS.filter((key) => SessionSchema.properties[key].type === 'integer');

/** What is wrong with a stored session, in words, from the first thing the schema found. */
function describeStoredError(error: ErrorObject | undefined): string {
  const key =
    error?.keyword === 'required'
      ? String(error.params.missingProperty)
      : (error?.instancePath.split('/')[1] ?? '');
  if (
    error?.keyword === 'required' ||
    error?.keyword === 'pattern' ||
    !Object.hasOwn(SessionSchema.properties, key)
  ) {
    return `missing or malformed "${key}"`;
  }
  return `"${key}" is not ${expectedOf(key as keyof Session)}`;
}

/** What a field must be, in words (what the messages say it is not). */
function expectedOf(key: keyof Session): string {
  const type: unknown = SessionSchema.properties[key].type;
  if (type === 'object') return 'an object';
  if (type === 'integer') return 'a non-negative integer';
  return `a ${String(type)}`;
}

/** A patch's `expiry`: the three keys of an expiring session, expires_at required. */
const checkExpiry = storedAjv.compile<SessionExpiry>({
  type: 'object',
  required: ['expires_at', 'ends_at', 'idle_seconds'],
  properties: Object.fromEntries(EXPIRY_KEYS.map((key) => [key, SessionSchema.properties[key]])),
});

/** The fields a patch may set, each checked as the session's schema has it (no input limits). */
const patchFieldChecks = INPUT_KEYS.map(
  (key) => [key, storedAjv.compile(SessionSchema.properties[key])] as const,
);

/**
 * Checks a session read back from storage (ours or the original's) against
 * SessionSchema. Returns a description of what is wrong, or the session in
 * its canonical key order, without the keys the schema does not name (a
 * file's `seq`). A field missing or malformed that STORED_FALLBACKS names
 * takes its fallback (`last_active`, `created_at`, as the original did).
 */
export function parseStoredSession(value: unknown): Session | string {
  if (!isJsonObject(value)) return 'not a JSON object';
  let stored = value;
  for (const [key, valid, fallback] of fallbacks) {
    if (!valid(stored[key])) stored = { ...stored, [key]: fallback(stored) };
  }
  // The id's rule is more than its schema says: a lower-case UUID.
  if (typeof stored.id !== 'string' || !isSessionId(stored.id)) return 'missing or malformed "id"';
  if (!checkStored(stored)) return describeStoredError(checkStored.errors?.[0]);
  for (const key of INTEGER_KEYS) {
    if (!Number.isSafeInteger(stored[key])) return `"${key}" is not a non-negative integer`;
  }
  const session = inCanonicalOrder(stored);
  // The three keys go together: without expires_at, the others say nothing.
  setExpiry(session, expiryOf(session));
  return session;
}

/**
 * Checks a SessionPatch read back from a store's log. Returns a description
 * of what is wrong, or the patch.
 */
export function parseStoredPatch(value: unknown): SessionPatch | string {
  if (!isJsonObject(value)) return 'not a JSON object';
  const { last_active, access_count } = value;
  for (const [key, valid] of patchFieldChecks) {
    if (value[key] !== undefined && !valid(value[key])) return `"${key}" is not ${expectedOf(key)}`;
  }
  if (typeof last_active !== 'string' || !TIMESTAMP_PATTERN.test(last_active)) {
    return 'missing or malformed "last_active"';
  }
  if (!Number.isSafeInteger(access_count) || (access_count as number) < 0) {
    return '"access_count" is not a non-negative integer';
  }
  const patch: Record<string, unknown> = { last_active, access_count };
  for (const key of INPUT_KEYS) if (value[key] !== undefined) patch[key] = value[key];
  if (value.expiry !== undefined) {
    if (value.expiry !== null && !checkExpiry(value.expiry)) return '"expiry" is malformed';
    patch.expiry = value.expiry;
  }
  return patch as SessionPatch;
}

/**
 * Sessions and the rules that change them: what a create starts with, what a
 * PUT replaces and counts. No HTTP and no file system here: the store makes a
 * change durable, the HTTP layer decides who may ask for it.
 */

import { randomUUID } from 'node:crypto';
import { Ajv, type ErrorObject } from 'ajv';
import { InvalidInputError, NotFoundError, SessionTooLargeError } from './errors.js';
import {
  type ExpiryDefaults,
  expiryAfterWrite,
  expiryFrom,
  expiryOf,
  MAX_EXPIRY_SECONDS,
  NEVER,
  type SessionExpiry,
  touched,
} from './expiry.js';
import { measureJson } from './footprint.js';
import { isJsonObject, mergeInto, mergePatch, sameJson } from './merge-patch.js';
import {
  type JsonObject,
  MAX_BODY_BYTES,
  MAX_NAME_LENGTH,
  SESSION_KEYS,
  type Session,
  type SessionInput,
  SessionInputSchema,
} from './schemas.js';
import { unstorableIn, unstorableMessage } from './text.js';
import { utcTimestamp } from './time.js';

export { type JsonObject, MAX_NAME_LENGTH, type Session, type SessionInput };

/** The keys of a session that expires, in their order (after access_count). */
export const EXPIRY_KEYS = [
  'expires_at',
  'ends_at',
  'idle_seconds',
] as const satisfies readonly (keyof Session & keyof SessionExpiry)[];

export { expiresAtInSessionJson, nameInSessionJson, type SessionJson } from './session-json.js';

export const DEFAULT_SESSION_NAME = 'unnamed';
/** SESSION_MAX_NODES by default: values and keys in one session's `data`. */
export const DEFAULT_SESSION_MAX_NODES = 10_000;

const SESSION_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The fields a client sets as they are sent, each a field of the session (expiry is worked out). */
export const INPUT_KEYS = ['name', 'data'] as const satisfies readonly (keyof SessionInput &
  keyof Session)[];

/** What a client may send: INPUT_KEYS and the expiry it asks for. */
const ACCEPTED_KEYS = Object.keys(SessionInputSchema.properties) as (keyof SessionInput)[];

/**
 * A session's fields in the canonical key order (SESSION_KEYS), whatever
 * order `value` holds them in; an optional field it lacks stays absent.
 */
export function inCanonicalOrder(value: Session): Session {
  const session: Record<string, unknown> = {};
  for (const key of SESSION_KEYS) if (value[key] !== undefined) session[key] = value[key];
  return session as Session;
}

/**
 * Sets a session's expiry keys in place, after every other key (the
 * canonical order), or takes them away when it no longer expires.
 */
export function setExpiry(session: Session, expiry: SessionExpiry | null): void {
  for (const key of EXPIRY_KEYS) delete session[key];
  if (expiry !== null) Object.assign(session, expiry);
}

/** Only canonical lower-case UUIDs name sessions; anything else cannot exist. */
export function isSessionId(value: string): boolean {
  return SESSION_ID_PATTERN.test(value);
}

/** The input schema, compiled once (Ajv counts a string's length in characters, as JSON Schema does). */
const checkInput = new Ajv({ allErrors: false }).compile<SessionInput>(SessionInputSchema);

/** What to fix, in words, from the first thing the schema found wrong. */
function describeInputError(error: ErrorObject | undefined): string {
  const field = error?.instancePath.slice(1) ?? '';
  if (field === '') return 'The body must be a JSON object like {"name":"…","data":{…}}.';
  if (field === 'ttl_seconds' || field === 'idle_seconds') {
    return `"${field}" must be a whole number of seconds from 1 to ${MAX_EXPIRY_SECONDS}, or null for none.`;
  }
  if (error?.keyword === 'maxLength') {
    return `"${field}" must be at most ${error.params.limit} characters.`;
  }
  const type = error?.keyword === 'type' ? String(error.params.type) : 'valid';
  return `"${field}" must be ${type === 'object' ? 'a JSON object' : `a ${type}`}.`;
}

/**
 * Checks a request body against SessionInputSchema; throws InvalidInputError
 * with what to fix, or SessionTooLargeError when `data` holds more than
 * `maxNodes` values and keys (what a session costs in memory grows with
 * them, not with its bytes). Fields the schema does not name are ignored.
 * Text that cannot be stored (U+0000, an unpaired surrogate: see text.ts)
 * is refused wherever it is, naming the field.
 */
export function validateSessionInput(
  body: unknown,
  maxNodes: number = DEFAULT_SESSION_MAX_NODES,
): SessionInput {
  if (body === undefined) return {};
  if (!checkInput(body)) throw new InvalidInputError(describeInputError(checkInput.errors?.[0]));
  if (body.data !== undefined) {
    const { nodes } = measureJson(body.data);
    if (nodes > maxNodes) {
      throw new SessionTooLargeError(
        `"data" holds ${nodes} values and keys; a session may hold at most ${maxNodes} ` +
          '(SESSION_MAX_NODES).',
      );
    }
  }
  const input: Record<string, unknown> = {};
  for (const key of ACCEPTED_KEYS) if (body[key] !== undefined) input[key] = body[key];
  // After the bound on nodes: a refused body is walked once.
  const unstorable = unstorableIn(input);
  if (unstorable !== null) throw new InvalidInputError(unstorableMessage(unstorable));
  return input as SessionInput;
}

/**
 * Checks a PATCH body: a merge patch of `{name, data}`. Neither may be
 * removed (`null`): a session always has both.
 */
export function validatePatchInput(body: unknown, maxNodes: number): SessionInput {
  if (isJsonObject(body)) {
    for (const key of INPUT_KEYS) {
      if (body[key] === null) {
        throw new InvalidInputError(
          `"${key}" cannot be removed: a session always has one (send a new value${key === 'data' ? ', or null for each key to remove' : ''}).`,
        );
      }
    }
  }
  return validateSessionInput(body, maxNodes);
}

/**
 * A new session from a create's input. Its expiry is the input's lifetime
 * and idle timeout, or the server's defaults for those not given (`null`
 * given: none, whatever the default).
 */
export function createSession(
  input: SessionInput,
  now: Date = new Date(),
  defaults: ExpiryDefaults = NEVER,
): Session {
  const timestamp = utcTimestamp(now);
  const session: Session = {
    id: randomUUID(),
    name: input.name ?? DEFAULT_SESSION_NAME,
    data: input.data ?? {},
    created_at: timestamp,
    last_active: timestamp,
    access_count: 0,
  };
  setExpiry(
    session,
    expiryFrom(
      input.ttl_seconds === undefined ? defaults.ttlSeconds : input.ttl_seconds,
      input.idle_seconds === undefined ? defaults.idleSeconds : input.idle_seconds,
      now,
    ),
  );
  return session;
}

/**
 * A PUT replaces the fields it names, marks the session active and counts
 * the access. Every other field is kept, in its place in the key order.
 */
export function applyUpdate(
  session: Session,
  input: SessionInput,
  now: Date = new Date(),
): Session {
  const next: Session = { ...session };
  for (const key of INPUT_KEYS) {
    const value = input[key];
    if (value !== undefined) (next as Record<string, unknown>)[key] = value;
  }
  next.last_active = utcTimestamp(now);
  next.access_count = session.access_count + 1;
  setExpiry(next, expiryAfterWrite(expiryOf(session), input.ttl_seconds, input.idle_seconds, now));
  return next;
}

/**
 * A read's touch (SESSION_TOUCH=reads): the session with its idle expiry
 * counted again from `now`, or null when the touch is not worth a write
 * (it would move expires_at by less than a tenth of the idle timeout).
 * Nothing else changes: a read is not an access the original counted.
 */
export function touchSession(session: Session, now: Date, throttle?: number): Session | null {
  const current = expiryOf(session);
  const moved = current === null ? null : touched(current, now, throttle);
  if (moved === null) return null;
  const next = { ...session };
  setExpiry(next, moved);
  return next;
}

/**
 * What a write did to a session, in as few words as replay it: the name when
 * the request named one, the merge patch of its data (RFC 7396), and the
 * access it counted. A store's log records this instead of the whole session
 * when it can, so a write costs what it changes, not what the session weighs.
 * Every field it names is set, never added to, and a patch the session
 * already holds (its access_count at or below the session's: every write
 * counts one) is skipped, so applying a run of patches to the session as it
 * was before them, or to any later version up to them, gives exactly the
 * session they made.
 */
export type SessionPatch = Pick<SessionInput, 'name' | 'data'> & {
  last_active: string;
  access_count: number;
  /** The expiry after the write when it moved: its keys, or null when it no longer expires. */
  expiry?: SessionExpiry | null;
};

/** Whether a patch changes none of what clients set (only the access it counted). */
export function countsOnly(patch: SessionPatch): boolean {
  return INPUT_KEYS.every((key) => patch[key] === undefined);
}

/**
 * A session after a write, and the write as a patch when one says it in no
 * more than the request did; null when only the whole session says it (a PUT
 * of new data: the request holds all of it anyway).
 */
export interface SessionChange {
  session: Session;
  patch: SessionPatch | null;
}

/**
 * A PUT (applyUpdate), with its patch when the data stays as it was (none
 * given, or the same JSON, keys in the same order): such a write changes only
 * the name, the access count and last_active.
 */
export function updateSession(
  current: Session,
  input: SessionInput,
  now: Date = new Date(),
): SessionChange {
  const session = applyUpdate(current, input, now);
  const dataKept = input.data === undefined || sameJson(input.data, current.data);
  return { session, patch: dataKept ? patchOf(current, session, undefined) : null };
}

/** A PATCH (applyPatch), with its patch: the request's own merge patch, if it changed the data. */
export function patchSession(
  current: Session,
  input: SessionInput,
  maxNodes: number,
  now: Date = new Date(),
): SessionChange {
  const session = applyPatch(current, input, maxNodes, now);
  return { session, patch: patchOf(current, session, input.data) };
}

/**
 * The patch from `current` to `next`: the name if it changed, `data` (a
 * merge patch) if it changed the data, and the access counted. A write that
 * changed neither is a count only, which the session's file may lag behind.
 */
function patchOf(current: Session, next: Session, data: JsonObject | undefined): SessionPatch {
  const patch: SessionPatch = {
    last_active: next.last_active,
    access_count: next.access_count,
  };
  for (const key of INPUT_KEYS) {
    if (key === 'data') {
      // Unchanged parts of a merge are the same objects: compared at once.
      if (data !== undefined && !sameJson(next.data, current.data)) patch.data = data;
    } else if (!sameJson(next[key], current[key])) {
      (patch as Record<string, unknown>)[key] = next[key];
    }
  }
  const expiry = expiryOf(next);
  if (!sameJson(expiry, expiryOf(current))) patch.expiry = expiry;
  return patch;
}

/**
 * Applies a SessionPatch to `session` in place (replaying a store's log:
 * the caller owns the session and all it holds), unless the session holds
 * it already. What it takes from the patch is copied, so the patch stays as
 * it was.
 */
export function applySessionPatch(session: Session, patch: SessionPatch): void {
  if (patch.access_count <= session.access_count) return; // already in it
  for (const key of INPUT_KEYS) {
    const value = patch[key];
    if (value === undefined) continue;
    if (key === 'data') mergeInto(session.data, value as JsonObject);
    else (session as Record<string, unknown>)[key] = value;
  }
  session.last_active = patch.last_active;
  session.access_count = patch.access_count;
  if (patch.expiry !== undefined) setExpiry(session, patch.expiry);
}

/**
 * A PATCH: `name` replaced when given, `data` merged with the patch's `data`
 * (RFC 7396); marks the session active and counts the access, as a PUT does.
 * The merged data must stay within `maxNodes` values and keys, and the name
 * and data within MAX_BODY_BYTES as JSON: merges could otherwise grow a
 * session without end, and every request on it would cost more.
 */
export function applyPatch(
  session: Session,
  input: SessionInput,
  maxNodes: number,
  now: Date = new Date(),
): Session {
  const data =
    input.data === undefined ? session.data : (mergePatch(session.data, input.data) as JsonObject);
  if (input.data !== undefined) {
    const { nodes } = measureJson(data);
    if (nodes > maxNodes) {
      throw new SessionTooLargeError(
        `with this patch "data" would hold ${nodes} values and keys; a session may hold at most ` +
          `${maxNodes} (SESSION_MAX_NODES).`,
      );
    }
    const bytes = Buffer.byteLength(JSON.stringify({ name: input.name ?? session.name, data }));
    if (bytes > MAX_BODY_BYTES) {
      throw new SessionTooLargeError(
        `with this patch the session's name and data would take ${bytes} bytes as JSON; ` +
          `a session may take at most ${MAX_BODY_BYTES} (1 MiB, the largest body), ` +
          'so that one PUT can always send it whole.',
      );
    }
  }
  return applyUpdate(session, { ...input, data }, now);
}

export function sessionNotFound(id: string): NotFoundError {
  const shown = id.length > 64 ? `${id.slice(0, 64)}…` : id;
  return new NotFoundError(`No session with id ${shown}.`);
}

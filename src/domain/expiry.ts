/**
 * When a session expires (docs/design/expiry-and-retention.md): the one
 * truth is `expires_at`, the earlier of its lifetime's end (`ends_at`, never
 * moved) and its idle timeout (`idle_seconds` after the last touch). A
 * session with neither carries none of the three keys, so with the defaults
 * every byte stays the original's. Times are the original's, to the second.
 */
import { utcTimestamp } from './time.js';

/** What a touch is: writes (PUT, PATCH; the default) or reads too (GET of the session). */
export type TouchRule = 'writes' | 'reads';

/** The server's defaults (SESSION_TTL, SESSION_IDLE_TIMEOUT, SESSION_TOUCH); null: never. */
export interface ExpiryDefaults {
  ttlSeconds: number | null;
  idleSeconds: number | null;
  touch: TouchRule;
}

export const NEVER: ExpiryDefaults = { ttlSeconds: null, idleSeconds: null, touch: 'writes' };

/** The expiry keys a session carries when it expires at all. */
export interface SessionExpiry {
  expires_at: string;
  /** The lifetime's end; null when only the idle timeout applies. */
  ends_at: string | null;
  /** The idle timeout; null when only the lifetime applies. */
  idle_seconds: number | null;
}

/** How often a store's sweep removes the sessions that have expired (both stores). */
export const SWEEP_INTERVAL_MS = 1000;

/** The longest lifetime or idle timeout: about 100 years, so every time stays a valid date. */
export const MAX_EXPIRY_SECONDS = 100 * 365 * 24 * 3600;

const UNITS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86_400 };

/**
 * A duration as a setting or a flag gives it: seconds (`90`), or a whole
 * number and a unit (`90s`, `15m`, `1h`, `30d`); `never` or `''` for none.
 * Returns the seconds, null for never, or undefined when `text` is none of
 * these (the caller says what was wrong, naming its setting).
 */
export function parseDuration(text: string): number | null | undefined {
  const trimmed = text.trim().toLowerCase();
  if (trimmed === '' || trimmed === 'never') return null;
  const match = /^(\d{1,12})([smhd]?)$/.exec(trimmed);
  if (match === null) return undefined;
  const seconds = Number(match[1]) * (UNITS[match[2] || 's'] as number);
  return seconds >= 1 && seconds <= MAX_EXPIRY_SECONDS ? seconds : undefined;
}

const secondsFrom = (now: Date, seconds: number) =>
  utcTimestamp(new Date(Math.floor(now.getTime() / 1000) * 1000 + seconds * 1000));

/**
 * The expiry of a session given a lifetime and an idle timeout at `now`
 * (a create, or a write that sets them): null when it has neither.
 */
export function expiryFrom(
  ttlSeconds: number | null,
  idleSeconds: number | null,
  now: Date,
): SessionExpiry | null {
  return expiryAfterWrite(null, ttlSeconds, idleSeconds, now);
}

/** `expires_at` for a lifetime ending at `endsAt` and an idle timeout counted from `now`. */
function withIdle(endsAt: string | null, idleSeconds: number | null, now: Date) {
  const idleEnds = idleSeconds === null ? null : secondsFrom(now, idleSeconds);
  // The earlier of the two (timestamps of one format compare as text).
  const expiresAt =
    endsAt === null ? idleEnds : idleEnds === null || endsAt < idleEnds ? endsAt : idleEnds;
  return { expires_at: expiresAt as string };
}

/**
 * The expiry after a touch at `now`: the idle timeout counted again (never
 * past the lifetime's end). `null` when it does not move `expires_at` by at
 * least `throttle` of the idle timeout (a tenth by default): a touch that is
 * not worth a write, so a session read 10,000 times a second is written a
 * few times an idle period, not 10,000 times a second.
 */
export function touched(expiry: SessionExpiry, now: Date, throttle = 0.1): SessionExpiry | null {
  if (expiry.idle_seconds === null) return null;
  const next = { ...expiry, ...withIdle(expiry.ends_at, expiry.idle_seconds, now) };
  const moved = (Date.parse(next.expires_at) - Date.parse(expiry.expires_at)) / 1000;
  return moved >= Math.max(1, expiry.idle_seconds * throttle) ? next : null;
}

/** The expiry keys of a session that has them; null for one that never expires. */
export function expiryOf(session: Partial<SessionExpiry>): SessionExpiry | null {
  if (session.expires_at === undefined) return null;
  return {
    expires_at: session.expires_at,
    ends_at: session.ends_at ?? null,
    idle_seconds: session.idle_seconds ?? null,
  };
}

/**
 * The expiry after a write at `now` that gives `ttlSeconds` and/or
 * `idleSeconds` (undefined: not given; null: none). A lifetime given starts
 * again from now (as Redis's EXPIRE); one not given keeps its end; an idle
 * timeout given or kept counts from now, the write being a touch. A write
 * that gives neither only touches.
 */
export function expiryAfterWrite(
  current: SessionExpiry | null,
  ttlSeconds: number | null | undefined,
  idleSeconds: number | null | undefined,
  now: Date,
): SessionExpiry | null {
  if (ttlSeconds === undefined && idleSeconds === undefined) {
    return current === null ? null : (touched(current, now, 0) ?? current);
  }
  const endsAt =
    ttlSeconds === undefined
      ? (current?.ends_at ?? null)
      : ttlSeconds === null
        ? null
        : secondsFrom(now, ttlSeconds);
  const idle = idleSeconds === undefined ? (current?.idle_seconds ?? null) : idleSeconds;
  if (endsAt === null && idle === null) return null;
  return { ...withIdle(endsAt, idle, now), ends_at: endsAt, idle_seconds: idle };
}

/** Whether a session whose expiry is `expiresAt` (undefined: none) is gone at `now`. */
export function isExpired(expiresAt: string | undefined, now: Date): boolean {
  return expiresAt !== undefined && Date.parse(expiresAt) <= now.getTime();
}

/** Why it expired, for its `session_expired` event: its lifetime ended, or it sat idle. */
export function expiryReason(expiry: SessionExpiry): 'lifetime' | 'idle' {
  return expiry.ends_at !== null && expiry.ends_at === expiry.expires_at ? 'lifetime' : 'idle';
}

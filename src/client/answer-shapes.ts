/**
 * What each answer must look like before the client hands it on: a server
 * that is not this service (a wrong `url`, a proxy's HTML page, a hostile
 * server) gets UntrustedAnswerError, not a value of the wrong type that
 * fails later, somewhere else, with a message that names neither. Each check
 * returns null when the answer has the shape, else what is wrong with it.
 * Only what callers rely on is checked (keys and their types), not the
 * values: a newer service may add keys.
 */
type Check = (value: unknown) => string | null;

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
/** A whole number ≥ 0 that a double holds exactly: every count and position the service sends. */
export const isCount = (value: unknown): value is number =>
  Number.isSafeInteger(value) && (value as number) >= 0;

/** An object whose `keys` hold values of the given types ('count': a whole number ≥ 0). */
function objectWith(what: string, keys: Record<string, 'string' | 'count' | 'object'>): Check {
  return (value) => {
    if (!isObject(value)) return `${what} is not a JSON object`;
    for (const [key, type] of Object.entries(keys)) {
      const held = value[key];
      const ok =
        type === 'count'
          ? isCount(held)
          : type === 'object'
            ? isObject(held)
            : typeof held === type;
      if (!ok) return `${what} has no ${type === 'count' ? 'whole number' : type} "${key}"`;
    }
    return null;
  };
}

export const isSession: Check = objectWith('a session', {
  id: 'string',
  name: 'string',
  data: 'object',
  created_at: 'string',
  last_active: 'string',
  access_count: 'count',
});

/** A list of sessions and its count (a page, or the whole listing). */
function sessionsWith(what: string, extra: Check): Check {
  const base = objectWith(what, { count: 'count' });
  return (value) => {
    const wrong = base(value);
    if (wrong !== null) return wrong;
    const { sessions } = value as Record<string, unknown>;
    if (!Array.isArray(sessions)) return `${what} has no "sessions" array`;
    for (const session of sessions) {
      const bad = isSession(session);
      if (bad !== null) return `${what} holds what is not a session: ${bad}`;
    }
    return extra(value);
  };
}

export const isSessionListing: Check = sessionsWith('a listing', () => null);

export const isSessionPage: Check = sessionsWith('a page of sessions', (value) => {
  const { next, scanned } = value as Record<string, unknown>;
  if (next !== null && typeof next !== 'string') return 'a page cursor (next) is not text';
  if (scanned !== undefined && !isCount(scanned)) return '"scanned" is not a whole number';
  return null;
});

export const isHealth: Check = objectWith('a health answer', {
  status: 'string',
  container_id: 'string',
});

export const isState: Check = objectWith('a state answer', {
  container_id: 'string',
  startup_count: 'count',
  crash_count: 'count',
  total_sessions: 'count',
  live_sessions: 'count',
});

export const isDeleted: Check = objectWith('a deletion', { status: 'string', id: 'string' });

export const isCrashAnswer: Check = objectWith('a crash answer', { crash_count: 'count' });

/** A line of the event log: the original's four keys (`ts` a number), then the kind's own. */
export const isLoggedEvent: Check = (value) => {
  const wrong = objectWith('an event', { time: 'string', event: 'string', container: 'string' })(
    value,
  );
  if (wrong !== null) return wrong;
  return typeof (value as Record<string, unknown>).ts === 'number'
    ? null
    : 'an event has no number "ts"';
};

/** Any JSON object (the event page is checked further in event-pages.ts). */
export const isAnyObject: Check = (value) => (isObject(value) ? null : 'not a JSON object');

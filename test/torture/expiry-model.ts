/**
 * Expiry in the torture's model (checker.ts): a session created with a short
 * lifetime or idle timeout may go, and only by its expiry. The model keeps
 * the latest expiry a write's answer acknowledged (a write only moves an
 * idle expiry later: the torture never shortens one), and reads the log's
 * session_expired events, which must come after every write of the session
 * and never name an expiry older than one acknowledged.
 */

/** What the model knows of a session's expiry. */
export interface ExpiryKnown {
  id: string;
  /** The latest `expires_at` an answer showed (epoch ms); null: it never expires. */
  expiresAt: number | null;
}

/** The expiry a session shows (epoch ms), null for none. */
export function expiresAtOf(session: { expires_at?: string }): number | null {
  return session.expires_at === undefined ? null : Date.parse(session.expires_at);
}

/** Learns the expiry an answer shows (the latest acknowledged wins). */
export function learnExpiry(entry: ExpiryKnown, session: { expires_at?: string }): void {
  if (session.expires_at === undefined) return;
  const at = Date.parse(session.expires_at);
  entry.expiresAt = Math.max(entry.expiresAt ?? at, at);
}

/**
 * Whether `entry` may have expired by `now` (taken after the answer came, so
 * at or after the service's clock when it judged): only then may a read or
 * write of it be answered 404, or the session be missing from a listing.
 */
export function mayHaveExpired(entry: ExpiryKnown, now: number): boolean {
  return entry.expiresAt !== null && entry.expiresAt <= now;
}

/** A session_expired event: the expiry the sweep went by (epoch ms). */
export interface ExpiredEvent {
  expiredAt: number;
}

/**
 * The log's session_expired events by session, and what is wrong with them:
 * a session expired twice, or a write (an update or a delete) logged after
 * its session_expired event (a write acknowledged after its expiry).
 */
export function expiredInLog(events: readonly Record<string, unknown>[]): {
  expired: Map<unknown, ExpiredEvent>;
  problems: string[];
} {
  const expired = new Map<unknown, ExpiredEvent>();
  const problems: string[] = [];
  for (const event of events) {
    const id = event.session_id;
    if (event.event === 'session_expired') {
      if (expired.has(id)) problems.push(`${String(id)} has two session_expired events`);
      expired.set(id, { expiredAt: Date.parse(String(event.expired_at)) });
    } else if (
      (event.event === 'session_updated' || event.event === 'session_deleted') &&
      expired.has(id)
    ) {
      problems.push(`${String(event.event)} of ${String(id)} logged after its session_expired`);
    }
  }
  return { expired, problems };
}

/**
 * A known session missing from a listing: fine if the sweep removed it by
 * an expiry no earlier than every one acknowledged, or if it has expired by
 * `now` (hidden until the sweep gets to it); else the violation.
 */
export function goneByExpiry(
  entry: ExpiryKnown,
  event: ExpiredEvent | undefined,
  now: number,
): string | null {
  if (event !== undefined) {
    if (entry.expiresAt === null) return `${entry.id} expired though no answer gave it an expiry`;
    return event.expiredAt < entry.expiresAt
      ? `${entry.id} swept by expiry ${new Date(event.expiredAt).toISOString()}, before the acknowledged ${new Date(entry.expiresAt).toISOString()}`
      : null;
  }
  return mayHaveExpired(entry, now) ? null : `acknowledged session ${entry.id} is gone`;
}

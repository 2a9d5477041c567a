// @ts-check
// Finding sessions by name or id. One search page of the service looks at no
// more than 20,000 sessions (it says how many in `scanned`), so a page may
// hold few matches, or none, with more still to look through: a search here
// follows `next` until it has a page's worth, the sessions end, or
// SEARCH_BUDGET_MS have passed, telling how far it got after each answer. A
// whole id is read directly (GET /sessions/:id), with nothing to look through.
import { api } from './api.js';

/** @typedef {import('./api.js').Session} Session */
/**
 * What a search has found so far: the sessions, where to go on from (null:
 * nowhere, every session was looked at), how many sessions it looked at,
 * whether it is still looking, and whether the service refused it (then it
 * stopped where it got to, and says so rather than "no match").
 * @typedef {{ sessions: Session[], next: string | null, scanned: number, looking: boolean,
 *   failed?: boolean }} Found
 */

/** How long one search goes on before it stops to show what it found (Older goes on). */
export const SEARCH_BUDGET_MS = 1000;

const WHOLE_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Whether `text` is a whole session id (found directly, not looked for).
 * @param {string} text
 */
export function isWholeId(text) {
  return WHOLE_ID.test(text);
}

/**
 * Looks, newest first from `after` on, for `limit` sessions whose name holds
 * `text` (any case) or whose id starts with it. `onProgress` hears what was
 * found after each of the service's answers. Resolves with null once
 * `signal` is aborted (a newer search or page took over, and nothing this one
 * found may be shown); rejects when the service cannot be reached.
 * @param {{ text: string, after: string | null, limit: number, signal: AbortSignal,
 *   onProgress: (found: Found) => void }} request
 * @returns {Promise<Found | null>}
 */
export async function searchSessions({ text, after, limit, signal, onProgress }) {
  if (isWholeId(text)) {
    const answer = await api('GET', `/sessions/${text.toLowerCase()}`, undefined, signal);
    if (signal.aborted) return null;
    const session = answer.ok ? /** @type {Session} */ (answer.json) : null;
    const found = { sessions: session === null ? [] : [session], next: null, scanned: 0 };
    return { ...found, looking: false, failed: !answer.ok && answer.status !== 404 };
  }
  const started = performance.now();
  /** @type {Found} */
  let found = { sessions: [], next: after, scanned: 0, looking: true };
  for (;;) {
    const query = new URLSearchParams({
      limit: String(limit - found.sessions.length),
      order: 'newest',
      q: text,
    });
    if (found.next !== null) query.set('after', found.next);
    const answer = await api('GET', `/sessions?${query}`, undefined, signal);
    if (signal.aborted) return null;
    const page = answer.json;
    // A refusal (the service restarting, say) ends the search where it got to.
    if (!answer.ok || page?.sessions === undefined)
      return { ...found, looking: false, failed: true };
    const sessions = [...found.sessions, ...page.sessions];
    const next = typeof page.next === 'string' ? page.next : null;
    const looking =
      sessions.length < limit && next !== null && performance.now() - started < SEARCH_BUDGET_MS;
    found = { sessions, next, scanned: found.scanned + (page.scanned ?? 0), looking };
    onProgress(found);
    if (!looking) return found;
  }
}

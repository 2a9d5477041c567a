// @ts-check
// When sessions expire, as the page shows it: each row's time left, counted
// down every second on the page from the session's `expires_at` (no request),
// and the durations the create form and the edit row take. The browser's
// clock is the one used: the page knows nothing of the service's. A session
// whose time has come shows as expired until the service's sweep removes it
// (its `session_expired` event takes the row away).

/** @typedef {import('./api.js').Session} Session */

/** The longest lifetime or idle timeout the service takes (about 100 years). */
const MAX_SECONDS = 100 * 365 * 24 * 3600;
const UNITS = /** @type {const} */ ({ s: 1, m: 60, h: 3600, d: 86_400 });

/**
 * A duration as the settings take it (SESSION_TTL): seconds (`90`), or a
 * whole number and a unit (`90s`, `15m`, `1h`, `30d`), or `never`. Returns
 * the seconds, null for never, undefined for nothing typed (not sent), or
 * an Error saying what is wrong.
 * @param {string} text
 * @returns {number | null | undefined | Error}
 */
export function parseDuration(text) {
  const trimmed = text.trim().toLowerCase();
  if (trimmed === '') return undefined;
  if (trimmed === 'never') return null;
  const match = /^(\d{1,12})\s*([smhd]?)$/.exec(trimmed);
  const unit = /** @type {keyof typeof UNITS} */ (match?.[2] || 's');
  const seconds = match === null ? Number.NaN : Number(match[1]) * UNITS[unit];
  if (seconds >= 1 && seconds <= MAX_SECONDS) return seconds;
  return new Error(`“${text.trim()}” is not a duration: 90, 90s, 15m, 2h, 30d or never.`);
}

/**
 * Seconds as the table shows them: `59s`, `14m`, `2h 5m`, `1h`, `3d 4h`.
 * @param {number} seconds
 */
export function formatDuration(seconds) {
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return minutes % 60 === 0 ? `${hours}h` : `${hours}h ${minutes % 60}m`;
  const days = Math.floor(hours / 24);
  return hours % 24 === 0 ? `${days}d` : `${days}d ${hours % 24}h`;
}

/**
 * What a row's time left cell says of `expiresAt` at `now` (milliseconds):
 * the seconds left rounded up, so it reads `1s` until the second it expires.
 * @param {string} expiresAt
 * @param {number} now
 * @returns {{ text: string, expired: boolean }}
 */
export function timeLeft(expiresAt, now) {
  const left = Date.parse(expiresAt) - now;
  if (left <= 0) return { text: 'expired', expired: true };
  return { text: formatDuration(Math.ceil(left / 1000)), expired: false };
}

/**
 * The title of a row's time left: when it goes, and why.
 * @param {Session} session
 */
function expiryTitle(session) {
  if (session.expires_at === undefined) return 'never expires';
  const why = [];
  if (session.ends_at != null) why.push(`lifetime ends ${session.ends_at}`);
  if (session.idle_seconds != null) {
    why.push(`idle timeout ${formatDuration(session.idle_seconds)}, moved by each touch`);
  }
  return `gone at ${session.expires_at}${why.length > 0 ? ` (${why.join('; ')})` : ''}`;
}

/**
 * Fills a row's time left cell (its <time>) and marks the row expired when
 * its time has come; a session that never expires reads `never`.
 * @param {HTMLTableRowElement} row
 * @param {HTMLElement} time
 * @param {Session} session
 */
export function showTimeLeft(row, time, session) {
  time.title = expiryTitle(session);
  if (session.expires_at === undefined) {
    time.textContent = 'never';
    time.classList.add('never');
    return;
  }
  row.dataset.expiresAt = session.expires_at;
  time.setAttribute('datetime', session.expires_at);
  tickRow(row, Date.now());
}

/**
 * @param {HTMLTableRowElement} row
 * @param {number} now
 */
function tickRow(row, now) {
  const expiresAt = row.dataset.expiresAt;
  const time = row.querySelector('td.expires time');
  if (expiresAt === undefined || !(time instanceof HTMLElement)) return;
  const { text, expired } = timeLeft(expiresAt, now);
  if (time.textContent !== text) time.textContent = text;
  if (expired && !row.classList.contains('expired')) {
    row.classList.add('expired');
    // Nothing can be done to it any more: every write would be a 404.
    for (const button of row.querySelectorAll('td.actions button')) {
      if (button instanceof HTMLButtonElement) button.disabled = true;
    }
  }
}

/**
 * Counts every shown row down, once a second, just after each second of the
 * browser's clock (every `expires_at` is a whole second), with no request.
 * A row being edited has inputs there instead, and is left alone.
 */
export function startTicking() {
  const tick = () => {
    const now = Date.now();
    for (const row of document.querySelectorAll('#sessions tbody tr[data-expires-at]')) {
      if (row instanceof HTMLTableRowElement && !row.classList.contains('editing')) {
        tickRow(row, now);
      }
    }
    setTimeout(tick, 1000 - (Date.now() % 1000) + 5);
  };
  tick();
}

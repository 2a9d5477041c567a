// @ts-check
// The page's one connection: GET /events/stream?state=1 carries every new
// event and, as messages named `state`, the /state answer (on connect, every
// 2 s, after changes). An idle page makes no other request. When the stream
// breaks, it is opened again after a backoff (1 s, doubling, at most 5 s)
// from the last event seen (`since`), so nothing is shown twice or missed;
// after OFFLINE_AFTER_MS without a connection the page says no instance runs.
// A service that answers 503 "starting" on /health is one restarting (it binds
// its port before it reads its data): the page says so, and tries again every
// second, instead of counting towards "no instance". When the retention
// policy has dropped events after the last one seen (the stream answers 410),
// it starts again from the recent ones.

/** @typedef {import('./api.js').ServiceEvent} ServiceEvent */
/** @typedef {import('./api.js').State} State */
/** @typedef {'connecting' | 'up' | 'reconnecting' | 'starting' | 'offline'} Connection */
/** @typedef {{ status: 'starting', seconds?: number, phase?: string }} Starting */

export const OFFLINE_AFTER_MS = 3000;
const FIRST_RETRY_MS = 1000;
const MAX_RETRY_MS = 5000;

/**
 * What /health says while the service starts, or null (it is up, or nothing answers).
 * @returns {Promise<Starting | null>}
 */
async function startingAnswer() {
  try {
    const response = await fetch('/health', { cache: 'no-store' });
    if (response.status !== 503) return null;
    const body = await response.json();
    return body?.status === 'starting' ? body : null;
  } catch {
    return null;
  }
}

/**
 * Whether the retention policy dropped events after position `lastId` (a
 * stream from there is a 410 `events_dropped`).
 * @param {string} lastId
 */
async function droppedAfter(lastId) {
  try {
    const response = await fetch('/events?limit=1', { cache: 'no-store' });
    const body = await response.json();
    return typeof body?.oldest === 'number' && Number(lastId) < body.oldest - 1;
  } catch {
    return false;
  }
}

/**
 * @param {{
 *   onEvent: (event: ServiceEvent) => void,
 *   onState: (state: State) => void,
 *   onConnection: (connection: Connection, starting?: Starting) => void,
 * }} handlers
 */
export function followLive(handlers) {
  /** The position of the last event shown (null: none yet, take the recent ones). */
  /** @type {string | null} */
  let lastId = null;
  let retryMs = FIRST_RETRY_MS;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let offlineTimer;
  /** @type {Connection} */
  let connection = 'connecting';

  /** @param {Connection} next */
  const setConnection = (next) => {
    if (next === connection) return;
    connection = next;
    handlers.onConnection(next);
  };

  const open = () => {
    const query = new URLSearchParams({ state: '1' });
    if (lastId !== null) query.set('since', lastId);
    const stream = new EventSource(`/events/stream?${query}`);
    stream.addEventListener('message', (message) => {
      lastId = message.lastEventId || lastId;
      handlers.onEvent(JSON.parse(message.data));
    });
    stream.addEventListener('state', (message) => {
      retryMs = FIRST_RETRY_MS;
      clearTimeout(offlineTimer);
      offlineTimer = undefined;
      setConnection('up');
      handlers.onState(JSON.parse(/** @type {MessageEvent<string>} */ (message).data));
    });
    stream.addEventListener('error', () => {
      // Refused with a status (a 410 among them), not cut off or unreachable.
      const refused = stream.readyState === EventSource.CLOSED;
      // Not the browser's own retry every second: ours, backing off.
      stream.close();
      void startingAnswer().then(async (starting) => {
        if (starting !== null) {
          clearTimeout(offlineTimer);
          offlineTimer = undefined;
          connection = 'starting';
          handlers.onConnection('starting', starting); // each time: its seconds go on
          setTimeout(open, FIRST_RETRY_MS);
          return;
        }
        // Before the next try, so that it does not ask again for what is gone.
        if (refused && lastId !== null && (await droppedAfter(lastId))) lastId = null;
        if (connection !== 'offline') setConnection('reconnecting');
        offlineTimer ??= setTimeout(() => setConnection('offline'), OFFLINE_AFTER_MS);
        setTimeout(open, retryMs);
        retryMs = Math.min(retryMs * 2, MAX_RETRY_MS);
      });
    });
  };
  open();
}

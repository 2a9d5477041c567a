// @ts-check
// The instance and the volume: GET /state polled, the crash button, and
// after a crash the report of what changed and what did not, once another
// instance answers.
import { api, showError } from './api.js';
import { byId, element, flash, hueOf } from './dom.js';
import { currentSessions, loadSessions } from './sessions.js';

/** @typedef {import('./api.js').State} State */

const STATE_POLL_MS = 1000;
const DOWN_POLL_MS = 400;
const SHOWN = /** @type {const} */ ([
  'container_id',
  'requests_this_instance',
  'startup_count',
  'crash_count',
  'total_sessions',
  'total_requests',
  'live_sessions',
]);

/** @type {State | null} */
let lastState = null;
/** @type {{ state: State | null, sessionIds: string[] } | null} */
let beforeCrash = null;
let down = false;

/**
 * @param {string} state
 * @param {string} text
 */
function setConnection(state, text) {
  const el = element('connection');
  el.dataset.state = state;
  el.textContent = text;
}

/** @param {number} seconds */
function formatUptime(seconds) {
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${Math.floor(seconds % 60)} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** @param {State} state */
function showState(state) {
  for (const key of SHOWN) element(key).textContent = String(state[key]);
  element('uptime_seconds').textContent = formatUptime(state.uptime_seconds);
  element('container_id').style.setProperty('--hue', String(hueOf(state.container_id)));
}

async function pollState() {
  try {
    const answer = await api('GET', '/state');
    if (!answer.ok) throw new Error(String(answer.status));
    const state = /** @type {State} */ (answer.json);
    const wasDown = down;
    down = false;
    setConnection('up', `up · instance ${state.container_id}`);
    showState(state);
    // Back after a crash only once another instance answers: the crashed one
    // may still answer a poll or two before it exits.
    if (beforeCrash !== null && state.container_id !== beforeCrash.state?.container_id) {
      await cameBack(state);
    } else if (wasDown) {
      await loadSessions();
    }
    lastState = state;
  } catch {
    if (!down) {
      down = true;
      setConnection('down', 'down · waiting for the supervisor to start a new instance…');
    }
  }
  setTimeout(pollState, down ? DOWN_POLL_MS : STATE_POLL_MS);
}

/** @param {State} state */
async function cameBack(state) {
  await loadSessions();
  const before = beforeCrash;
  beforeCrash = null;
  if (before === null || before.state === null) return;
  const was = before.state;
  const ids = new Set(currentSessions().map((session) => session.id));
  const kept = before.sessionIds.filter((id) => ids.has(id));
  const all = kept.length === before.sessionIds.length;
  /** @type {[string, string, string][]} */
  const items = [
    [
      'container_id',
      `container_id ${was.container_id} → ${state.container_id}: a new process`,
      'changed',
    ],
    [
      'crash_count',
      `crash_count ${was.crash_count} → ${state.crash_count}: counted on the volume`,
      'changed',
    ],
    ['startup_count', `startup_count ${was.startup_count} → ${state.startup_count}`, 'changed'],
    [
      'requests_this_instance',
      `requests_this_instance started again from ${state.requests_this_instance}`,
      'changed',
    ],
    [
      'sessions',
      `sessions: ${kept.length} of ${before.sessionIds.length} still there${all ? ', every one' : ''}`,
      all ? 'kept' : 'lost',
    ],
  ];
  element('changed').replaceChildren(
    ...items.map(([key, text, kind]) => {
      const item = Object.assign(document.createElement('li'), { textContent: text });
      item.dataset.key = key;
      item.className = kind;
      return item;
    }),
  );
  element('change-report').hidden = false;
  for (const id of ['container_id', 'crash_count', 'startup_count']) flash(id);
}

async function crash() {
  beforeCrash = {
    state: lastState,
    sessionIds: currentSessions().map((session) => session.id),
  };
  element('change-report').hidden = true;
  /** @type {import('./api.js').Answer} */
  let answer;
  try {
    answer = await api('POST', '/crash');
  } catch {
    answer = { status: 0, ok: true, json: null }; // the process died before answering
  }
  if (answer.status === 401) {
    beforeCrash = null;
    element('token-label').hidden = false;
    byId('token', HTMLInputElement).focus();
    return showError(answer);
  }
  if (!answer.ok) {
    beforeCrash = null;
    return showError(answer);
  }
  setConnection('down', 'crashing · waiting for the supervisor to start a new instance…');
}

/** Wires the crash button and starts polling the state. */
export function watchState() {
  byId('crash', HTMLButtonElement).addEventListener('click', crash);
  void pollState();
}

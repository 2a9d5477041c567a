// @ts-check
// The instance and the volume, from the state the stream pushes (live.js);
// the connection's state (up, reconnecting, no instance running); the crash
// button; and, in every open tab, once another instance answers, the report
// of what changed and what did not.
import { api, showError } from './api.js';
import { byId, confirmAction, element, flash, hueOf } from './dom.js';
import { currentSessions, loadSessions } from './sessions.js';

/** @typedef {import('./api.js').Session} Session */
/** @typedef {import('./api.js').State} State */
/** @typedef {import('./live.js').Connection} Connection */

const SHOWN = /** @type {const} */ ([
  'container_id',
  'requests_this_instance',
  'startup_count',
  'crash_count',
  'total_sessions',
  'total_requests',
  'live_sessions',
  'expired_sessions',
]);

/** @type {State | null} */
let lastState = null;
/** What the page showed when the instance went away (or the crash was asked for). */
/** @type {{ state: State, sessions: Session[] } | null} */
let before = null;
let crashing = false;

/**
 * @param {string} state
 * @param {string} text
 */
function setConnectionText(state, text) {
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

function remember() {
  if (lastState === null || before !== null) return;
  before = { state: lastState, sessions: currentSessions() };
}

/**
 * The stream's state: no instance running greys what is shown (it is stale)
 * and disables what would need one; so does one restarting (it answers 503
 * until it has read its data), which is never called "no instance".
 * @param {Connection} connection
 * @param {import('./live.js').Starting} [starting]
 */
export function showConnection(connection, starting) {
  const offline = connection === 'offline';
  document.body.dataset.connection = connection;
  element('offline').hidden = !offline;
  for (const controls of document.querySelectorAll('fieldset.needs-instance')) {
    if (controls instanceof HTMLFieldSetElement) {
      controls.disabled = offline || connection === 'starting';
    }
  }
  if (connection === 'up') return; // the state that follows says which instance
  remember();
  if (connection === 'starting') {
    const seconds = Math.round(starting?.seconds ?? 0);
    const phase = starting?.phase === undefined ? '' : ` · ${starting.phase}`;
    setConnectionText('starting', `restarting (${seconds} s)${phase}…`);
    return;
  }
  if (offline) setConnectionText('offline', 'no instance running');
  else if (crashing) {
    setConnectionText('down', 'crashing · waiting for the supervisor to start a new instance…');
  } else setConnectionText('down', 'reconnecting…');
}

/** A state pushed by the service. @param {State} state */
export async function stateArrived(state) {
  const previous = lastState;
  lastState = state;
  setConnectionText('up', `up · instance ${state.container_id}`);
  showState(state);
  if (previous === null) return;
  if (state.container_id !== previous.container_id) {
    crashing = false;
    const was = before ?? { state: previous, sessions: currentSessions() };
    before = null;
    await loadSessions();
    report(was, state);
  } else if (state.crash_count > previous.crash_count) {
    // This instance counted its crash (on disk, before it exits): the report
    // compares with what was shown before the count (kept if remembered
    // already), or it would read crash_count 1 → 1 and call the crash
    // another instance answering.
    before ??= { state: previous, sessions: currentSessions() };
  } else if (before !== null) {
    before = null; // the same instance again: a broken connection, nothing more
    await loadSessions();
  }
}

/**
 * @param {{ state: State, sessions: Session[] }} was
 * @param {State} state
 */
function report(was, state) {
  const crashed = state.crash_count > was.state.crash_count;
  const ids = new Set(currentSessions().map((session) => session.id));
  const kept = was.sessions.filter((session) => ids.has(session.id));
  // A session whose time came meanwhile expired: it was not lost.
  const now = Date.now();
  const expired = was.sessions.filter(
    (session) =>
      !ids.has(session.id) &&
      session.expires_at !== undefined &&
      Date.parse(session.expires_at) <= now,
  ).length;
  const all = kept.length + expired === was.sessions.length;
  const meanwhile = expired > 0 ? `, ${expired} expired meanwhile` : '';
  const old = was.state;
  /** @type {[string, string, string][]} */
  const items = [
    [
      'container_id',
      `container_id ${old.container_id} → ${state.container_id}: a new process`,
      'changed',
    ],
    [
      'crash_count',
      `crash_count ${old.crash_count} → ${state.crash_count}${crashed ? ': counted on the volume' : ''}`,
      crashed ? 'changed' : 'kept',
    ],
    ['startup_count', `startup_count ${old.startup_count} → ${state.startup_count}`, 'changed'],
    [
      'requests_this_instance',
      `requests_this_instance started again from ${state.requests_this_instance}`,
      'changed',
    ],
    [
      'sessions',
      `sessions: ${kept.length} of ${was.sessions.length} still there${meanwhile}${all && expired === 0 ? ', every one' : ''}`,
      all ? 'kept' : 'lost',
    ],
  ];
  element('change-title').textContent = crashed ? 'After the crash' : 'Another instance answers';
  element('changed').replaceChildren(
    ...items.map(([key, text, kind]) => {
      const item = Object.assign(document.createElement('li'), { textContent: text });
      item.dataset.key = key;
      item.className = kind;
      return item;
    }),
  );
  const changeReport = element('change-report');
  changeReport.hidden = false;
  // Wherever the page was scrolled to, the report is what to see now.
  changeReport.scrollIntoView({ block: 'nearest' });
  for (const id of ['container_id', 'crash_count', 'startup_count']) flash(id);
}

async function crash() {
  const where = lastState === null ? 'the service' : `instance ${lastState.container_id}`;
  if (
    !(await confirmAction(
      `Crash ${where}? It exits at once; its supervisor starts a new one.`,
      'Crash',
    ))
  ) {
    return;
  }
  remember();
  element('change-report').hidden = true;
  /** @type {import('./api.js').Answer} */
  let answer;
  try {
    answer = await api('POST', '/crash');
  } catch {
    answer = { status: 0, ok: true, json: null }; // the process died before answering
  }
  if (!answer.ok) {
    before = null;
    if (answer.status === 401) {
      element('token-label').hidden = false;
      byId('token', HTMLInputElement).focus();
    }
    return showError(answer);
  }
  crashing = true;
  setConnectionText('down', 'crashing · waiting for the supervisor to start a new instance…');
}

/** Wires the crash button. */
export function setUpCrashButton() {
  byId('crash', HTMLButtonElement).addEventListener('click', crash);
}

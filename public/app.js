// The dashboard: plain JavaScript, no build step, no framework, nothing
// fetched from anywhere but this service. It polls GET /state, lists the
// sessions, follows GET /events/stream, and after a crash waits for the
// service to come back and shows what changed and what did not.
const $ = (id) => document.getElementById(id);
const STATE_POLL_MS = 1000;
const DOWN_POLL_MS = 400;
const TIMELINE_MAX = 200;

let lastState = null;
let beforeCrash = null;
let down = false;
let sessions = [];

async function api(method, path, body) {
  const headers = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  const token = $('token').value;
  if (path === '/crash' && token !== '') headers.authorization = `Bearer ${token}`;
  const response = await fetch(path, {
    method,
    headers,
    cache: 'no-store',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let json = null;
  try {
    json = await response.json();
  } catch {
    json = null;
  }
  return { status: response.status, ok: response.ok, json };
}

function setConnection(state, text) {
  const el = $('connection');
  el.dataset.state = state;
  el.textContent = text;
}

function formatUptime(seconds) {
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${Math.floor(seconds % 60)} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

function showState(state) {
  for (const key of [
    'container_id',
    'requests_this_instance',
    'startup_count',
    'crash_count',
    'total_sessions',
    'total_requests',
    'live_sessions',
  ]) {
    $(key).textContent = String(state[key]);
  }
  $('uptime_seconds').textContent = formatUptime(state.uptime_seconds);
  $('container_id').style.setProperty('--hue', String(hueOf(state.container_id)));
}

function flash(id) {
  const el = $(id);
  el.classList.remove('flash');
  void el.offsetWidth; // restart the animation
  el.classList.add('flash');
}

// Sessions

function render() {
  const body = $('sessions').tBodies[0];
  const editing = body.querySelector('tr.editing')?.dataset.id;
  body.replaceChildren(
    ...sessions.map((session) =>
      session.id === editing ? body.querySelector('tr.editing') : sessionRow(session),
    ),
  );
  $('no-sessions').hidden = sessions.length > 0;
}

/** The note as text: a string as it is, any other JSON value as JSON (kept as it is unless edited). */
function noteOf(session) {
  const note = session.data?.note;
  if (note === undefined) return '';
  return typeof note === 'string' ? note : JSON.stringify(note);
}

function sessionRow(session) {
  const row = $('session-row').content.firstElementChild.cloneNode(true);
  row.dataset.id = session.id;
  row.querySelector('.name').textContent = session.name;
  row.querySelector('.note').textContent = noteOf(session);
  row.querySelector('.count').textContent = String(session.access_count);
  row.querySelector('.created').textContent = session.created_at;
  row.querySelector('.active').textContent = session.last_active;
  row.querySelector('.edit').addEventListener('click', () => startEdit(row, session));
  row.querySelector('.delete').addEventListener('click', async () => {
    const answer = await api('DELETE', `/sessions/${session.id}`);
    if (!answer.ok) showError(answer);
    await loadSessions();
  });
  return row;
}

function startEdit(row, session) {
  row.classList.add('editing');
  const name = Object.assign(document.createElement('input'), { value: session.name });
  name.setAttribute('aria-label', 'new name');
  const note = Object.assign(document.createElement('input'), { value: noteOf(session) });
  note.setAttribute('aria-label', 'new note');
  row.querySelector('.name').replaceChildren(name);
  row.querySelector('.note').replaceChildren(note);
  const save = Object.assign(document.createElement('button'), { type: 'button', textContent: 'Save' });
  const cancel = Object.assign(document.createElement('button'), { type: 'button', textContent: 'Cancel' });
  save.className = 'save';
  row.querySelector('.actions').replaceChildren(save, ' ', cancel);
  save.addEventListener('click', async () => {
    // A note left as it was stays what it was, a string or not.
    const data = note.value === noteOf(session) ? session.data : { ...session.data, note: note.value };
    const answer = await api('PUT', `/sessions/${session.id}`, { name: name.value, data });
    if (!answer.ok) return showError(answer);
    row.classList.remove('editing');
    await loadSessions();
  });
  cancel.addEventListener('click', () => {
    row.classList.remove('editing');
    render();
  });
  name.focus();
}

function showError(answer) {
  const el = $('form-error');
  el.textContent = answer.json?.message ?? `The service answered ${answer.status}.`;
  el.hidden = false;
}

async function loadSessions() {
  try {
    const answer = await api('GET', '/sessions');
    if (answer.ok) {
      sessions = answer.json.sessions;
      render();
    }
  } catch {
    // down: the state poll reports it
  }
}

let sessionsTimer = null;
function loadSessionsSoon() {
  clearTimeout(sessionsTimer);
  sessionsTimer = setTimeout(loadSessions, 100);
}

$('create').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const note = form.elements.note.value;
  const answer = await api('POST', '/sessions', {
    name: form.elements.name.value,
    data: note === '' ? {} : { note },
  });
  if (!answer.ok) return showError(answer);
  $('form-error').hidden = true;
  form.reset();
  await loadSessions();
});

// The event timeline

// Instances get hues a golden angle apart (by their id's value), so two
// instances in a row rarely look alike.
function hueOf(text) {
  let hash = 0;
  for (const char of String(text)) hash = (hash * 31 + char.codePointAt(0)) >>> 0;
  return Math.round((hash * 137.508) % 360);
}

const BASE_KEYS = new Set(['ts', 'time', 'event', 'container']);
const NOTABLE = new Set([
  'startup',
  'shutdown',
  'crash_triggered',
  'crash_detected',
  'log_repaired',
  'session_quarantined',
  'stats_recovered',
  'journal_replayed',
]);

function addToTimeline(event) {
  const item = document.createElement('li');
  item.dataset.event = event.event;
  if (NOTABLE.has(event.event)) item.classList.add('notable');
  item.style.setProperty('--hue', String(hueOf(event.container)));
  const time = Object.assign(document.createElement('time'), { textContent: event.time });
  const container = Object.assign(document.createElement('span'), {
    className: 'container',
    textContent: event.container,
  });
  const kind = Object.assign(document.createElement('span'), {
    className: 'kind',
    textContent: event.event,
  });
  const extras = Object.entries(event)
    .filter(([key]) => !BASE_KEYS.has(key))
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join(' ');
  const details = Object.assign(document.createElement('span'), {
    className: 'extras',
    textContent: extras,
  });
  item.append(time, container, kind, details);
  const list = $('timeline');
  list.prepend(item);
  while (list.children.length > TIMELINE_MAX) list.lastElementChild.remove();
}

function followEvents() {
  const stream = new EventSource('/events/stream');
  stream.addEventListener('message', (message) => {
    const event = JSON.parse(message.data);
    addToTimeline(event);
    if (event.event.startsWith('session_')) loadSessionsSoon();
  });
  // EventSource reconnects by itself (the server asks for 1 s), sending
  // Last-Event-ID so no event is shown twice or missed.
}

// State, crashes and coming back

async function pollState() {
  try {
    const answer = await api('GET', '/state');
    if (!answer.ok) throw new Error(String(answer.status));
    const state = answer.json;
    const wasDown = down;
    down = false;
    setConnection('up', `up · instance ${state.container_id}`);
    showState(state);
    // Back after a crash only once another instance answers: the crashed one
    // may still answer a poll or two before it exits.
    if (beforeCrash !== null && state.container_id !== beforeCrash.state.container_id) {
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

async function cameBack(state) {
  await loadSessions();
  const before = beforeCrash;
  beforeCrash = null;
  const ids = new Set(sessions.map((session) => session.id));
  const kept = before.sessionIds.filter((id) => ids.has(id));
  const items = [
    [
      'container_id',
      `container_id ${before.state.container_id} → ${state.container_id}: a new process`,
      'changed',
    ],
    [
      'crash_count',
      `crash_count ${before.state.crash_count} → ${state.crash_count}: counted on the volume`,
      'changed',
    ],
    [
      'startup_count',
      `startup_count ${before.state.startup_count} → ${state.startup_count}`,
      'changed',
    ],
    [
      'requests_this_instance',
      `requests_this_instance started again from ${state.requests_this_instance}`,
      'changed',
    ],
    [
      'sessions',
      `sessions: ${kept.length} of ${before.sessionIds.length} still there${kept.length === before.sessionIds.length ? ', every one' : ''}`,
      kept.length === before.sessionIds.length ? 'kept' : 'lost',
    ],
  ];
  $('changed').replaceChildren(
    ...items.map(([key, text, kind]) => {
      const item = Object.assign(document.createElement('li'), { textContent: text });
      item.dataset.key = key;
      item.className = kind;
      return item;
    }),
  );
  $('change-report').hidden = false;
  for (const id of ['container_id', 'crash_count', 'startup_count']) flash(id);
}

$('crash').addEventListener('click', async () => {
  beforeCrash = {
    state: lastState,
    sessionIds: sessions.map((session) => session.id),
  };
  $('change-report').hidden = true;
  let answer;
  try {
    answer = await api('POST', '/crash');
  } catch {
    answer = { status: 0, ok: true }; // the process died before answering
  }
  if (answer.status === 401) {
    beforeCrash = null;
    $('token-label').hidden = false;
    $('token').focus();
    return showError(answer);
  }
  if (!answer.ok) {
    beforeCrash = null;
    return showError(answer);
  }
  setConnection('down', 'crashing · waiting for the supervisor to start a new instance…');
});

followEvents();
loadSessions();
pollState();

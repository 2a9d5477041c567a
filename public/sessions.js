// @ts-check
// The sessions table: listing, creating, editing (name, note, lifetime and
// idle timeout) and deleting.
import { api, showError } from './api.js';
import { byId, confirmAction, element, within } from './dom.js';
import { formatDuration, parseDuration, showTimeLeft } from './expiry.js';
import { isWholeId, searchSessions } from './search.js';

/** @typedef {import('./api.js').Session} Session */

/** Sessions a page shows. */
const PAGE_SIZE = 50;
/** A live change lists a page again after this long; a search's page, which may look through every session, after SEARCH_REFRESH_MS. */
const REFRESH_MS = 100;
const SEARCH_REFRESH_MS = 2000;

/**
 * Where a page starts: after a cursor (null: the newest session), and, for a
 * search, how many sessions the pages before it looked at.
 * @typedef {{ after: string | null, searchedBefore: number }} PageStart
 */

/** @type {Session[]} */
let sessions = [];
/** @type {PageStart} */
let shownPage = { after: null, searchedBefore: 0 };
/** The starts of the pages before the shown one, for Newer. @type {PageStart[]} */
const newerPages = [];
/** @type {string | null} */
let olderPage = null;
/** What the search box asks for ('' for every session). */
let searchText = '';
/** The shown page's search: how many sessions it looked at, whether it still looks, whether it was refused. */
let searched = { scanned: 0, looking: false, failed: false };
/** live_sessions, from the state the stream pushes (null until the first). */
/** @type {number | null} */
let liveSessions = null;
/** The load under way: a newer one aborts it, so nothing stale is shown. */
/** @type {AbortController | null} */
let loading = null;
/** A live change arrived while a load was under way: list the page again after it. */
let changedMeanwhile = false;

/** The sessions of the page shown. */
export function currentSessions() {
  return sessions;
}

function render() {
  const body = byId('sessions', HTMLTableElement).tBodies[0];
  if (body === undefined) return;
  const editing = body.querySelector('tr.editing');
  const editingId = editing instanceof HTMLElement ? editing.dataset.id : undefined;
  const typing = document.activeElement;
  const typingInRow =
    typing instanceof HTMLInputElement && editing?.contains(typing) === true ? typing : null;
  const { selectionStart, selectionEnd } = typingInRow ?? {};
  body.replaceChildren(
    ...sessions.map((session) =>
      session.id === editingId && editing !== null ? editing : sessionRow(session),
    ),
  );
  // The row being edited is kept, but moving it took the focus from the
  // input being typed in: a live update must not cost the user their place.
  if (typingInRow?.isConnected === true && document.activeElement !== typingInRow) {
    typingInRow.focus();
    typingInRow.setSelectionRange(selectionStart ?? null, selectionEnd ?? null);
  }
  element('no-sessions').hidden = sessions.length > 0;
}

/**
 * The note as text: a string as it is, any other JSON value as JSON (kept as it is unless edited).
 * @param {Session} session
 */
function noteOf(session) {
  const note = session.data?.note;
  if (note === undefined) return '';
  return typeof note === 'string' ? note : JSON.stringify(note);
}

/**
 * A timestamp to the minute ("2026-02-21 10:00", UTC as the service gives
 * it), so the columns stay narrow; the whole of it is its title.
 * @param {HTMLElement} time
 * @param {string} timestamp
 */
function showTime(time, timestamp) {
  time.textContent = `${timestamp.slice(0, 10)} ${timestamp.slice(11, 16)}`;
  time.setAttribute('datetime', timestamp);
  time.title = timestamp;
}

/** @param {Session} session */
function sessionRow(session) {
  const template = byId('session-row', HTMLTemplateElement);
  const row = template.content.firstElementChild?.cloneNode(true);
  if (!(row instanceof HTMLTableRowElement)) throw new Error('#session-row holds no row');
  row.dataset.id = session.id;
  // The whole id is in the cell (copied whole), drawn as its first characters; its title shows it all.
  const id = within(row, '.id code');
  id.textContent = session.id;
  id.title = session.id;
  within(row, '.name').textContent = session.name;
  within(row, '.note').textContent = noteOf(session);
  within(row, '.count').textContent = String(session.access_count);
  showTime(within(row, '.created time'), session.created_at);
  showTime(within(row, '.active time'), session.last_active);
  showTimeLeft(row, within(row, '.expires time'), session);
  within(row, '.edit').addEventListener('click', () => startEdit(row, session));
  within(row, '.delete').addEventListener('click', async () => {
    if (
      !(await confirmAction(`Delete session “${session.name}”? This cannot be undone.`, 'Delete'))
    ) {
      return;
    }
    const answer = await api('DELETE', `/sessions/${session.id}`);
    if (!answer.ok) showError(answer);
    await loadSessions();
  });
  return row;
}

/**
 * @param {string} text
 * @returns {HTMLButtonElement}
 */
function button(text) {
  return Object.assign(document.createElement('button'), { type: 'button', textContent: text });
}

/**
 * @param {HTMLTableRowElement} row
 * @param {Session} session
 */
function startEdit(row, session) {
  row.classList.add('editing');
  const name = Object.assign(document.createElement('input'), { value: session.name });
  name.setAttribute('aria-label', 'new name');
  const note = Object.assign(document.createElement('input'), { value: noteOf(session) });
  note.setAttribute('aria-label', 'new note');
  // A new lifetime (from now) and idle timeout; left empty, each stays as it is.
  const ttl = Object.assign(document.createElement('input'), { placeholder: 'lifetime' });
  ttl.setAttribute('aria-label', 'new lifetime');
  ttl.title = 'A new lifetime, from now: 90, 90s, 15m, 2h, 30d, or never. Empty: kept.';
  const idle = Object.assign(document.createElement('input'), {
    placeholder:
      session.idle_seconds == null ? 'idle' : `idle ${formatDuration(session.idle_seconds)}`,
  });
  idle.setAttribute('aria-label', 'new idle timeout');
  idle.title = 'A new idle timeout: 90, 90s, 15m, 2h, 30d, or never. Empty: kept.';
  within(row, '.name').replaceChildren(name);
  within(row, '.note').replaceChildren(note);
  within(row, '.expires').replaceChildren(ttl, idle);
  const save = button('Save');
  const cancel = button('Cancel');
  save.className = 'save';
  within(row, '.actions').replaceChildren(save, ' ', cancel);
  const cancelEdit = () => {
    row.classList.remove('editing');
    render();
    const again = byId('sessions', HTMLTableElement).querySelector(
      `tr[data-id="${session.id}"] .edit`,
    );
    if (again instanceof HTMLElement) again.focus();
  };
  // Enter saves, Escape puts the row back as it was.
  for (const input of [name, note, ttl, idle]) {
    input.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') {
        event.preventDefault();
        cancelEdit();
      } else if (event.key === 'Enter') {
        event.preventDefault();
        save.click();
      }
    });
  }
  save.addEventListener('click', async () => {
    // A merge patch: only what was edited is sent, so the other keys of data
    // stay as they are now (whoever changed them since the page was drawn),
    // and a note left as it was stays what it was, a string or not.
    const expiry = expiryOf(ttl, idle);
    if (expiry instanceof Error)
      return showError({ status: 0, ok: false, json: { message: expiry.message } });
    const answer = await api('PATCH', `/sessions/${session.id}`, {
      name: name.value,
      ...(note.value === noteOf(session) ? {} : { data: { note: note.value } }),
      ...expiry,
    });
    if (!answer.ok) return showError(answer);
    row.classList.remove('editing');
    await loadSessions();
  });
  cancel.addEventListener('click', cancelEdit);
  name.focus();
}

/**
 * Lists the page shown again (the service pages newest first, by cursor); a
 * search looks on, answer after answer, showing what it found as it goes.
 * Whatever load was under way stops: only the newest one's answers are shown.
 */
export async function loadSessions({ refresh = false } = {}) {
  loading?.abort();
  const load = new AbortController();
  loading = load;
  try {
    if (searchText === '') await loadPage(load.signal);
    else await loadSearch(load.signal, refresh);
  } catch {
    // Aborted (a newer load took over), or down: the event stream reports that
    // (live.js); a search cut short by it is not "still looking".
    if (!load.signal.aborted && searched.looking) {
      searched = { ...searched, looking: false, failed: true };
      showPager();
    }
  } finally {
    if (loading === load) {
      loading = null;
      if (changedMeanwhile) loadSessionsSoon();
    }
  }
}

/** @param {AbortSignal} signal */
async function loadPage(signal) {
  const query = new URLSearchParams({ limit: String(PAGE_SIZE), order: 'newest' });
  if (shownPage.after !== null) query.set('after', shownPage.after);
  const answer = await api('GET', `/sessions?${query}`, undefined, signal);
  if (signal.aborted || !answer.ok || answer.json?.sessions === undefined) return;
  sessions = answer.json.sessions;
  olderPage = typeof answer.json.next === 'string' ? answer.json.next : null;
  searched = { scanned: 0, looking: false, failed: false };
  render();
  showPager();
}

/**
 * A search's page: shown as it is found, answer after answer; a `refresh`
 * (sessions changed elsewhere) keeps what is shown, and the row being
 * edited, until the search has looked again, then shows it at once.
 * @param {AbortSignal} signal
 * @param {boolean} refresh
 */
async function loadSearch(signal, refresh) {
  /** @param {import('./search.js').Found} found */
  const show = (found) => {
    sessions = found.sessions;
    olderPage = found.next;
    searched = { scanned: found.scanned, looking: found.looking, failed: found.failed === true };
    render();
    showPager();
  };
  if (!refresh) {
    searched = { scanned: 0, looking: true, failed: false };
    showPager();
  }
  const found = await searchSessions({
    text: searchText,
    after: shownPage.after,
    limit: PAGE_SIZE,
    signal,
    onProgress: refresh ? () => undefined : show,
  });
  // A refresh the service refused leaves the page as it was.
  if (found !== null && !(refresh && found.failed === true)) show(found);
}

/** @param {number} count */
const formatCount = (count) => count.toLocaleString('en');

/** "of 1,000,000", the sessions there are, when the page has heard. */
const ofAll = () => (liveSessions === null ? '' : ` of ${formatCount(liveSessions)}`);

/** The pager, and for a search how far it looked (as it goes) and what it found. */
function showPager() {
  const { looking } = searched;
  byId('newer', HTMLButtonElement).disabled = newerPages.length === 0 || looking;
  byId('older', HTMLButtonElement).disabled = olderPage === null || looking;
  const number = newerPages.length + 1;
  const paged = number === 1 && olderPage === null ? '' : `page ${number}`;
  // The search stopped for its time budget with sessions left to look through.
  const cut = searchText !== '' && !looking && olderPage !== null && sessions.length < PAGE_SIZE;
  element('page-info').textContent = `${paged}${cut ? ' · Older searches on' : ''}`;

  const status = element('search-status');
  status.setAttribute('aria-busy', String(looking));
  const total = shownPage.searchedBefore + searched.scanned;
  let said = '';
  if (searchText === '') said = '';
  else if (isWholeId(searchText)) said = sessions.length > 0 ? 'found by its id' : '';
  else if (searched.failed)
    said = `searched ${formatCount(total)}${ofAll()}, then the service did not answer`;
  else if (looking) said = `searched ${formatCount(total)}${ofAll()}…`;
  else if (olderPage === null) said = `searched all ${formatCount(total)}`;
  else said = `searched ${formatCount(total)}${ofAll()}`;
  status.textContent = said;
  status.hidden = said === '';

  let empty = 'No sessions yet.';
  if (searchText !== '' && looking) empty = 'Searching…';
  else if (searchText !== '' && searched.failed) {
    empty = `The search for “${searchText}” was cut short: it goes on once the service is back.`;
  } else if (searchText !== '' && olderPage !== null) {
    empty = `No match for “${searchText}” yet.`;
  } else if (searchText !== '') empty = `No session matches “${searchText}”.`;
  element('no-sessions').textContent = empty;
}

/**
 * The number of sessions there are (live_sessions), for "searched N of M".
 * @param {number} count
 */
export function setLiveSessions(count) {
  if (count === liveSessions) return;
  liveSessions = count;
  if (searchText !== '') showPager();
}

/** A search the service cut short (it was restarting, say) looks again, now that it answers. */
export function searchAgainIfCutShort() {
  if (searchText !== '' && searched.failed && loading === null) void loadSessions();
}

/** Wires the pager and the search: Older follows the cursor, Newer goes back the way it came. */
export function setUpPager() {
  byId('older', HTMLButtonElement).addEventListener('click', async () => {
    if (olderPage === null) return;
    newerPages.push(shownPage);
    shownPage = { after: olderPage, searchedBefore: shownPage.searchedBefore + searched.scanned };
    await loadSessions();
  });
  byId('newer', HTMLButtonElement).addEventListener('click', async () => {
    const previous = newerPages.pop();
    if (previous === undefined) return;
    shownPage = previous;
    await loadSessions();
  });
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let typing;
  const search = byId('search', HTMLInputElement);
  search.addEventListener('input', () => {
    // What an older search still finds is for text no longer asked for.
    loading?.abort();
    clearTimeout(typing);
    typing = setTimeout(async () => {
      searchText = search.value.trim();
      shownPage = { after: null, searchedBefore: 0 };
      newerPages.length = 0;
      await loadSessions();
    }, 250);
  });
}

/** @type {ReturnType<typeof setTimeout> | undefined} */
let sessionsTimer;
/**
 * Lists the sessions again shortly: changes come in bursts, and one listing
 * follows the burst. While a load is under way, it follows that load.
 */
export function loadSessionsSoon() {
  if (loading !== null) {
    changedMeanwhile = true;
    return;
  }
  changedMeanwhile = false;
  if (sessionsTimer !== undefined) return;
  sessionsTimer = setTimeout(
    () => {
      sessionsTimer = undefined;
      void loadSessions({ refresh: true });
    },
    searchText === '' ? REFRESH_MS : SEARCH_REFRESH_MS,
  );
}

/**
 * `ttl_seconds` and `idle_seconds` as typed in two inputs (what is left empty
 * is not sent), or an Error saying what is wrong with them.
 * @param {HTMLInputElement} ttl
 * @param {HTMLInputElement} idle
 * @returns {{ ttl_seconds?: number | null, idle_seconds?: number | null } | Error}
 */
function expiryOf(ttl, idle) {
  const ttlSeconds = parseDuration(ttl.value);
  const idleSeconds = parseDuration(idle.value);
  if (ttlSeconds instanceof Error) return new Error(`Lifetime: ${ttlSeconds.message}`);
  if (idleSeconds instanceof Error) return new Error(`Idle timeout: ${idleSeconds.message}`);
  return {
    ...(ttlSeconds === undefined ? {} : { ttl_seconds: ttlSeconds }),
    ...(idleSeconds === undefined ? {} : { idle_seconds: idleSeconds }),
  };
}

/** Takes a session deleted or expired off the page at once (the listing that follows agrees). @param {string} id */
export function forgetSession(id) {
  if (!sessions.some((session) => session.id === id)) return;
  sessions = sessions.filter((session) => session.id !== id);
  render();
}

/** Wires the create form. */
export function setUpCreateForm() {
  const form = byId('create', HTMLFormElement);
  /** @param {string} field */
  const input = (field) => {
    const found = form.elements.namedItem(field);
    if (!(found instanceof HTMLInputElement)) throw new Error(`#create has no input ${field}`);
    return found;
  };
  const [name, note, ttl, idle] = ['name', 'note', 'ttl', 'idle'].map(input);
  if (name === undefined || note === undefined || ttl === undefined || idle === undefined) return;
  // A duration the service would refuse is refused by the form, as a missing name is.
  for (const duration of [ttl, idle]) {
    duration.addEventListener('input', () => {
      const parsed = parseDuration(duration.value);
      duration.setCustomValidity(parsed instanceof Error ? parsed.message : '');
    });
  }
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const expiry = expiryOf(ttl, idle);
    if (expiry instanceof Error)
      return showError({ status: 0, ok: false, json: { message: expiry.message } });
    const answer = await api('POST', '/sessions', {
      name: name.value,
      data: note.value === '' ? {} : { note: note.value },
      ...expiry,
    });
    if (!answer.ok) return showError(answer);
    element('form-error').hidden = true;
    form.reset();
    await loadSessions();
  });
}

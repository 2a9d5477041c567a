// @ts-check
// The sessions table: listing, creating, editing (name and note) and deleting.
import { api, showError } from './api.js';
import { byId, confirmAction, element, within } from './dom.js';

/** @typedef {import('./api.js').Session} Session */

/** Sessions a page shows. */
const PAGE_SIZE = 50;

/** @type {Session[]} */
let sessions = [];
/** The cursor the shown page starts after (null: the newest page), and those of the pages before it. */
/** @type {string | null} */
let pageAfter = null;
/** @type {(string | null)[]} */
const newerPages = [];
/** @type {string | null} */
let olderPage = null;
/** What the search box asks for ('' for every session). */
let searchText = '';

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

/** @param {Session} session */
function sessionRow(session) {
  const template = byId('session-row', HTMLTemplateElement);
  const row = template.content.firstElementChild?.cloneNode(true);
  if (!(row instanceof HTMLTableRowElement)) throw new Error('#session-row holds no row');
  row.dataset.id = session.id;
  within(row, '.name').textContent = session.name;
  within(row, '.note').textContent = noteOf(session);
  within(row, '.count').textContent = String(session.access_count);
  within(row, '.created').textContent = session.created_at;
  within(row, '.active').textContent = session.last_active;
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
  within(row, '.name').replaceChildren(name);
  within(row, '.note').replaceChildren(note);
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
  for (const input of [name, note]) {
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
    const answer = await api(
      'PATCH',
      `/sessions/${session.id}`,
      note.value === noteOf(session)
        ? { name: name.value }
        : { name: name.value, data: { note: note.value } },
    );
    if (!answer.ok) return showError(answer);
    row.classList.remove('editing');
    await loadSessions();
  });
  cancel.addEventListener('click', cancelEdit);
  name.focus();
}

/** Lists the page shown again (the service pages newest first, by cursor). */
export async function loadSessions() {
  const query = new URLSearchParams({ limit: String(PAGE_SIZE), order: 'newest' });
  if (searchText !== '') query.set('q', searchText);
  if (pageAfter !== null) query.set('after', pageAfter);
  try {
    const answer = await api('GET', `/sessions?${query}`);
    if (answer.ok && answer.json?.sessions !== undefined) {
      sessions = answer.json.sessions;
      olderPage = typeof answer.json.next === 'string' ? answer.json.next : null;
      render();
      showPager();
    }
  } catch {
    // down: the event stream reports it (live.js)
  }
}

function showPager() {
  byId('newer', HTMLButtonElement).disabled = newerPages.length === 0;
  byId('older', HTMLButtonElement).disabled = olderPage === null;
  const number = newerPages.length + 1;
  const paged = number === 1 && olderPage === null ? '' : `page ${number}`;
  // A search looks at 10,000 sessions a page: it may find few, with more to look through.
  const further = searchText !== '' && olderPage !== null ? ' · Older looks further' : '';
  element('page-info').textContent = `${paged}${further}`;
  element('no-sessions').textContent =
    searchText === '' ? 'No sessions yet.' : `No session here matches “${searchText}”.`;
}

/** Wires the pager: Older follows the cursor, Newer goes back the way it came. */
export function setUpPager() {
  byId('older', HTMLButtonElement).addEventListener('click', async () => {
    if (olderPage === null) return;
    newerPages.push(pageAfter);
    pageAfter = olderPage;
    await loadSessions();
  });
  byId('newer', HTMLButtonElement).addEventListener('click', async () => {
    if (newerPages.length === 0) return;
    pageAfter = newerPages.pop() ?? null;
    await loadSessions();
  });
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let typing;
  const search = byId('search', HTMLInputElement);
  search.addEventListener('input', () => {
    clearTimeout(typing);
    typing = setTimeout(async () => {
      searchText = search.value.trim();
      pageAfter = null;
      newerPages.length = 0;
      await loadSessions();
    }, 250);
  });
}

/** @type {ReturnType<typeof setTimeout> | undefined} */
let sessionsTimer;
/** Lists the sessions again shortly (changes come in bursts). */
export function loadSessionsSoon() {
  clearTimeout(sessionsTimer);
  sessionsTimer = setTimeout(loadSessions, 100);
}

/** Wires the create form. */
export function setUpCreateForm() {
  const form = byId('create', HTMLFormElement);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const name = form.elements.namedItem('name');
    const note = form.elements.namedItem('note');
    if (!(name instanceof HTMLInputElement) || !(note instanceof HTMLInputElement)) return;
    const answer = await api('POST', '/sessions', {
      name: name.value,
      data: note.value === '' ? {} : { note: note.value },
    });
    if (!answer.ok) return showError(answer);
    element('form-error').hidden = true;
    form.reset();
    await loadSessions();
  });
}

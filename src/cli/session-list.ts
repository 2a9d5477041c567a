/**
 * `stateful session list`: one page on a terminal, every session into a pipe
 * (or with --all or --json), and `--search TEXT`, which goes on from page to
 * page until it has found a page's worth, come to the end or spent its time
 * (about a second on a terminal; into a pipe it searches to the end), and
 * says how far it looked.
 */
import type { Session, SessionPage, StatefulClient } from '../client/index.js';
import { DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT, MAX_SEARCH_LENGTH } from '../domain/page.js';
import { type Output, sayHidden, sessionTable, write } from './output.js';
import { flagWords } from './shell-words.js';
import { UsageError, wholeNumber } from './usage-error.js';

/** How long a search on a terminal goes on before it shows what it found. */
const SEARCH_BUDGET_MS = 1000;

export interface ListValues {
  limit?: string;
  after?: string;
  search?: string;
  newest: boolean;
  all: boolean;
}

export async function listSessions(
  client: StatefulClient,
  out: Output,
  values: ListValues,
): Promise<void> {
  const paged = values.limit !== undefined || values.after !== undefined;
  if (values.all && paged) {
    throw new UsageError('--all lists every session: it takes no --limit or --after.');
  }
  if (values.search === '') throw new UsageError('--search needs the text to look for.');
  if (values.search !== undefined && [...values.search].length > MAX_SEARCH_LENGTH) {
    throw new UsageError(`--search takes at most ${MAX_SEARCH_LENGTH} characters.`);
  }
  // No page asked for: every session into a pipe or with --json (there in the
  // shape of the original's listing), one page on a terminal (--all: every one).
  const onTerminal = out.width !== undefined && !out.json;
  if (values.all || (!paged && !onTerminal)) await listAll(client, out, values);
  else await listPage(client, out, values);
}

/** The command that asks for the page after `next`, for people to copy. */
function nextCommand(values: ListValues, out: Output, limit: string, next: string): string {
  const search = values.search === undefined ? '' : ` ${flagWords('search', values.search)}`;
  const newest = values.newest ? ' --newest' : '';
  return `stateful session list${search} --limit ${limit}${newest} ${flagWords('after', next)}${out.again}`;
}

/** One page of sessions (of matches, with --search); says on stderr how to ask for the next. */
async function listPage(client: StatefulClient, out: Output, values: ListValues): Promise<void> {
  const limit = values.limit ?? String(DEFAULT_PAGE_LIMIT);
  const options = {
    limit: wholeNumber('limit', limit, 1, MAX_PAGE_LIMIT) as number,
    newest: values.newest,
    after: values.after ?? null,
  };
  const page =
    values.search === undefined
      ? await client.sessionPage(options)
      : await searchOn(client, out, { ...options, search: values.search });
  if (out.json) await write(`${JSON.stringify(page, null, 2)}\n`);
  else if (page.sessions.length > 0) {
    const rows = sessionTable(out.style, out.width);
    await write(rows.rows(page.sessions));
    sayHidden(rows.hidden(), out);
  } else process.stderr.write(values.search === undefined ? 'No sessions.\n' : 'None found.\n');
  if (page.next !== null) {
    const all = values.search === undefined ? 'every session' : 'every match';
    process.stderr.write(`more: ${nextCommand(values, out, limit, page.next)} (--all: ${all})\n`);
  }
}

const sessionsWord = (count: number) => (count === 1 ? 'session' : 'sessions');

/**
 * A page of matches: pages of the search one after another until `limit`
 * are found, the sessions end or the time is spent. On a terminal stderr
 * shows how far it has looked (of the `live_sessions` /state counts).
 */
async function searchOn(
  client: StatefulClient,
  out: Output,
  query: { limit: number; newest: boolean; after: string | null; search: string },
): Promise<SessionPage> {
  // On a terminal a person waits about a second; a pipe or --json waits for the page.
  const deadline = out.width === undefined || out.json ? Infinity : Date.now() + SEARCH_BUDGET_MS;
  const progress = process.stderr.isTTY === true && !out.json;
  const total = progress ? (await client.state()).live_sessions : 0;
  const page = await client.searchSessions({
    ...query,
    deadline,
    ...(progress
      ? {
          onProgress: (scanned: number) =>
            process.stderr.write(
              `\rsearched ${scanned.toLocaleString('en')} of ${total.toLocaleString('en')}…`,
            ),
        }
      : {}),
  });
  if (progress) process.stderr.write('\r\u001b[K');
  if (!out.json) {
    const { scanned } = page;
    const of = progress ? ` of ${total.toLocaleString('en')}` : '';
    const end = page.next === null ? ', to the end' : '';
    process.stderr.write(
      `${page.count} found; searched ${scanned.toLocaleString('en')}${of} ${sessionsWord(progress ? total : scanned)}${end}\n`,
    );
  }
  return page;
}

/**
 * Every session (every match, with --search), a page of 1,000 at a time,
 * printed as each page arrives: with --json in the shape of the whole listing
 * (`{"sessions":[…],"count":N}`), else as one table; a listing of any size,
 * never held whole in memory.
 */
async function listAll(client: StatefulClient, out: Output, values: ListValues): Promise<void> {
  let count = 0;
  let pageRows: Session[] = [];
  const rows = sessionTable(out.style, out.width);
  if (out.json) await write('{\n  "sessions": [');
  const flush = async () => {
    if (out.json) {
      let text = '';
      for (const session of pageRows) {
        text += `${count++ === 0 ? '' : ','}\n    ${JSON.stringify(session, null, 2).replace(/\n/g, '\n    ')}`;
      }
      await write(text);
    } else if (pageRows.length > 0) {
      count += pageRows.length;
      await write(rows.rows(pageRows));
    }
    pageRows = [];
  };
  const { newest, search } = values;
  for await (const session of client.sessions({
    newest,
    ...(search === undefined ? {} : { search }),
  })) {
    pageRows.push(session);
    if (pageRows.length === 1000) await flush();
  }
  await flush();
  if (out.json) await write(`${count === 0 ? '' : '\n  '}],\n  "count": ${count}\n}\n`);
  else {
    sayHidden(rows.hidden(), out);
    if (count > 0) process.stderr.write(`${count} ${sessionsWord(count)}\n`);
    else process.stderr.write(search === undefined ? 'No sessions.\n' : 'None found.\n');
  }
}

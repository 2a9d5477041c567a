/**
 * Reading sessions a page at a time: the query's rules (how many a page may
 * hold, which way it runs) and the cursor that says where the next page
 * starts. A cursor is opaque to clients (base64url of a small JSON array of
 * the last session's position, which each store chooses); it stays valid
 * while sessions are created and deleted, and across restarts.
 */
import { InvalidInputError } from './errors.js';
import { unstorableMessage, unstorableText } from './text.js';

export const DEFAULT_PAGE_LIMIT = 100;
export const MAX_PAGE_LIMIT = 1000;
/**
 * The most sessions one page looks at (a search's misses, and on the file
 * store expired sessions the sweep has not yet removed): a page costs a bounded
 * amount whatever the store holds (on the file store 3 ms of the event loop
 * with the sessions in memory in creation order, as after a boot from the
 * snapshot, up to about 25 ms in the order a takeover read them), and a page
 * may hold fewer matches than asked (follow `next` until it is null; the
 * tools do, within a time budget).
 */
export const SEARCH_SCAN_LIMIT = 20_000;
/**
 * PAGE_MAX_KB by default: the most a page's sessions may add up to, as JSON
 * (characters, about bytes). A page of large sessions stops short of its
 * `limit` there (its `next` goes on), so what one answer holds in memory is
 * bounded whatever the sessions weigh; a page always holds at least one.
 */
export const DEFAULT_PAGE_MAX_BYTES = 4 * 1024 * 1024;
export const MAX_SEARCH_LENGTH = 200;

export interface PageQuery {
  /** Where the previous page ended; null for the first page. */
  after: string | null;
  limit: number;
  /** Newest first (the dashboard's order) instead of creation order. */
  newestFirst: boolean;
  /** Only sessions whose name contains this (any case) or whose id starts with it. */
  search: string | null;
  /**
   * The most the page's sessions may add up to as JSON (characters): the
   * page ends before the session that would pass it, unless it is the first.
   */
  maxBytes: number;
}

/** Whether a session is one a search for `text` (lower case) finds. */
export function matchesSearch(session: { id: string; name: string }, text: string): boolean {
  return session.id.startsWith(text) || session.name.toLowerCase().includes(text);
}

/** Whether a page that already holds `items` (`bytes` of JSON) ends before an item of `size`. */
export function pageIsFull(items: number, bytes: number, size: number, maxBytes: number): boolean {
  return items > 0 && bytes + size > maxBytes;
}

export interface Page<T> {
  items: T[];
  /** The cursor of the next page; null when this page is the last. */
  next: string | null;
  /** A search's page: how many sessions it looked at to find its items. */
  scanned?: number;
}

/**
 * `?limit=N&after=CURSOR&order=oldest|newest&q=TEXT`, or null when none of
 * them is given (then GET /sessions is the original's whole listing).
 */
export function parsePageQuery(
  query: {
    limit?: unknown;
    after?: unknown;
    order?: unknown;
    q?: unknown;
  },
  maxBytes: number,
): PageQuery | null {
  const { limit, after, order, q } = query;
  if (limit === undefined && after === undefined && order === undefined && q === undefined) {
    return null;
  }
  let pageLimit = DEFAULT_PAGE_LIMIT;
  if (limit !== undefined) {
    if (typeof limit !== 'string' || !/^\d{1,5}$/.test(limit)) {
      throw new InvalidInputError(`"limit" must be an integer from 1 to ${MAX_PAGE_LIMIT}.`);
    }
    pageLimit = Number(limit);
    if (pageLimit < 1 || pageLimit > MAX_PAGE_LIMIT) {
      throw new InvalidInputError(`"limit" must be an integer from 1 to ${MAX_PAGE_LIMIT}.`);
    }
  }
  if (after !== undefined && (typeof after !== 'string' || after.length > 512)) {
    throw new InvalidInputError('"after" must be the cursor a previous page gave ("next").');
  }
  if (order !== undefined && order !== 'oldest' && order !== 'newest') {
    throw new InvalidInputError('"order" must be "oldest" (creation order) or "newest".');
  }
  if (q !== undefined && (typeof q !== 'string' || [...q].length > MAX_SEARCH_LENGTH)) {
    throw new InvalidInputError(`"q" must be text of at most ${MAX_SEARCH_LENGTH} characters.`);
  }
  const unstorable = q === undefined ? null : unstorableText(q);
  if (unstorable !== null)
    throw new InvalidInputError(unstorableMessage(`"q" holds ${unstorable}`));
  return {
    after: after ?? null,
    limit: pageLimit,
    newestFirst: order === 'newest',
    search: q === undefined || q === '' ? null : q.toLowerCase(),
    maxBytes,
  };
}

export function encodeCursor(position: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify(position)).toString('base64url');
}

/** The position a cursor holds; throws InvalidInputError for anything this service did not give out. */
export function decodeCursor(cursor: string): (string | number)[] {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    value = null;
  }
  if (
    !Array.isArray(value) ||
    value.length === 0 ||
    value.length > 2 ||
    !value.every((part) => typeof part === 'string' || Number.isSafeInteger(part))
  ) {
    throw new InvalidInputError('"after" is not a cursor this service gave out ("next").');
  }
  return value as (string | number)[];
}

/**
 * Reading sessions a page at a time: the query's rules (how many a page may
 * hold, which way it runs) and the cursor that says where the next page
 * starts. A cursor is opaque to clients (base64url of a small JSON array of
 * the last session's position, which each store chooses); it stays valid
 * while sessions are created and deleted, and across restarts.
 */
import { InvalidInputError } from './errors.js';

export const DEFAULT_PAGE_LIMIT = 100;
export const MAX_PAGE_LIMIT = 1000;

export interface PageQuery {
  /** Where the previous page ended; null for the first page. */
  after: string | null;
  limit: number;
  /** Newest first (the dashboard's order) instead of creation order. */
  newestFirst: boolean;
}

export interface Page<T> {
  items: T[];
  /** The cursor of the next page; null when this page is the last. */
  next: string | null;
}

/**
 * `?limit=N&after=CURSOR&order=oldest|newest`, or null when none of them is
 * given (then GET /sessions is the original's whole listing).
 */
export function parsePageQuery(query: {
  limit?: unknown;
  after?: unknown;
  order?: unknown;
}): PageQuery | null {
  const { limit, after, order } = query;
  if (limit === undefined && after === undefined && order === undefined) return null;
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
  return { after: after ?? null, limit: pageLimit, newestFirst: order === 'newest' };
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

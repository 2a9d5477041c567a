/**
 * /sessions: create, list, read, update (PUT replaces, PATCH merges) and delete sessions. The listing is
 * streamed a batch of sessions at a time, as fast as the client reads it:
 * its size is bounded by nothing but the store, so it is never built whole.
 * Listings and pages are written from the sessions' JSON as the store hands
 * it over (the file store holds it), never parsed and written again. Sending
 * is still what a listing costs, so the chunks of the last listing are kept
 * until a session changes, when they add up to at most LISTING_CACHE_BYTES
 * (a store shared by replicas is never cached).
 */
import { Readable } from 'node:stream';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import {
  InvalidInputError,
  NotFoundError,
  SessionTooLargeError,
  StorageBudgetError,
  StorageFullError,
  StorageUnavailableError,
  UnsupportedMediaTypeError,
} from '../domain/errors.js';
import { MAX_PAGE_LIMIT, MAX_SEARCH_LENGTH, parsePageQuery } from '../domain/page.js';
import type { SessionService } from '../service/sessions.js';
import { checkedByTheDomain, type Refusal, refusal, routeErrors } from './answers.js';
import {
  DeletedSchema,
  type IdParams,
  IdParamsSchema,
  named,
  SessionInputSchema,
  SessionListingSchema,
  SessionPageSchema,
  SessionSchema,
} from './schemas.js';

interface IdRoute {
  Params: IdParams;
}

interface ListRoute {
  Querystring: { limit?: string; after?: string; order?: string; q?: string };
}

/** Sessions read from the store at a time while a listing is streamed. */
const LISTING_BATCH = 256;
/** The size of the chunks a listing is written in (a chunk holds at least one session). */
const LISTING_CHUNK_BYTES = 64 * 1024;

/** The most the cached listing may hold (UTF-16 code units, about bytes). */
const LISTING_CACHE_BYTES = 32 * 1024 * 1024;

/** `{"sessions":[…],"count":N}`, the original's listing, in chunks of about 64 KiB. */
async function* listingChunks(sessions: SessionService): AsyncGenerator<string> {
  let count = 0;
  let chunk = '{"sessions":[';
  for await (const batch of sessions.batches(LISTING_BATCH)) {
    for (const json of batch) {
      chunk += (count === 0 ? '' : ',') + json;
      count++;
      if (chunk.length >= LISTING_CHUNK_BYTES) {
        yield chunk;
        chunk = '';
      }
    }
  }
  yield `${chunk}],"count":${count}}`;
}

/** Serves listings, from the cached chunks while no session has changed. */
class Listing {
  private cached: { version: number; chunks: readonly string[] } | null = null;

  constructor(private readonly sessions: SessionService) {}

  chunks(): AsyncIterable<string> | readonly string[] {
    const version = this.sessions.version();
    if (version === null) return listingChunks(this.sessions);
    if (this.cached?.version === version) return this.cached.chunks;
    return this.streamAndKeep(version);
  }

  private async *streamAndKeep(version: number): AsyncGenerator<string> {
    let kept: string[] | null = [];
    let size = 0;
    for await (const chunk of listingChunks(this.sessions)) {
      size += chunk.length;
      if (size > LISTING_CACHE_BYTES) kept = null;
      kept?.push(chunk);
      yield chunk;
    }
    // Kept only if whole, and still current once the (possibly async) read is done.
    if (kept !== null && this.sessions.version() === version) {
      this.cached = { version, chunks: kept };
    }
  }
}

const TAGS = ['sessions'];

const NOT_FOUND = refusal(NotFoundError, 'no such session');

/** What a write may meet in the store (nothing is changed by any of them). */
const WRITE_REFUSALS: Refusal[] = [
  refusal(InvalidInputError, 'a name or data of the wrong type, or a name over 200 characters'),
  refusal(
    SessionTooLargeError,
    'name and data are over 1 MiB as JSON, or data holds more than SESSION_MAX_NODES values',
  ),
  refusal(StorageUnavailableError, 'the write could not be made durable; nothing was changed'),
  refusal(StorageFullError, 'the disk is full; nothing was changed'),
  refusal(StorageBudgetError, 'the sessions use STORAGE_BUDGET_MB; nothing was changed'),
];

const session = named(SessionSchema);
const input = named(SessionInputSchema);

/** The `Link` header of a page that has a next one. */
const NEXT_LINK = {
  Link: Type.String({
    description: 'while there is more: `</sessions?…&after=…>; rel="next"`',
    examples: ['</sessions?limit=100&order=oldest&after=WyIyMDI2Il0>; rel="next"'],
  }),
};

const createSchema = {
  operationId: 'createSession',
  tags: TAGS,
  summary: 'Create a session',
  description: 'A body is read as JSON whatever its Content-Type; no body is `{}`.',
  body: input,
  response: {
    201: { ...session, description: 'the new session' },
    ...routeErrors('write', ...WRITE_REFUSALS),
  },
};

const listSchema = {
  operationId: 'listSessions',
  tags: TAGS,
  summary: 'Every session, or a page of them',
  description:
    'With no parameters, the original listing `{"sessions":[…],"count":N}` in creation ' +
    'order, streamed (it has no `next`). With any of limit, order, after or q, one page and, ' +
    'while there is more, a `Link: <…>; rel="next"` header.',
  querystring: Type.Object({
    limit: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: MAX_PAGE_LIMIT,
        description:
          'a page of this many, 100 by default (any of these parameters asks for a page)',
        examples: [100],
      }),
    ),
    order: Type.Optional(
      Type.Unsafe<'oldest' | 'newest'>({
        type: 'string',
        enum: ['oldest', 'newest'],
        description: 'creation order (the default) or newest first',
      }),
    ),
    after: Type.Optional(
      Type.String({ maxLength: 512, description: 'the `next` of the previous page' }),
    ),
    q: Type.Optional(
      Type.String({
        maxLength: MAX_SEARCH_LENGTH,
        description: 'only sessions whose name contains this (any case) or whose id starts with it',
      }),
    ),
  }),
  response: {
    200: {
      description: 'a page (with any parameter), or with none the whole listing',
      headers: NEXT_LINK,
      anyOf: [Type.Ref(SessionPageSchema), Type.Ref(SessionListingSchema)],
      examples: SessionPageSchema.examples,
    },
    ...routeErrors('read', refusal(InvalidInputError, 'a bad limit, order, cursor or search')),
  },
};

const params = IdParamsSchema;

const getSchema = {
  operationId: 'getSession',
  tags: TAGS,
  summary: 'One session',
  params,
  response: { 200: session, ...routeErrors('read', NOT_FOUND) },
};

const replaceSchema = {
  operationId: 'replaceSession',
  tags: TAGS,
  summary: 'Replace name and/or data (the original update)',
  description: 'access_count + 1, last_active now, a session_updated event.',
  params,
  body: input,
  response: { 200: session, ...routeErrors('write', NOT_FOUND, ...WRITE_REFUSALS) },
};

const patchSchema = {
  operationId: 'patchSession',
  tags: TAGS,
  summary: 'Merge a JSON Merge Patch (RFC 7396) into the session',
  description:
    'Content-Type application/merge-patch+json (plain JSON is read the same). data is ' +
    'merged key by key; null removes a key. Counted as a PUT.',
  consumes: ['application/merge-patch+json', 'application/json'],
  params,
  body: input,
  response: {
    200: session,
    ...routeErrors(
      'write',
      NOT_FOUND,
      ...WRITE_REFUSALS,
      refusal(UnsupportedMediaTypeError, 'a JSON Patch (application/json-patch+json)'),
    ),
  },
};

const deleteSchema = {
  operationId: 'deleteSession',
  tags: TAGS,
  summary: 'Delete a session',
  params,
  response: {
    200: DeletedSchema,
    ...routeErrors(
      'write',
      NOT_FOUND,
      refusal(StorageUnavailableError, 'the delete could not be made durable; nothing was changed'),
    ),
  },
};

/** `pageMaxBytes`: PAGE_MAX_KB, what one page's sessions may add up to. */
export function sessionRoutes(
  app: FastifyInstance,
  sessions: SessionService,
  pageMaxBytes: number,
): void {
  app.post(
    '/sessions',
    { schema: createSchema, validatorCompiler: checkedByTheDomain },
    async (request, reply) => {
      return reply.code(201).send(await sessions.create(request.body));
    },
  );

  const listing = new Listing(sessions);
  app.get<ListRoute>(
    '/sessions',
    { schema: listSchema, validatorCompiler: checkedByTheDomain },
    async (request, reply) => {
      const query = parsePageQuery(request.query, pageMaxBytes);
      if (query === null) {
        // The original's whole listing. Readable.from waits for the socket to
        // drain before it asks for the next chunk, and stops the generator
        // when the client goes away. (A stream skips the response schema.)
        return reply
          .type('application/json; charset=utf-8')
          .send(Readable.from(listing.chunks(), { objectMode: false }));
      }
      const page = await sessions.page(query);
      if (page.next !== null) {
        const order = query.newestFirst ? 'newest' : 'oldest';
        const search = query.search === null ? '' : `&q=${encodeURIComponent(query.search)}`;
        reply.header(
          'link',
          `</sessions?limit=${query.limit}&order=${order}${search}&after=${page.next}>; rel="next"`,
        );
      }
      // SessionPageSchema, written by hand around the sessions' JSON.
      const next = page.next === null ? 'null' : JSON.stringify(page.next);
      return reply
        .type('application/json; charset=utf-8')
        .send(
          `{"sessions":[${page.items.join(',')}],"count":${page.items.length},"next":${next}${
            page.scanned === undefined ? '' : `,"scanned":${page.scanned}`
          }}`,
        );
    },
  );

  const checked = { validatorCompiler: checkedByTheDomain };
  app.get<IdRoute>('/sessions/:id', { schema: getSchema, ...checked }, async (request, reply) => {
    // The JSON the store holds is the answer's bytes (as in a listing).
    const json = await sessions.getJson(request.params.id);
    if (json === null) return sessions.get(request.params.id);
    return reply.type('application/json; charset=utf-8').send(json);
  });

  app.put<IdRoute>('/sessions/:id', { schema: replaceSchema, ...checked }, async (request) => {
    return sessions.update(request.params.id, request.body);
  });

  // JSON Merge Patch (application/merge-patch+json; plain JSON is read the same).
  // (A JSON Patch is refused before, in the request guards.)
  app.patch<IdRoute>('/sessions/:id', { schema: patchSchema, ...checked }, async (request) => {
    return sessions.patch(request.params.id, request.body);
  });

  app.delete<IdRoute>('/sessions/:id', { schema: deleteSchema, ...checked }, async (request) => {
    await sessions.delete(request.params.id);
    return { status: 'deleted' as const, id: request.params.id };
  });
}

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
import type { FastifyInstance } from 'fastify';
import { parsePageQuery } from '../domain/page.js';
import type { SessionService } from '../service/sessions.js';
import {
  DeletedSchema,
  ErrorSchema,
  type IdParams,
  IdParamsSchema,
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

const oneSchema = {
  params: IdParamsSchema,
  response: { 200: SessionSchema, 404: ErrorSchema },
};

const deleteSchema = {
  params: IdParamsSchema,
  response: { 200: DeletedSchema, 404: ErrorSchema },
};

/** `pageMaxBytes`: PAGE_MAX_KB, what one page's sessions may add up to. */
export function sessionRoutes(
  app: FastifyInstance,
  sessions: SessionService,
  pageMaxBytes: number,
): void {
  app.post(
    '/sessions',
    { schema: { response: { 201: SessionSchema } } },
    async (request, reply) => {
      return reply.code(201).send(await sessions.create(request.body));
    },
  );

  const listing = new Listing(sessions);
  app.get<ListRoute>(
    '/sessions',
    { schema: { response: { 200: SessionPageSchema } } },
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
        .send(`{"sessions":[${page.items.join(',')}],"count":${page.items.length},"next":${next}}`);
    },
  );

  app.get<IdRoute>('/sessions/:id', { schema: oneSchema }, async (request) => {
    return sessions.get(request.params.id);
  });

  app.put<IdRoute>('/sessions/:id', { schema: oneSchema }, async (request) => {
    return sessions.update(request.params.id, request.body);
  });

  // JSON Merge Patch (application/merge-patch+json; plain JSON is read the same).
  // (A JSON Patch is refused before, in the request guards.)
  app.patch<IdRoute>('/sessions/:id', { schema: oneSchema }, async (request) => {
    return sessions.patch(request.params.id, request.body);
  });

  app.delete<IdRoute>('/sessions/:id', { schema: deleteSchema }, async (request) => {
    await sessions.delete(request.params.id);
    return { status: 'deleted' as const, id: request.params.id };
  });
}

/** /sessions: create, list, read, update and delete sessions. */
import type { FastifyInstance } from 'fastify';
import { sessionNotFound, validateSessionInput } from '../domain/session.js';
import type { ServiceContext } from './context.js';
import { errorSchema, idParamsSchema, sessionSchema } from './schemas.js';

interface IdRoute {
  Params: { id: string };
}

const listSchema = {
  response: {
    200: {
      type: 'object',
      properties: { sessions: { type: 'array', items: sessionSchema }, count: { type: 'integer' } },
    },
  },
} as const;

const oneSchema = {
  params: idParamsSchema,
  response: { 200: sessionSchema, 404: errorSchema },
} as const;

const deleteSchema = {
  params: idParamsSchema,
  response: {
    200: {
      type: 'object',
      properties: { status: { type: 'string' }, id: { type: 'string' } },
    },
    404: errorSchema,
  },
} as const;

export function sessionRoutes(app: FastifyInstance, { store }: ServiceContext): void {
  app.post(
    '/sessions',
    { schema: { response: { 201: sessionSchema } } },
    async (request, reply) => {
      const session = await store.createSession(validateSessionInput(request.body));
      return reply.code(201).send(session);
    },
  );

  // The listing is serialised once per change, not once per request: with
  // thousands of sessions, serialising is what a listing costs.
  let listing: { version: number; body: string } | null = null;
  app.get('/sessions', { schema: listSchema }, async (_request, reply) => {
    const version = store.sessionsVersion();
    let body = listing !== null && listing.version === version ? listing.body : null;
    if (body === null) {
      const sessions = await store.listSessions();
      body = JSON.stringify({ sessions, count: sessions.length });
      // Cache only what is still current once the (possibly async) read is done.
      if (version !== null && store.sessionsVersion() === version) listing = { version, body };
    }
    return reply.type('application/json; charset=utf-8').send(body);
  });

  app.get<IdRoute>('/sessions/:id', { schema: oneSchema }, async (request) => {
    const session = await store.getSession(request.params.id);
    if (session === undefined) throw sessionNotFound(request.params.id);
    return session;
  });

  app.put<IdRoute>('/sessions/:id', { schema: oneSchema }, async (request) => {
    const input = validateSessionInput(request.body);
    return store.updateSession(request.params.id, input);
  });

  app.delete<IdRoute>('/sessions/:id', { schema: deleteSchema }, async (request) => {
    await store.deleteSession(request.params.id);
    return { status: 'deleted', id: request.params.id };
  });
}

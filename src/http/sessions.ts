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
    if (listing?.version !== version) {
      const sessions = store.listSessions();
      listing = { version, body: JSON.stringify({ sessions, count: sessions.length }) };
    }
    return reply.type('application/json; charset=utf-8').send(listing.body);
  });

  app.get<IdRoute>('/sessions/:id', { schema: oneSchema }, async (request) => {
    const session = store.getSession(request.params.id);
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

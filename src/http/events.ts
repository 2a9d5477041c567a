/** GET /events?limit=N: the tail of the event log, oldest first, and how many there are. */
import type { FastifyInstance } from 'fastify';
import { parseEventLimit } from '../domain/event.js';
import type { ServiceContext } from './context.js';

interface EventsRoute {
  Querystring: { limit?: unknown };
}

export function eventRoutes(app: FastifyInstance, { store }: ServiceContext): void {
  app.get<EventsRoute>('/events', async (request) => {
    const limit = parseEventLimit(request.query.limit);
    const { events, count } = await store.eventTail(limit);
    return { events, count };
  });
}

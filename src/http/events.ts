/** GET /events?limit=N: the tail of the event log, oldest first, and how many there are. */
import type { FastifyInstance } from 'fastify';
import { parseEventLimit } from '../domain/event.js';
import type { StatefulService } from '../service/service.js';

interface EventsRoute {
  Querystring: { limit?: unknown };
}

export function eventRoutes(app: FastifyInstance, service: StatefulService): void {
  app.get<EventsRoute>('/events', async (request) => {
    const limit = parseEventLimit(request.query.limit);
    const { events, count } = await service.eventTail(limit);
    return { events, count };
  });
}

/**
 * GET /events?limit=N: the tail of the event log, oldest first, and how many
 * there are (the original's answer). With `before=P`, the `limit` events
 * before position P, to page back through history: the answer adds `next`,
 * the `before` of the page older still (null at the oldest event kept). Both
 * carry a `Link: <…>; rel="next"` header while older events exist. Once the
 * retention policy dropped events, answers add `oldest` (the first position
 * kept), and a `before` at or below it gets 410 `events_dropped`.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { EventsDroppedError, InvalidInputError } from '../domain/errors.js';
import {
  MAX_EVENT_LIMIT,
  MAX_POSITION,
  parseEventLimit,
  parsePosition,
  type ServiceEvent,
  serializeEvent,
} from '../domain/event.js';
import type { StatefulService } from '../service/service.js';
import { checkedByTheDomain, refusal, routeErrors } from './answers.js';
import { EventPageSchema, named } from './schemas.js';

/** `?limit=`, here and on the event stream. */
export const EventLimitSchema = Type.Integer({
  minimum: 1,
  maximum: MAX_EVENT_LIMIT,
  description: 'how many events, 50 by default',
  examples: [50],
});

const eventsSchema = {
  operationId: 'listEvents',
  tags: ['events'],
  summary: 'The last events, or a page further back',
  querystring: Type.Object({
    limit: Type.Optional(EventLimitSchema),
    before: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: MAX_POSITION,
        description:
          "a page's next, an event's position (a larger one than the log holds: the last page)",
      }),
    ),
  }),
  response: {
    200: {
      ...named(EventPageSchema),
      description: 'the events, oldest first',
      headers: {
        Link: Type.String({
          description: 'while older events exist: `</events?limit=…&before=…>; rel="next"`',
          examples: ['</events?limit=50&before=151>; rel="next"'],
        }),
      },
    },
    ...routeErrors(
      'read',
      refusal(InvalidInputError, 'a bad limit or before'),
      refusal(
        EventsDroppedError,
        'every event before `before` was dropped by the retention policy',
      ),
    ),
  },
};

interface EventsRoute {
  Querystring: { limit?: unknown; before?: unknown };
}

function linkOlder(reply: FastifyReply, limit: number, before: number, oldest: number): void {
  if (before > oldest) {
    reply.header('link', `</events?limit=${limit}&before=${before}>; rel="next"`);
  }
}

/**
 * The answer, written here rather than by the response schema's serialiser
 * (which still describes it, for OpenAPI): each event is its line in the log,
 * made once when it was logged (serializeEvent keeps it).
 */
function answer(
  reply: FastifyReply,
  page: { events: readonly ServiceEvent[]; count: number; oldest: number },
  next?: number | null,
): FastifyReply {
  // Nothing dropped: the original's answer, byte for byte.
  const oldest = page.oldest > 1 ? `,"oldest":${page.oldest}` : '';
  const tail = next === undefined ? '' : `,"next":${next}`;
  const events = page.events.map(serializeEvent).join(',');
  return reply
    .type('application/json; charset=utf-8')
    .send(`{"events":[${events}],"count":${page.count}${oldest}${tail}}`);
}

export function eventRoutes(app: FastifyInstance, service: StatefulService): void {
  app.get<EventsRoute>(
    '/events',
    { schema: eventsSchema, validatorCompiler: checkedByTheDomain },
    async (request, reply) => {
      const limit = parseEventLimit(request.query.limit);
      const before = parsePosition(request.query.before, '"before"');
      if (before === undefined) {
        const tail = await service.eventTail(limit);
        linkOlder(reply, limit, tail.count - tail.events.length + 1, tail.oldest);
        return answer(reply, tail);
      }
      let from = Math.max(1, before - limit);
      let page = await service.eventRange(from, before - 1);
      if (from > page.count + 1) {
        // A position beyond the log (it was replaced): the last page instead.
        from = Math.max(1, page.count + 1 - limit);
        page = await service.eventRange(from, page.count);
      }
      if (page.oldest > 1 && before <= page.oldest && before <= page.count + 1) {
        throw new EventsDroppedError(`Every event before position ${before}`, page.oldest);
      }
      from = Math.max(from, page.oldest);
      linkOlder(reply, limit, from, page.oldest);
      return answer(reply, page, from > page.oldest ? from : null);
    },
  );
}

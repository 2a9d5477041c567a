/**
 * GET /events/stream: the event log as Server-Sent Events, for the dashboard
 * and for `curl -N`. A new client first gets the last `limit` events (50 by
 * default), then every event as it reaches the log. Each message's `id` is
 * the event's line number in the log; a client that reconnects with
 * `Last-Event-ID` (browsers do it by themselves) or `?since=N` gets only what
 * came after, as far as the events kept in memory reach. A position beyond
 * the end of the log (the log was replaced, say) starts the client at the end.
 *
 * What a stream may cost is bounded: at most MAX_STREAMS are open (more get a
 * 503, so streams never take the connections requests need); a backlog is
 * sent a slice at a time, waiting for the client to read each, so one client
 * never holds the event loop long; the work stops when the client goes away;
 * a client that stops reading live events is dropped rather than buffered
 * without bound (it reconnects and catches up). Comments keep idle
 * connections open; a stopping service ends every stream. With `?state=1`
 * the stream carries the service's state as well (state-push.ts).
 */
import type { ServerResponse } from 'node:http';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { InvalidInputError, StreamLimitError } from '../domain/errors.js';
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
import { EventLimitSchema } from './events.js';
import { stateAnswer } from './state.js';
import { StatePush } from './state-push.js';

/** Bytes a client may leave unread of live events before it is dropped. */
const MAX_UNREAD_BYTES = 1024 * 1024;
/** Bytes of backlog written at a time, before waiting for the client and letting others run. */
const BACKLOG_SLICE_BYTES = 32 * 1024;
/** What EventSource waits before it reconnects. */
const RETRY_MS = 1000;

interface StreamRoute {
  Querystring: { limit?: unknown; since?: unknown; state?: unknown };
}

/** `?state=1`: the stream carries the service's state too (see state-push.ts). */
function wantsState(raw: unknown): boolean {
  if (raw === undefined || raw === '0') return false;
  if (raw === '1') return true;
  throw new InvalidInputError('"state" must be 1 (push the state too) or 0.');
}

const streamSchema = {
  operationId: 'streamEvents',
  tags: ['events'],
  summary: 'Server-Sent Events: the recent events, then each new one',
  description:
    "Each message's id is the event's position; reconnect with Last-Event-ID (or since=) " +
    'to resume after it.',
  querystring: Type.Object({
    limit: Type.Optional(EventLimitSchema),
    since: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: MAX_POSITION,
        description: "only the events after this position (an event's id)",
      }),
    ),
    state: Type.Optional(
      Type.Unsafe<'0' | '1'>({
        type: 'string',
        enum: ['0', '1'],
        description:
          '1: also a `state` message (the /state answer) on connect, every 2 s and after events',
      }),
    ),
  }),
  headers: Type.Object({
    'last-event-id': Type.Optional(
      Type.String({ pattern: '^[0-9]{1,15}$', description: "an event's position, as `since`" }),
    ),
  }),
  response: {
    200: {
      description: 'the event stream',
      content: {
        'text/event-stream': {
          schema: Type.String({
            examples: [
              'id: 7\ndata: {"ts":1767348000.1,"time":"2026-01-02T10:00:00Z","event":"session_created","container":"web-1"}\n\n',
            ],
          }),
        },
      },
    },
    ...routeErrors(
      'read',
      refusal(InvalidInputError, 'a bad limit, since, state or Last-Event-ID'),
      refusal(StreamLimitError, 'MAX_STREAMS streams are open; retry after Retry-After seconds'),
    ),
  },
};

/** The query and the Last-Event-ID are checked here, with the domain's messages. */
const checked = { validatorCompiler: checkedByTheDomain };

export interface EventStreamOptions {
  heartbeatMs: number;
  /** MAX_STREAMS. */
  maxStreams: number;
}

interface Positioned {
  event: ServiceEvent;
  position: number;
}

function message({ event, position }: Positioned): string {
  return `id: ${position}\ndata: ${serializeEvent(event)}\n\n`;
}

/** Resolves once the client has read what was written, or is gone. */
function drained(response: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      response.off('drain', done);
      response.off('close', done);
      resolve();
    };
    response.on('drain', done);
    response.on('close', done);
  });
}

const STREAM_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-store',
  'x-accel-buffering': 'no',
};

export function eventStreamRoutes(
  app: FastifyInstance,
  service: StatefulService,
  options: EventStreamOptions,
): void {
  const open = new Set<ServerResponse>();
  const statePush = new StatePush(
    () => stateAnswer(service),
    (error) => app.log.warn({ err: error }, 'the state could not be read for event streams'),
  );
  const stopNudging = service.onEvent(() => statePush.changed());
  app.addHook('preClose', (done) => {
    stopNudging();
    statePush.stop();
    for (const response of open) response.end();
    open.clear();
    done();
  });

  app.get<StreamRoute>('/events/stream', { schema: streamSchema, ...checked }, (request, reply) => {
    // Validate before taking the socket over, so bad input gets a JSON answer.
    const limit = parseEventLimit(request.query.limit);
    const header = request.headers['last-event-id'];
    const since =
      parsePosition(request.query.since, '"since"') ??
      parsePosition(Array.isArray(header) ? header[0] : header, 'Last-Event-ID');
    const withState = wantsState(request.query.state);
    if (request.method === 'HEAD') return reply.headers(STREAM_HEADERS).code(200).send();
    if (open.size >= options.maxStreams) {
      reply.header('retry-after', '5');
      throw new StreamLimitError(
        `${open.size} event streams are open, the most this service allows (MAX_STREAMS); ` +
          'retry in a few seconds.',
      );
    }

    reply.hijack();
    const response = reply.raw;
    response.writeHead(200, STREAM_HEADERS);
    open.add(response);
    const gone = () => response.destroyed || response.writableEnded;

    // Subscribe first and hold what arrives while the backlog is read and
    // sent: nothing falls between them, nothing is sent twice.
    let held: Positioned[] | null = [];
    let lastSent = since ?? 0;
    const unsubscribe = service.onEvent((event, position) => {
      if (held !== null) {
        held.push({ event, position });
        // A client this far behind catches up faster by reconnecting.
        if (held.length > MAX_EVENT_LIMIT) response.destroy();
        return;
      }
      if (position <= lastSent || gone()) return;
      if (response.writableLength > MAX_UNREAD_BYTES) {
        response.destroy(); // it reconnects with Last-Event-ID and gets a backlog
        return;
      }
      lastSent = position;
      response.write(message({ event, position }));
    });
    const heartbeat = setInterval(() => {
      if (held === null && response.writableLength === 0) response.write(': keep-alive\n\n');
    }, options.heartbeatMs);
    response.on('close', () => {
      statePush.remove(response);
      unsubscribe();
      clearInterval(heartbeat);
      open.delete(response);
    });

    /** Writes events in slices, waiting for the client to read each. */
    const sendInSlices = async (events: Positioned[]): Promise<void> => {
      let slice = '';
      for (const entry of events) {
        if (entry.position <= lastSent) continue;
        lastSent = entry.position;
        slice += message(entry);
        if (slice.length >= BACKLOG_SLICE_BYTES) {
          if (gone()) return;
          if (!response.write(slice)) await drained(response);
          slice = '';
          await yieldToLoop();
        }
      }
      if (slice !== '' && !gone()) response.write(slice);
    };

    void (async () => {
      response.write(`retry: ${RETRY_MS}\n\n`);
      if (withState) statePush.add(response);
      try {
        // A new client wants the last `limit`; a resuming one up to the most a
        // backlog holds (a database reads no more than it must).
        const { events: recent, count } = await service.eventTail(
          since === undefined ? limit : MAX_EVENT_LIMIT,
        );
        const first = count - recent.length + 1;
        if (since === undefined) lastSent = count - Math.min(limit, recent.length);
        else if (since > count) lastSent = count; // from the end: see the header comment
        await sendInSlices(recent.map((event, index) => ({ event, position: first + index })));
        // What arrived meanwhile, until nothing is held (more may arrive while we wait).
        while (held !== null && held.length > 0 && !gone()) {
          const waiting: Positioned[] = held;
          held = [];
          await sendInSlices(waiting);
        }
      } catch (error) {
        // The backlog could not be read (the store is away): the client reconnects and tries again.
        request.log.warn({ err: error }, 'an event stream failed to send its backlog; closed it');
        response.destroy();
      }
      held = null;
    })();
  });
}

/**
 * GET /events/stream: the event log as Server-Sent Events, for the dashboard
 * and for `curl -N`. A new client first gets the last `limit` events (50 by
 * default), then every event as it reaches the log. Each message's `id` is
 * the event's line number in the log; a client that reconnects with
 * `Last-Event-ID` (browsers do it by themselves) or `?since=N` gets only what
 * came after, as far as the events kept in memory reach. Comments keep idle
 * connections open; a client that stops reading is dropped rather than
 * buffered without bound; a stopping service ends every stream.
 */
import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { InvalidInputError } from '../domain/errors.js';
import { MAX_EVENT_LIMIT, parseEventLimit, type ServiceEvent } from '../domain/event.js';
import type { ServiceContext } from './context.js';

/** Bytes a slow client may leave unread before it is dropped. */
const MAX_UNREAD_BYTES = 1024 * 1024;
/** What EventSource waits before it reconnects. */
const RETRY_MS = 1000;

interface StreamRoute {
  Querystring: { limit?: unknown; since?: unknown };
}

function parsePosition(raw: unknown, what: string): number | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || !/^\d{1,15}$/.test(raw)) {
    throw new InvalidInputError(`${what} must be a non-negative integer (an event's id).`);
  }
  return Number(raw);
}

function message(event: ServiceEvent, position: number): string {
  return `id: ${position}\ndata: ${JSON.stringify(event)}\n\n`;
}

export function eventStreamRoutes(
  app: FastifyInstance,
  { store }: ServiceContext,
  options: { heartbeatMs: number },
): void {
  const open = new Set<ServerResponse>();
  app.addHook('preClose', (done) => {
    for (const response of open) response.end();
    open.clear();
    done();
  });

  app.get<StreamRoute>('/events/stream', (request, reply) => {
    // Validate before taking the socket over, so bad input gets a JSON 400.
    const limit = parseEventLimit(request.query.limit);
    const header = request.headers['last-event-id'];
    const since =
      parsePosition(request.query.since, '"since"') ??
      parsePosition(Array.isArray(header) ? header[0] : header, 'Last-Event-ID');

    reply.hijack();
    const response = reply.raw;
    response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
    });
    open.add(response);
    const send = (text: string) => {
      if (response.writableLength > MAX_UNREAD_BYTES) {
        response.destroy();
        return;
      }
      response.write(text);
    };

    // Subscribe first and hold what arrives while the backlog is read (the
    // read may be async): nothing falls between them, nothing is sent twice.
    let held: { event: ServiceEvent; position: number }[] | null = [];
    let lastSent = since ?? 0;
    const deliver = (event: ServiceEvent, position: number) => {
      if (position <= lastSent) return;
      lastSent = position;
      send(message(event, position));
    };
    const unsubscribe = store.onEvent((event, position) => {
      if (held !== null) held.push({ event, position });
      else deliver(event, position);
    });
    send(`retry: ${RETRY_MS}\n\n`);
    void (async () => {
      try {
        // A new client wants the last `limit`; a resuming one up to the most a
        // backlog holds (a database reads no more than it must).
        const { events: recent, count } = await store.eventTail(
          since === undefined ? limit : MAX_EVENT_LIMIT,
        );
        const first = count - recent.length + 1;
        const from = since === undefined ? recent.length - limit : since + 1 - first;
        if (since === undefined) lastSent = first - 1 + Math.max(0, from);
        recent.forEach((event, index) => {
          if (index >= from) deliver(event, first + index);
        });
      } catch {
        response.destroy(); // the client reconnects and tries again
      }
      for (const { event, position } of held ?? []) deliver(event, position);
      held = null;
    })();
    const heartbeat = setInterval(() => send(': keep-alive\n\n'), options.heartbeatMs);
    response.on('close', () => {
      unsubscribe();
      clearInterval(heartbeat);
      open.delete(response);
    });
  });
}

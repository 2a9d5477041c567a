/**
 * GET /events/stream: the event log as Server-Sent Events, for the dashboard
 * and for `curl -N`. A new client first gets the last `limit` events (50 by
 * default), then every event as it reaches the log. Each message's `id` is
 * the event's line number in the log; a client that reconnects with
 * `Last-Event-ID` (browsers do it by themselves) or `?since=N` gets only what
 * came after, as far as the events kept in memory reach; when the retention
 * policy dropped some of them, it gets 410 `events_dropped` with the oldest
 * position kept instead. A position beyond
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
import { EventsDroppedError, InvalidInputError, StreamLimitError } from '../domain/errors.js';
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
      refusal(EventsDroppedError, 'the retention policy dropped events after since/Last-Event-ID'),
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

  app.get<StreamRoute>(
    '/events/stream',
    { schema: streamSchema, ...checked },
    async (request, reply) => {
      // Validate before taking the socket over, so bad input gets a JSON answer.
      const limit = parseEventLimit(request.query.limit);
      const header = request.headers['last-event-id'];
      const since =
        parsePosition(request.query.since, '"since"') ??
        parsePosition(Array.isArray(header) ? header[0] : header, 'Last-Event-ID');
      const withState = wantsState(request.query.state);
      if (since !== undefined) {
        // Events after `since` that retention dropped: said, never skipped silently.
        const { oldest } = await service.eventTail(0);
        if (oldest > 1 && since < oldest - 1) {
          throw new EventsDroppedError(`The event after position ${since}`, oldest);
        }
      }
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
      const stream = new OneStream(response, since ?? 0);
      const unsubscribe = service.onEvent((event, position) => stream.live({ event, position }));
      const heartbeat = setInterval(() => stream.keepAlive(), options.heartbeatMs);
      response.on('close', () => {
        statePush.remove(response);
        unsubscribe();
        clearInterval(heartbeat);
        open.delete(response);
      });
      response.write(`retry: ${RETRY_MS}\n\n`);
      if (withState) statePush.add(response);
      void stream.sendBacklog(service, { limit, since }).catch((error: unknown) => {
        // The backlog could not be read (the store is away): the client reconnects and tries again.
        request.log.warn({ err: error }, 'an event stream failed to send its backlog; closed it');
        response.destroy();
      });
    },
  );
}

/**
 * One client's stream. It subscribes before it reads the backlog and holds
 * what arrives meanwhile, so nothing falls between the backlog and the live
 * events and nothing is sent twice (each position once, in order).
 */
class OneStream {
  private readonly response: ServerResponse;
  /** Live events that arrived while the backlog is sent; null once it is. */
  private held: Positioned[] | null = [];
  private lastSent: number;

  constructor(response: ServerResponse, since: number) {
    this.response = response;
    this.lastSent = since;
  }

  private gone(): boolean {
    return this.response.destroyed || this.response.writableEnded;
  }

  /** A live event: held while the backlog is sent, else sent unless the client is too far behind. */
  live(entry: Positioned): void {
    const { response } = this;
    if (this.held !== null) {
      this.held.push(entry);
      // A client this far behind catches up faster by reconnecting.
      if (this.held.length > MAX_EVENT_LIMIT) response.destroy();
      return;
    }
    if (entry.position <= this.lastSent || this.gone()) return;
    if (response.writableLength > MAX_UNREAD_BYTES) {
      response.destroy(); // it reconnects with Last-Event-ID and gets a backlog
      return;
    }
    this.lastSent = entry.position;
    response.write(message(entry));
  }

  keepAlive(): void {
    if (this.held === null && this.response.writableLength === 0) {
      this.response.write(': keep-alive\n\n');
    }
  }

  /** The backlog, then what arrived meanwhile; from then on live events go straight out. */
  async sendBacklog(
    service: StatefulService,
    asked: { limit: number; since: number | undefined },
  ): Promise<void> {
    const { limit, since } = asked;
    try {
      // A new client wants the last `limit`; a resuming one up to the most a
      // backlog holds (a database reads no more than it must).
      const {
        events: recent,
        count,
        oldest,
      } = await service.eventTail(since === undefined ? limit : MAX_EVENT_LIMIT);
      if (since !== undefined && oldest > 1 && since < oldest - 1) {
        // Dropped since the request was checked: the client reconnects and is told (410).
        this.response.destroy();
        return;
      }
      const first = count - recent.length + 1;
      if (since === undefined) this.lastSent = count - Math.min(limit, recent.length);
      else if (since > count) this.lastSent = count; // from the end: see the header comment
      await this.sendInSlices(recent.map((event, index) => ({ event, position: first + index })));
      // What arrived meanwhile, until nothing is held (more may arrive while we wait).
      while (this.held !== null && this.held.length > 0 && !this.gone()) {
        const waiting: Positioned[] = this.held;
        this.held = [];
        await this.sendInSlices(waiting);
      }
    } finally {
      this.held = null;
    }
  }

  /** Writes events in slices, waiting for the client to read each. */
  private async sendInSlices(events: Positioned[]): Promise<void> {
    const { response } = this;
    let slice = '';
    for (const entry of events) {
      if (entry.position <= this.lastSent) continue;
      this.lastSent = entry.position;
      slice += message(entry);
      if (slice.length >= BACKLOG_SLICE_BYTES) {
        if (this.gone()) return;
        if (!response.write(slice)) await drained(response);
        slice = '';
        await yieldToLoop();
      }
    }
    if (slice !== '' && !this.gone()) response.write(slice);
  }
}
